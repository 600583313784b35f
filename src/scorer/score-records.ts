/**
 * Scoring records keyed by metric name, for `POST /inference` and `tads score --file`. The live
 * scorer and dataset jobs score matrices they already hold; all of them put their columns in
 * the model's order through the one column map (src/core/column-map.ts) and call the same
 * `scoreBatch`.
 *
 * Stages: records (objects keyed by metric name) → a row-major matrix in the model's metric order
 * (`recordsToMatrix`: a missing, null or non-finite value becomes NaN, so the native core marks
 * the record invalid) → `scoreBatch` → results with the top metric's name.
 */
import { recordsToMatrix, type MetricValues } from '../core/column-map.js';
import { allocateScoreOutput, scoreBatch, type PcaModel, type ScoreOutput } from '../core/pca.js';

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
