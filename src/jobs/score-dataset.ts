/**
 * Dataset scoring jobs (DESIGN.md "Jobs"), transport-free: submitting a job, and running one
 * under its lease from wherever its checkpoint says, to completion.
 *
 * A run goes through two phases:
 * 1. `scoring` — walk the dataset by row_id from the checkpoint in chunks: COPY the metrics out,
 *    score them natively, and in ONE transaction move the checkpoint and COPY the chunk's scores
 *    in. A crash loses at most the chunk in flight (its transaction rolls back), so a resumed
 *    run, starting at the checkpoint, stores exactly one score per row. The COPY out of chunk
 *    i + 1 is already under way while chunk i is written.
 * 2. `alerts` — replay the stored scores in row_id order, which is (ts, host_id) order (row ids
 *    are assigned time-major with hosts sorted, see src/core/generator.ts), through the detector
 *    with the job's policy (src/core/detector.ts), and store the resulting alerts in one
 *    transaction that first deletes whatever alerts the job had and also marks the job
 *    completed. The replay always starts from the first row, so it is idempotent: a run
 *    interrupted during it simply replays again.
 *
 * Every write is fenced by the lease (src/db/jobs.ts): a run that lost its lease (cancelled, or
 * taken over after it stalled) fails its next write and stops without touching anything else.
 */
import type { AlertRecord } from '../core/alerts.js';
import { columnMap, toModelColumns, type ColumnMap } from '../core/column-map.js';
import { Detector, type PolicyName } from '../core/detector.js';
import { ConflictError, DatabaseUnavailableError, NotFoundError } from '../core/errors.js';
import { allocateScoreOutput, PcaModel, scoreBatch } from '../core/pca.js';
import { METRICS } from '../core/types.js';
import { deleteAlertsForSource, saveAlertEvents, saveSuppressedCounts } from '../db/alerts.js';
import { getDataset } from '../db/datasets.js';
import {
  copyScoresIn,
  countScores,
  createJobScoresPartition,
  deleteScoresFrom,
  dropJobScoresPartition,
  readReplayBatches,
} from '../db/job-scores.js';
import {
  acquireJobLease,
  completeJob,
  createJob,
  failJob,
  heartbeatJob,
  markJobCancelled,
  saveCheckpoint,
  setJobPhase,
  type JobRecord,
} from '../db/jobs.js';
import { HEARTBEAT_INTERVAL_MS, LEASE_TTL_MS, LeaseLostError } from '../db/leases.js';
import { getModel } from '../db/models.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { readMetricsChunks } from '../db/telemetry.js';

/** What {@link submitScoreDatasetJob} needs. */
export interface SubmitScoreDatasetInput {
  modelId: string;
  datasetId: string;
  /** Rows per chunk (see src/contract/jobs.ts for the range). */
  chunkRows: number;
  /** Detector policy of the alert replay (default `default`). */
  policy?: PolicyName;
}

/**
 * Records a new scoring job for a completed model and a completed dataset. The job is `pending`
 * and unleased: a runner picks it up (the caller's, or any server's reaper).
 *
 * @throws NotFoundError when the model or the dataset does not exist; ConflictError when either
 *   is not completed
 */
export async function submitScoreDatasetJob(pool: Pool, input: SubmitScoreDatasetInput): Promise<JobRecord> {
  const model = await getModel(pool, input.modelId);
  if (!model) throw new NotFoundError('model', input.modelId);
  if (model.status !== 'completed') {
    throw new ConflictError(
      `model ${input.modelId} is ${model.status}; only a completed model can score a dataset`,
      {
        model_id: input.modelId,
        status: model.status,
      },
    );
  }
  const dataset = await getDataset(pool, input.datasetId);
  if (!dataset) throw new NotFoundError('dataset', input.datasetId);
  if (dataset.status !== 'completed') {
    throw new ConflictError(
      `dataset ${input.datasetId} is ${dataset.status}; only a completed dataset can be scored`,
      { dataset_id: input.datasetId, status: dataset.status },
    );
  }
  // The model's metrics must all be among the dataset's columns (checked again when it runs).
  if (model.model) columnMap(PcaModel.fromJSON(model.model).metrics, METRICS);
  return createJob(pool, {
    modelId: input.modelId,
    datasetId: input.datasetId,
    rowsTotal: dataset.rowCount,
    params: { chunkRows: input.chunkRows, policy: input.policy ?? 'default' },
  });
}

/**
 * Cancels a pending or running job and deletes its scores and alerts. Whoever runs it fails its
 * next fenced write and stops. (A server's JobRunner.cancel does the same and also stops its own
 * run first.)
 *
 * @returns the job as cancelled
 * @throws NotFoundError for an unknown id; ConflictError when the job is already over
 */
export async function cancelScoreDatasetJob(pool: Pool, jobId: string): Promise<JobRecord> {
  const job = await markJobCancelled(pool, jobId);
  await deleteJobOutputs(pool, jobId);
  return job;
}

/** Deletes a job's scores (its partition) and alerts; idempotent. */
export async function deleteJobOutputs(pool: Pool, jobId: string): Promise<void> {
  await dropJobScoresPartition(pool, jobId);
  await deleteAlertsForSource(pool, jobId);
}

