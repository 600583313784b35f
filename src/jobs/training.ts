/**
 * Training from PostgreSQL, transport-free: the CLI (`tads train`) and the API's background
 * runner (src/jobs/training-runner.ts) both call {@link trainModel}.
 *
 * Stages:
 * 1. Validate: the dataset exists (else NotFoundError, 404), is completed (else ConflictError,
 *    409) and has enough rows (else ValidationError, 400); the options are in range.
 * 2. Record: the model row is created `pending` under this process's lease (or an existing
 *    pending row is taken over), then marked `running`; a heartbeat renews the lease and records
 *    progress every few seconds.
 * 3. Moments pass: the dataset's eight metrics are streamed by COPY in `row_id` order, in chunks,
 *    into the native accumulator, and on the way into the first histograms of the exact robust
 *    statistics (src/core/stats/robust.ts).
 * 4. Robust passes: usually one more streamed pass makes median, MAD and the mean absolute
 *    deviation exact (optionally done by the database instead, see `secondPass`); odd data may
 *    take a few passes more, in bounded memory.
 * 5. Limits: eigendecomposition, k, SPE / T² / z limits (the native core).
 * 6. Artifact: `model.json` is written atomically — a temporary file in the same folder, fsync,
 *    rename, fsync of the folder — so a reader sees the old file or the new one, never a part.
 * 7. Complete: the model document, artifact path, row count and timings are recorded.
 *
 * Every pass reads inside one REPEATABLE READ transaction, so all passes see the same rows.
 * With `excludeLabelledAnomalies` every pass reads the same filtered rows. A failure at any stage
 * marks the model failed with its error and leaves no artifact.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PcaError, PcaAccumulator, type FitOptions, type PcaModel } from '../core/pca.js';
import { ConflictError, NotFoundError, TadsError, ValidationError } from '../core/errors.js';
import { RobustStatsBuilder } from '../core/stats/robust.js';
import { METRICS } from '../core/types.js';
import { getDataset } from '../db/datasets.js';
import { toDatabaseError } from '../db/errors.js';
import { HEARTBEAT_INTERVAL_MS } from '../db/leases.js';
import {
  createModel,
  markModelCompleted,
  markModelFailed,
  markModelRunning,
  updateModelProgress,
  type TrainingProgress,
  type TrainingTimings,
} from '../db/models.js';
import { beginSnapshot, endSnapshot, type Pool, type PoolClient } from '../db/pool.js';
import { filteredSecondPass } from '../db/robust-stats.js';
import { readMetricsChunks } from '../db/telemetry.js';

/** Rows per COPY chunk when the caller does not say. */
export const TRAINING_CHUNK_ROWS = 65_536;

/** File name of the artifact inside the output folder. */
export const ARTIFACT_FILE = 'model.json';

/** What {@link trainModel} needs. */
export interface TrainModelInput {
  /** An existing pending model row held by `owner` (the API's runner); default: a new row. */
  modelId?: string;
  datasetId: string;
  /** The model's name (default `pca_v1`). */
  name?: string;
  /** How k and the limits are set. */
  options?: Pick<FitOptions, 'variance' | 'nComponents' | 'alpha' | 'zLimit'>;
  /** Train on the rows not labelled anomalous only (default false: every row). */
  excludeLabelledAnomalies?: boolean;
  /** Folder to write `model.json` into (created when missing); default: no artifact. */
  outputDir?: string;
  /** This process's lease owner id. */
  owner: string;
  /** Rows per COPY chunk, in [1000, 1,000,000] (default {@link TRAINING_CHUNK_ROWS}). */
  chunkRows?: number;
  /** Memory cap of one robust selection, in values (see RobustStatsOptions). */
  collectCap?: number;
  /**
   * How the robust statistics' second pass runs: `stream` (default) reads the rows again by COPY
   * and selects in TypeScript; `database` has PostgreSQL count and sum and send back only the
   * ~1–3 % of values the selection keeps. Both are exact; at 1,000,000 rows on 2 cores the
   * streamed pass measured about 4 s against 5–7.5 s, so it is the default.
   */
  secondPass?: 'stream' | 'database';
  /** Called with progress at every chunk (cheap: keep it so). */
  onProgress?: (progress: TrainingProgress) => void;
  /** Stops the training between chunks (the model is then failed with the reason). */
  signal?: AbortSignal;
}

