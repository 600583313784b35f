/**
 * `tads bench [N]`: raw native scoring throughput, in this process, with no database or server —
 * the successor of the original `telemetry-benchmark 1000000`. It fits the default-shaped model
 * (eight metrics, k by the 95 % variance rule) on generated normal telemetry, draws N random
 * records shaped like that telemetry (from the model's principal subspace plus residual noise), scores them with `scoreBatch` in batches into reused output
 * buffers, and prints records/s. Only the scoring calls are timed.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { generateTelemetry } from '../../core/generator.js';
import { allocateScoreOutput, fitPca, scoreBatch, type PcaModel } from '../../core/pca.js';
import { Random } from '../../core/random.js';
import { METRICS } from '../../core/types.js';
import type { CommandSpec } from '../args.js';
import { createProgress } from '../progress.js';

/** Records scored when N is not given (as the original benchmark was run). */
export const DEFAULT_BENCH_RECORDS = 1_000_000;
/** Most records one run may score. */
export const MAX_BENCH_RECORDS = 1_000_000_000;
/** Records drawn at most; larger runs cycle through them (generation is not what is measured). */
const MAX_POOL_RECORDS = 1_000_000;

/** What `tads bench` reports (`--json` prints it as it is). */
export interface BenchReport {
  records: number;
  batch_size: number;
  batches: number;
  /** Wall time of the scoring calls alone. */
  seconds: number;
  records_per_s: number;
  ns_per_record: number;
  anomalous: number;
  invalid: number;
  metrics: number;
  n_components: number;
  /** Rows of generated normal telemetry the model was fitted on. */
  training_rows: number;
  seed: number;
}

/** Options of {@link runScoringBench}. */
export interface ScoringBenchOptions {
  /** Records to score, an integer ≥ 1. */
  records: number;
  /** Records per `scoreBatch` call, an integer ≥ 1. */
  batchSize: number;
  /** Seed of the training telemetry and of the random records. */
  seed: number;
  /** Called after every batch with the records scored so far. */
  onProgress?: (done: number) => void;
  /** Stops at the next batch (the report then covers the records scored). */
  signal?: AbortSignal;
}

/** The model the benchmark scores with: fitted on one day of a 10-host normal-only fleet. */
function benchModel(seed: number): { model: PcaModel; rows: number } {
  const gen = generateTelemetry({ hostCount: 10, durationS: 86_400, intervalS: 60, seed, anomalyRate: 0 });
  const d = METRICS.length;
  const data = new Float64Array(gen.totalRows * d);
  let at = 0;
  for (const chunk of gen.chunks()) {
    data.set(chunk.metrics.subarray(0, chunk.length * d), at * d);
    at += chunk.length;
  }
  return { model: fitPca({ rows: at, cols: d, data }), rows: at };
}

/**
 * Runs the scoring benchmark. Between batches it yields to the event loop, so a signal can stop it.
 *
 * @param options - see {@link ScoringBenchOptions}
 * @returns the figures; `records` is less than asked when stopped by the signal
 * @throws RangeError for a record count or batch size that is not a positive integer
 * @example
 * const r = await runScoringBench({ records: 100_000, batchSize: 10_000, seed: 1 });
 * console.log(Math.round(r.records_per_s));
 */