/** A progress report of a running job. */
export interface JobProgressEvent {
  jobId: string;
  phase: 'scoring' | 'alerts' | 'done';
  rowsDone: number;
  rowsTotal: number;
}

/** Options of {@link runScoreDatasetJob}. */
export interface RunJobOptions {
  /** This server's lease owner id. */
  owner: string;
  /** Lease lifetime in ms (default {@link LEASE_TTL_MS}). */
  leaseTtlMs?: number;
  /** Heartbeat period in ms (default {@link HEARTBEAT_INTERVAL_MS}). */
  heartbeatMs?: number;
  /** Aborting stops the run at the next chunk boundary and leaves the job to be resumed. */
  signal?: AbortSignal;
  /** Called after every committed chunk and at each phase change. */
  onProgress?: (event: JobProgressEvent) => void;
}

/**
 * How a run ended: `completed`; `not_acquired` (another server holds it, or it is over);
 * `stopped` (aborted, lease kept — the caller releases or lets it expire); `lease_lost` (cancelled
 * or taken over meanwhile); `failed` (the job is marked failed with the error); `unavailable`
 * (the database went away; the job stays for a resume).
 */
export type RunOutcome = 'completed' | 'not_acquired' | 'stopped' | 'lease_lost' | 'failed' | 'unavailable';

/** Result of {@link runScoreDatasetJob}. */
export interface RunResult {
  outcome: RunOutcome;
  /** The job as the run last saw it (null when it was never acquired). */
  job: JobRecord | null;
  /** The error behind `failed` or `unavailable`. */
  error?: unknown;
  /** Alerts stored by a completed run. */
  alerts?: number;
}

class StopError extends Error {}

/**
 * Runs a scoring job to completion (or until it is stopped), from its checkpoint.
 *
 * @param pool - the database pool (a run uses up to three connections: COPY out, writes,
 *   heartbeat)
 * @param jobId - the job to run
 * @param options - owner, lease timing, abort signal, progress callback
 * @returns how the run ended; never throws for the job's own failures (they are recorded)
 */
export async function runScoreDatasetJob(
  pool: Pool,
  jobId: string,
  options: RunJobOptions,
): Promise<RunResult> {
  const { owner } = options;
  const ttl = options.leaseTtlMs ?? LEASE_TTL_MS;
  const beat = options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS;

  // Acquire
  let job: JobRecord | null;
  try {
    job = await acquireJobLease(pool, jobId, owner, ttl);
  } catch (err) {
    return { outcome: 'unavailable', job: null, error: err };
  }
  if (!job) return { outcome: 'not_acquired', job: null };

  // Heartbeat: renew the lease; losing it stops the run at its next check.
  let leaseLost = false;
  const timer = setInterval(() => {
    heartbeatJob(pool, jobId, owner, ttl).then(
      (ok) => {
        if (!ok) leaseLost = true;
      },
      () => {
        // A failed heartbeat is retried at the next tick; the lease may still hold.
      },
    );
  }, beat);
  timer.unref();
  const checkStop = () => {
    if (leaseLost) throw new LeaseLostError('jobs', jobId, owner);
    if (options.signal?.aborted) throw new StopError('stopped');
  };

  try {
    const current = job;
    const report = (phase: JobProgressEvent['phase'], rowsDone: number) =>
      options.onProgress?.({ jobId, phase, rowsDone, rowsTotal: current.rowsTotal });

    // Load what the job works with
    const modelRow = await getModel(pool, job.modelId);
    if (!modelRow || modelRow.status !== 'completed' || !modelRow.model) {
      throw new Error(`model ${job.modelId} is not a completed model any more`);
    }
    const model = PcaModel.fromJSON(modelRow.model);
    const dataset = await getDataset(pool, job.datasetId);
    if (!dataset || dataset.status !== 'completed') {
      throw new Error(`dataset ${job.datasetId} is not a completed dataset any more`);
    }
    const intervalS = intervalOf(dataset.params);

    if (job.phase === 'scoring') {
      await scorePhase(pool, job, owner, model, checkStop, (rows) => report('scoring', rows));
      checkStop();
      const stored = await countScores(pool, jobId);
      if (stored !== job.rowsTotal) {
        throw new Error(`job ${jobId} stored ${stored} scores for ${job.rowsTotal} rows`);
      }
      await setJobPhase(pool, jobId, owner, 'alerts');
      report('alerts', job.rowsTotal);
    }

    checkStop();
    const alerts = await alertPhase(pool, job, owner, model, intervalS, checkStop);
    report('done', job.rowsTotal);
    return { outcome: 'completed', job: alerts.job, alerts: alerts.count };
  } catch (err) {
    if (err instanceof StopError) return { outcome: 'stopped', job };
    if (err instanceof LeaseLostError || leaseLost) return { outcome: 'lease_lost', job };
    if (err instanceof DatabaseUnavailableError) return { outcome: 'unavailable', job, error: err };
    const message = err instanceof Error ? err.message : String(err);
    try {
      await failJob(pool, jobId, owner, message);
    } catch (failErr) {
      return { outcome: 'unavailable', job, error: failErr };
    }
    return { outcome: 'failed', job, error: err };
  } finally {
    clearInterval(timer);
  }
}

