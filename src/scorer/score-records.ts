/**
 * The one scoring path from telemetry records to per-record results. `POST /inference` and the
 * live scorer call it; dataset jobs and the library call the same `scoreBatch` underneath on
 * matrices they already hold.
 *
 * Stages: records (objects keyed by metric name) → a row-major matrix in the model's metric order
 * (a missing, null or non-finite value becomes NaN, so the native core marks the record invalid)
 * → `scoreBatch` → results with the top metric's name.
 */
import { allocateScoreOutput, scoreBatch, type PcaModel, type ScoreOutput } from '../core/pca.js';
import type { Matrix } from '../core/types.js';

/** A record's metric values by name; a value missing, null or not finite makes it invalid. */
export type MetricValues = Readonly<Partial<Record<string, number | null | undefined>>>;

/** Scores of a batch of records: the native output plus the counts and the metric names. */
export interface ScoredRecords {
  /** Number of records. */
  rows: number;
  /** The model's metric names, in order: `topMetric[i]` indexes this list. */
  metrics: readonly string[];
  /** Per record: fused score, SPE, T², z_max (NaN for invalid records). */
  fused: Float64Array;
  spe: Float64Array;
  t2: Float64Array;
  zMax: Float64Array;
  /** Per record: index into `metrics`, −1 for invalid records. */
  topMetric: Int32Array;
  /** Per record: 1 when valid and fused ≥ 1, else 0. */
  anomalous: Uint8Array;
  /** Records with a missing or non-finite value. */
  invalidCount: number;
  /** Records flagged anomalous. */
  anomalousCount: number;
}

/** The scores of one record; an invalid record's scores are null and its top metric is null. */
export interface RecordScore {
  fused: number | null;
  spe: number | null;
  t2: number | null;
  zMax: number | null;
  anomalous: boolean;
  /** Name of the metric explaining the score most, or null for an invalid record. */
  topMetric: string | null;
  valid: boolean;
}

/**
 * Writes records into a row-major matrix in the given metric order. A value that is missing,
 * null, not a number or not finite is stored as NaN.
 *
 * @param records - the records, shape (rows); each an object of metric values by name
 * @param metrics - metric names in model order (d of them)
 * @param data - optional buffer to write into, at least rows × d long (reused by hot loops)
 * @returns the matrix (rows × d); its data is `data` when given, trimmed to rows × d
 * @throws RangeError when `data` is too short
 * @example
 * recordsToMatrix([{ cpu_usage: 12.5, memory_usage: null }], ['cpu_usage', 'memory_usage']);
 * // { rows: 1, cols: 2, data: Float64Array [12.5, NaN] }
 */
export function recordsToMatrix(
  records: readonly MetricValues[],
  metrics: readonly string[],
  data?: Float64Array,
): Matrix {
  const rows = records.length;
  const cols = metrics.length;
  const n = rows * cols;
  if (data !== undefined && data.length < n) {
    throw new RangeError(`data must hold at least rows × cols = ${n} values; got ${data.length}`);
  }
  const out = data === undefined ? new Float64Array(n) : data.length === n ? data : data.subarray(0, n);
  for (let i = 0; i < rows; i++) {
    const rec = records[i]!;
    const base = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = rec[metrics[j]!];
      // NaN covers null, absent and non-numbers; non-finite numbers pass and are invalid natively.
      out[base + j] = typeof v === 'number' ? v : NaN;
    }
  }
  return { rows, cols, data: out };
}

/**
 * Scores records with a model: the one path of online scoring.
 *
 * @param model - a PCA model (`PcaModel.fromJSON(modelJson)`)
 * @param records - the records, shape (rows), each with the model's metrics by name
 * @returns per-record scores and the batch's counts; an empty list gives empty arrays
 * @example
 * const scored = scoreRecords(model, [{ cpu_usage: 40, memory_usage: 55, ... }]);
 * scored.fused[0]; // fused score of the first record
 */
export function scoreRecords(model: PcaModel, records: readonly MetricValues[]): ScoredRecords {
  // Convert to the model's column order
  const metrics = model.metrics;
  const matrix = recordsToMatrix(records, metrics);
  // Score natively (a zero-row batch needs no call)
  const out: ScoreOutput =
    matrix.rows === 0 ? allocateScoreOutput(0, metrics.length) : scoreBatch(model, matrix);
  // Count
  let anomalousCount = 0;
  for (let i = 0; i < out.rows; i++) anomalousCount += out.anomalous[i]!;
  return {
    rows: out.rows,
    metrics,
    fused: out.fused,
    spe: out.spe,
    t2: out.t2,
    zMax: out.zMax,
    topMetric: out.topMetric,
    anomalous: out.anomalous,
    invalidCount: out.invalidCount,
    anomalousCount,
  };
}

/**
 * The scores of record `i` of a scored batch, with nulls where the record is invalid.
 *
 * @param scored - the output of {@link scoreRecords}
 * @param i - the record's index, an integer in [0, scored.rows)
 * @throws RangeError when `i` is out of range
 */
export function recordScoreAt(scored: ScoredRecords, i: number): RecordScore {
  if (!Number.isInteger(i) || i < 0 || i >= scored.rows) {
    throw new RangeError(`i must be an integer in [0, ${scored.rows - 1}]; got ${i}`);
  }
  const top = scored.topMetric[i]!;
  // The native core marks an invalid record with top metric −1 and NaN scores.
  const valid = top >= 0 && Number.isFinite(scored.fused[i]!);
  if (!valid) {
    return { fused: null, spe: null, t2: null, zMax: null, anomalous: false, topMetric: null, valid: false };
  }
  return {
    fused: scored.fused[i]!,
    spe: finiteOrNull(scored.spe[i]!),
    t2: finiteOrNull(scored.t2[i]!),
    zMax: finiteOrNull(scored.zMax[i]!),
    anomalous: scored.anomalous[i] === 1,
    topMetric: scored.metrics[top] ?? null,
    valid: true,
  };
}

/** Every record's scores, in order (see {@link recordScoreAt}). */
export function recordScores(scored: ScoredRecords): RecordScore[] {
  const out = new Array<RecordScore>(scored.rows);
  for (let i = 0; i < scored.rows; i++) out[i] = recordScoreAt(scored, i);
  return out;
}

// With one metric there is no residual space: the core may report SPE as 0 or NaN; JSON has no
// NaN, so a non-finite figure of a valid record is reported as null.
function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