export async function runScoringBench(options: ScoringBenchOptions): Promise<BenchReport> {
  // Validate
  const { records, batchSize, seed } = options;
  if (!Number.isSafeInteger(records) || records < 1)
    throw new RangeError(`records must be an integer ≥ 1; got ${records}`);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be an integer ≥ 1; got ${batchSize}`);

  // The model, and random records like its training data: a point of the principal subspace
  // (component i with the variance λᵢ) plus independent noise of the residual's size, mapped back
  // to metric units. The record mix, not only its count, resembles a fleet's.
  const { model, rows: trainingRows } = benchModel(seed);
  const json = model.toJSON();
  const d = model.nFeatures;
  const k = json.n_components;
  const residual = Math.max(1e-6, d - json.eigenvalues.reduce((a, b) => a + b, 0));
  const noise = Math.sqrt(residual / d);
  const poolRecords = Math.max(batchSize, Math.min(records, MAX_POOL_RECORDS));
  const pool = new Float64Array(poolRecords * d);
  const rng = new Random(seed, 1);
  const std = new Float64Array(d);
  for (let i = 0; i < poolRecords; i++) {
    for (let j = 0; j < d; j++) std[j] = noise * rng.nextNormal();
    for (let c = 0; c < k; c++) {
      const t = Math.sqrt(json.eigenvalues[c]!) * rng.nextNormal();
      const p = json.components[c]!;
      for (let j = 0; j < d; j++) std[j] = std[j]! + t * p[j]!;
    }
    for (let j = 0; j < d; j++) pool[i * d + j] = json.mean[j]! + json.scale[j]! * std[j]!;
  }

  // Score in batches into reused buffers; only the scoring calls are timed.
  const out = allocateScoreOutput(batchSize, d);
  let done = 0;
  let batches = 0;
  let anomalous = 0;
  let invalid = 0;
  let elapsedNs = 0n;
  let offset = 0;
  while (done < records && options.signal?.aborted !== true) {
    const n = Math.min(batchSize, records - done, poolRecords - offset);
    const data = pool.subarray(offset * d, (offset + n) * d);
    const t0 = process.hrtime.bigint();
    scoreBatch(model, { rows: n, cols: d, data }, { out });
    elapsedNs += process.hrtime.bigint() - t0;
    for (let i = 0; i < n; i++) anomalous += out.anomalous[i]!;
    invalid += out.invalidCount;
    done += n;
    batches += 1;
    offset = offset + n >= poolRecords ? 0 : offset + n;
    options.onProgress?.(done);
    await yieldToLoop();
  }

  const seconds = Number(elapsedNs) / 1e9;
  return {
    records: done,
    batch_size: batchSize,
    batches,
    seconds,
    records_per_s: seconds > 0 ? done / seconds : 0,
    ns_per_record: done > 0 ? Number(elapsedNs) / done : 0,
    anomalous,
    invalid,
    metrics: d,
    n_components: json.n_components,
    training_rows: trainingRows,
    seed,
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The report as plain lines. */
export function formatBenchReport(r: BenchReport): string {
  return [
    `model       ${r.metrics} metrics, ${r.n_components} components (fitted on ${fmt(r.training_rows)} generated rows)`,
    `records     ${fmt(r.records)}`,
    `batch size  ${fmt(r.batch_size)}`,
    `seconds     ${r.seconds.toFixed(3)}`,
    `records/s   ${fmt(Math.round(r.records_per_s))}`,
    `ns/record   ${r.ns_per_record.toFixed(1)}`,
    `anomalous   ${fmt(r.anomalous)}`,
    '',
  ].join('\n');
}

/** The `bench` command. */
export const benchCommand: CommandSpec = {
  name: 'bench',
  summary: 'Measure raw native scoring throughput in this process (no database, no server)',
  usage: '[N] [--batch-size <n>] [--seed <n>] [flags]',
  details: [
    'Fits the default-shaped model (8 metrics) on one day of generated normal telemetry, then scores',
    `N random records (default ${fmt(DEFAULT_BENCH_RECORDS)}) in batches and prints records/s.`,
    'Only the scoring calls are timed. For the full benchmark harness run `npm run bench`.',
    '',
    'Example: tads bench 1000000',
  ].join('\n'),
  positionals: [{ name: 'records', description: 'records to score', min: 1, max: MAX_BENCH_RECORDS }],
  flags: [
    {
      name: 'records',
      type: 'int',
      description: 'records to score (or the first argument)',
      min: 1,
      max: MAX_BENCH_RECORDS,
      defaultText: fmt(DEFAULT_BENCH_RECORDS),
    },
    {
      name: 'batch-size',
      type: 'int',
      description: 'records per native scoring call',
      min: 1,
      max: MAX_POOL_RECORDS,
      defaultText: '10000',
    },
    {
      name: 'seed',
      type: 'int',
      description: 'seed of the model’s data and the records',
      min: 0,
      defaultText: '1',
    },
  ],
  async run(flags, io) {
    const records = (flags.records as number | undefined) ?? DEFAULT_BENCH_RECORDS;
    const progress = createProgress({ stream: io.err, unit: 'records', quiet: io.json });
    let report: BenchReport;
    try {
      report = await runScoringBench({
        records,
        batchSize: (flags['batch-size'] as number | undefined) ?? 10_000,
        seed: (flags.seed as number | undefined) ?? 1,
        onProgress: (done) => progress.update(done, records),
        signal: io.signal,
      });
    } finally {
      progress.end();
    }
    io.out.write(io.json ? JSON.stringify(report) + '\n' : formatBenchReport(report));
    if (report.records < records) {
      io.err.write(`tads bench: interrupted after ${fmt(report.records)} of ${fmt(records)} records\n`);
      return 1;
    }
    return 0;
  },
};