/** The sampling interval of a dataset from its stored (snake_case) parameters; default 60 s. */
function intervalOf(params: Record<string, unknown>): number {
  const v = params.interval_s ?? params.intervalS;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 60;
}

/** Phase 1: chunks from the checkpoint, each one's scores + checkpoint in one transaction. */
async function scorePhase(
  pool: Pool,
  job: JobRecord,
  owner: string,
  model: PcaModel,
  checkStop: () => void,
  onChunk: (rowsDone: number) => void,
): Promise<void> {
  const { id, params } = job;
  await createJobScoresPartition(pool, id);
  // Whatever lies past the checkpoint is rewritten (normally nothing: chunks commit atomically).
  await deleteScoresFrom(pool, id, job.nextRowId);
  if (job.nextRowId >= job.rowsTotal) return;

  const reader = await pool.connect();
  let broken = false;
  const out = allocateScoreOutput(params.chunkRows, model.nFeatures);
  // The stored columns, by name, onto the model's metrics (identity for the generator's eight).
  const columns = columnMap(model.metrics, METRICS);
  const ordered = columns.identity ? undefined : new Float64Array(params.chunkRows * model.nFeatures);
  let rowsDone = job.rowsDone;
  let last = performance.now();
  try {
    const chunks = readMetricsChunks(reader, job.datasetId, {
      fromRowId: job.nextRowId,
      toRowId: job.rowsTotal,
      chunkRows: params.chunkRows,
    })[Symbol.asyncIterator]();
    let next = chunks.next();
    for (;;) {
      const step = await next;
      if (step.done) break;
      checkStop();
      const chunk = step.value;
      const rows = chunk.matrix.rows;
      scoreBatch(model, toModelColumns(columns, chunk.matrix, ordered), { out });
      // Keep what the write needs, then start reading the next chunk while this one is written.
      const rowIds = chunk.rowIds.slice(0, rows);
      next = chunks.next();
      next.catch(() => {}); // handled when awaited; avoids an unhandled rejection meanwhile
      const nextRowId = rowIds[rows - 1]! + 1;
      const now = performance.now();
      await withTransaction(pool, async (client) => {
        await saveCheckpoint(client, id, owner, nextRowId, rowsDone + rows, now - last);
        await copyScoresIn(client, id, rowIds, out, rows);
      });
      last = now;
      rowsDone += rows;
      onChunk(rowsDone);
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    // A COPY cut short leaves the connection mid-protocol: do not give it back to the pool.
    reader.release(broken);
  }
}

/** Phase 2: replay the scores through the detector; store alerts and complete the job. */
async function alertPhase(
  pool: Pool,
  job: JobRecord,
  owner: string,
  model: PcaModel,
  intervalS: number,
  checkStop: () => void,
): Promise<{ job: JobRecord; count: number }> {
  const started = performance.now();
  const alerts = new Map<number, AlertRecord>();
  const detector = new Detector({
    policy: job.params.policy,
    alerts: { intervalS },
    onEvent: (e) => alerts.set(e.alert.id, e.alert),
  });
  // The stored metrics, read for a flatline rule, in the model's column order.
  const columns: ColumnMap = columnMap(model.metrics, METRICS);
  const d = model.nFeatures;
  let ordered: Float64Array | undefined;
  const reader = await pool.connect();
  let broken = false;
  try {
    for await (const b of readReplayBatches(reader, job.id, job.datasetId, {
      withMetrics: detector.needsMetrics,
    })) {
      checkStop();
      let metrics: Float64Array | undefined;
      if (b.metrics !== undefined) {
        if (!columns.identity && (ordered === undefined || ordered.length < b.length * d)) {
          ordered = new Float64Array(b.length * d);
        }
        const source = {
          rows: b.length,
          cols: METRICS.length,
          data: b.metrics.subarray(0, b.length * METRICS.length),
        };
        metrics = toModelColumns(columns, source, ordered).data;
      }
      detector.process(
        { hostIds: b.hostIds, ts: b.ts, fused: b.fused, topMetric: b.topMetric, metrics, d },
        b.length,
      );
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    reader.release(broken);
  }

  // Store: delete the job's alerts (an earlier, interrupted replay may have left none — the
  // completion is in this same transaction — but a replay is always a full rewrite), insert the
  // new ones with the suppressed counts, and complete the job.
  const source = job.id;
  const records = [...alerts.values()].sort((a, b) => a.id - b.id);
  const completed = await withTransaction(pool, async (client) => {
    await deleteAlertsForSource(client, source);
    await saveAlertEvents(client, {
      source,
      jobId: job.id,
      modelId: job.modelId,
      datasetId: job.datasetId,
      alerts: records,
      metrics: model.metrics,
    });
    await saveSuppressedCounts(client, { source, jobId: job.id, counts: detector.suppressedCounts() });
    return completeJob(client, job.id, owner, performance.now() - started);
  });
  return { job: completed, count: records.length };
}