/** What {@link trainModel} returns. */
export interface TrainModelResult {
  model: PcaModel;
  modelId: string;
  /** Rows trained on. */
  rows: number;
  timings: TrainingTimings;
  /** Absolute path of the `model.json` written, when an output folder was given. */
  artifactPath?: string;
}

/** Seconds since `t0` (a `performance.now()` reading). */
function since(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** Peak resident set size of this process so far, in MB. */
function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** The training parameters as recorded on the model (snake_case, as on the wire). */
function wireParams(input: TrainModelInput): Record<string, unknown> {
  const o = input.options ?? {};
  return {
    dataset_id: input.datasetId,
    variance: o.variance ?? null,
    n_components: o.nComponents ?? null,
    alpha: o.alpha ?? null,
    z_limit: o.zLimit ?? null,
    exclude_labelled_anomalies: input.excludeLabelledAnomalies ?? false,
  };
}

// Validate the options up front (the native core would too, but only after the passes).
function checkOptions(input: Pick<TrainModelInput, 'options' | 'chunkRows'>): void {
  const o = input.options ?? {};
  const kMax = METRICS.length - 1;
  if (o.variance !== undefined && o.nComponents !== undefined) {
    throw new ValidationError('give either variance or n_components, not both', [
      { path: 'n_components', message: 'excludes variance' },
    ]);
  }
  if (
    o.nComponents !== undefined &&
    !(Number.isInteger(o.nComponents) && o.nComponents >= 1 && o.nComponents <= kMax)
  ) {
    throw new ValidationError(
      `n_components must be an integer in [1, ${kMax}]; got ${String(o.nComponents)}`,
      [{ path: 'n_components', message: `must be an integer in [1, ${kMax}]` }],
    );
  }
  if (o.variance !== undefined && !(o.variance > 0 && o.variance <= 1)) {
    throw new ValidationError(`variance must be a number in (0, 1]; got ${String(o.variance)}`, [
      { path: 'variance', message: 'must be in (0, 1]' },
    ]);
  }
  if (o.alpha !== undefined && !(o.alpha > 0 && o.alpha < 0.5)) {
    throw new ValidationError(`alpha must be a number in (0, 0.5); got ${String(o.alpha)}`, [
      { path: 'alpha', message: 'must be in (0, 0.5)' },
    ]);
  }
  if (o.zLimit !== undefined && !(o.zLimit > 0 && Number.isFinite(o.zLimit))) {
    throw new ValidationError(`z_limit must be a positive number; got ${String(o.zLimit)}`, [
      { path: 'z_limit', message: 'must be > 0' },
    ]);
  }
  const chunk = input.chunkRows;
  if (chunk !== undefined && !(Number.isInteger(chunk) && chunk >= 1000 && chunk <= 1_000_000)) {
    throw new RangeError(`chunkRows must be an integer in [1000, 1000000]; got ${String(chunk)}`);
  }
}

/** Rows needed for k components: n ≥ 2 and n > k + 1 (k = 1 at least when k is not given). */
function checkRowCount(
  n: number,
  nComponents: number | undefined,
  datasetId: string,
  filtered: boolean,
): void {
  const k = nComponents ?? 1;
  const need = Math.max(2, k + 2);
  if (n < need) {
    const what = filtered ? 'rows not labelled anomalous' : 'rows';
    throw new ValidationError(
      `dataset ${datasetId} has ${n} ${what}; training${nComponents ? ` ${k} components` : ''} needs at least ${need} (n ≥ 2 and n > k + 1)`,
      [{ path: 'dataset_id', message: `too few rows: ${n} < ${need}` }],
    );
  }
}

/**
 * Checks that a dataset can be trained on.
 *
 * @throws NotFoundError (unknown), ConflictError (not completed), ValidationError (too few rows)
 */
export async function checkTrainable(pool: Pool, datasetId: string, nComponents?: number): Promise<number> {
  const dataset = await getDataset(pool, datasetId);
  if (!dataset) throw new NotFoundError('dataset', datasetId);
  if (dataset.status !== 'completed') {
    throw new ConflictError(
      `dataset ${datasetId} is ${dataset.status}; only a completed dataset can be trained on`,
      {
        dataset_id: datasetId,
        status: dataset.status,
      },
    );
  }
  checkRowCount(dataset.rowCount, nComponents, datasetId, false);
  return dataset.rowCount;
}

/**
 * Writes `text` to `dir/model.json` atomically: a temporary file in the same folder, fsync,
 * rename over the target, fsync of the folder.
 *
 * @returns the artifact's absolute path
 */
export async function writeArtifactAtomically(dir: string, text: string): Promise<string> {
  const target = resolve(dir, ARTIFACT_FILE);
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${ARTIFACT_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // The rename is durable once the folder's entry is on disk.
  const dh = await open(dirname(target), 'r');
  try {
    await dh.sync();
  } catch {
    // Some file systems refuse fsync on a folder; the rename itself has happened.
  } finally {
    await dh.close();
  }
  return target;
}

/** Turns a failure of the maths into the domain error the API maps to 400. */
function toDomainError(err: unknown): unknown {
  if (err instanceof PcaError) {
    return new ValidationError(`the dataset cannot be trained on: ${err.message}`, [
      { path: 'dataset_id', message: err.code },
    ]);
  }
  if (err instanceof RangeError && /nComponents/.test(err.message)) {
    return new ValidationError(err.message.replace('options.nComponents', 'n_components'), [
      { path: 'n_components', message: err.message },
    ]);
  }
  return toDatabaseError(err);
}

/** The error text recorded on a failed model. */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Trains a PCA model on a dataset stored in PostgreSQL and records it.
 *
 * @param pool - the database
 * @param input - dataset, options, output folder, lease owner (see {@link TrainModelInput})
 * @returns the model, its id, the row count, the timings and the artifact path
 * @throws NotFoundError (unknown dataset), ConflictError (dataset not completed, or the lease was
 *   lost), ValidationError (too few rows, options out of range, data that cannot be fitted);
 *   in every case after the model row exists, it is marked failed with the error first
 * @example
 * const { modelId, timings } = await trainModel(pool, {
 *   datasetId, name: 'pca_v1', options: { variance: 0.95 }, outputDir: 'artifacts/pca/default', owner,
 * });
 */
export async function trainModel(pool: Pool, input: TrainModelInput): Promise<TrainModelResult> {
  if (input.modelId === undefined) {
    // Validate before recording, so a bad request leaves no model behind.
    checkOptions(input);
    const rowsTotal = await checkTrainable(pool, input.datasetId, input.options?.nComponents);
    const modelId = randomUUID();
    await createModel(pool, {
      id: modelId,
      name: input.name ?? 'pca_v1',
      datasetId: input.datasetId,
      params: wireParams(input),
      owner: input.owner,
    });
    return trainAndRecord(pool, input, modelId, rowsTotal);
  }
  // A model recorded by the caller: whatever goes wrong from here on fails it.
  const modelId = input.modelId;
  return trainAndRecord(pool, input, modelId, async () => {
    checkOptions(input);
    return checkTrainable(pool, input.datasetId, input.options?.nComponents);
  });
}

/**
 * Checks a training request without recording anything: options in range, dataset known,
 * completed and large enough.
 *
 * @returns the dataset's row count
 * @throws ValidationError, NotFoundError or ConflictError as {@link trainModel}
 */
export async function checkTrainingInput(
  pool: Pool,
  input: Pick<TrainModelInput, 'datasetId' | 'options' | 'chunkRows'>,
): Promise<number> {
  checkOptions(input);
  return checkTrainable(pool, input.datasetId, input.options?.nComponents);
}

async function trainAndRecord(
  pool: Pool,
  input: TrainModelInput,
  modelId: string,
  rows: number | (() => Promise<number>),
): Promise<TrainModelResult> {
  try {
    const rowsTotal = typeof rows === 'number' ? rows : await rows();
    return await trainRecorded(pool, input, modelId, rowsTotal);
  } catch (err) {
    const domain = toDomainError(err);
    await markModelFailed(pool, modelId, errorText(domain), input.owner).catch(() => {});
    throw domain;
  }
}

async function trainRecorded(
  pool: Pool,
  input: TrainModelInput,
  modelId: string,
  rowsTotal: number,
): Promise<TrainModelResult> {
  await markModelRunning(pool, modelId, input.owner);
  const progress: TrainingProgress = { phase: 'moments', rowsDone: 0, rowsTotal, pass: 1 };
  const report = () => input.onProgress?.({ ...progress });

  // Heartbeat: renews the lease with the latest progress; a lost lease stops the training.
  let lost: ConflictError | undefined;
  let beating: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beating = updateModelProgress(pool, modelId, input.owner, { ...progress }).catch((err: unknown) => {
      if (err instanceof ConflictError) lost ??= err;
    });
  }, HEARTBEAT_INTERVAL_MS).unref();
  const checkpoint = () => {
    if (lost !== undefined) throw lost;
    if (input.signal?.aborted) {
      const reason: unknown = input.signal.reason;
      throw reason instanceof Error
        ? reason
        : new TadsError('internal', `training stopped: ${String(reason)}`);
    }
  };

  let client: PoolClient | undefined;
  let artifactPath: string | undefined;
  try {
    const t0 = performance.now();
    // One snapshot for every pass: the passes see the same rows.
    client = await beginSnapshot(pool);
    const read = () =>
      readMetricsChunks(client!, input.datasetId, {
        chunkRows: input.chunkRows ?? TRAINING_CHUNK_ROWS,
        excludeAnomalies: input.excludeLabelledAnomalies ?? false,
      });

    // Moments pass (+ the robust statistics' first histograms)
    const acc = new PcaAccumulator(METRICS.length);
    const robust = new RobustStatsBuilder(
      METRICS.length,
      input.collectCap ? { collectCap: input.collectCap } : {},
    );
    report();
    for await (const chunk of read()) {
      checkpoint();
      acc.push(chunk.matrix);
      robust.observe(chunk.matrix);
      progress.rowsDone += chunk.matrix.rows;
      report();
    }
    const momentsS = since(t0);
    const n = acc.rows;
    checkRowCount(n, input.options?.nComponents, input.datasetId, input.excludeLabelledAnomalies ?? false);
    progress.rowsTotal = n;

    // Robust passes
    const t1 = performance.now();
    progress.phase = 'robust';
    // Second pass: streamed by default; `secondPass: 'database'` lets PostgreSQL count and sum and
    // send back only the values kept (measured slower on 2 cores: see docs/BENCHMARKS.md).
    const plan = input.secondPass === 'database' ? robust.filteredPassPlan() : undefined;
    if (plan) {
      progress.pass += 1;
      progress.rowsDone = 0;
      report();
      const results = await filteredSecondPass(
        client,
        input.datasetId,
        input.excludeLabelledAnomalies ?? false,
        plan,
      );
      robust.applyFilteredPass(results);
      progress.rowsDone = n;
      report();
      checkpoint();
    }
    // Odd data (or a bracket that missed) takes further streamed passes, in bounded memory.
    while (robust.needsPass()) {
      robust.beginPass();
      progress.pass += 1;
      progress.rowsDone = 0;
      report();
      for await (const chunk of read()) {
        checkpoint();
        robust.feed(chunk.matrix);
        progress.rowsDone += chunk.matrix.rows;
        report();
      }
      robust.endPass();
    }
    const stats = robust.result();
    const robustS = since(t1);
    await endSnapshot(client);
    client = undefined;

    // Limits
    const t2 = performance.now();
    progress.phase = 'limits';
    report();
    const model = acc.finish(
      stats,
      {
        variance: input.options?.variance,
        nComponents: input.options?.nComponents,
        alpha: input.options?.alpha,
        zLimit: input.options?.zLimit,
      },
      {
        metrics: [...METRICS],
        datasetId: input.datasetId,
        params: wireParams(input),
      },
    );
    const limitsS = since(t2);
    checkpoint();

    // Artifact
    const json = model.toJSON();
    let artifactWriteS = 0;
    if (input.outputDir !== undefined) {
      progress.phase = 'artifact';
      report();
      const t3 = performance.now();
      artifactPath = await writeArtifactAtomically(input.outputDir, `${JSON.stringify(json, null, 2)}\n`);
      artifactWriteS = since(t3);
    }

    // Complete
    const totalS = since(t0);
    const timings: TrainingTimings = {
      momentsS,
      robustS,
      limitsS,
      artifactWriteS,
      totalS,
      passes: robust.passes,
      rowsPerS: totalS > 0 ? n / totalS : 0,
      peakRssMb: peakRssMb(),
    };
    clearInterval(timer);
    await beating;
    checkpoint();
    await markModelCompleted(pool, modelId, input.owner, {
      model: json,
      artifactPath: artifactPath ?? null,
      nSamples: n,
      timings,
    });
    progress.phase = 'done';
    progress.rowsDone = n;
    report();
    return { model, modelId, rows: n, timings, ...(artifactPath ? { artifactPath } : {}) };
  } catch (err) {
    // A failed training leaves no artifact.
    if (artifactPath) await rm(artifactPath, { force: true });
    throw err;
  } finally {
    clearInterval(timer);
    // A client still held here stopped mid-pass, possibly mid-COPY: discard the connection
    // (the server rolls its transaction back) rather than return it to the pool.
    if (client) client.release(true);
  }
}
