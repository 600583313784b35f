/**
 * Dataset ingest: generation streamed straight into PostgreSQL. The dataset row (created by the
 * caller, `pending`, its lease held by `owner`) goes `running`, the rows are generated chunk by
 * chunk and COPYed into a new partition with backpressure while the lease is renewed, and the
 * dataset is marked `completed` with its exact row count — or, on any failure, `failed` with the
 * error, its partition gone (the load runs in one transaction, so a rollback leaves no rows).
 */
import { randomUUID } from 'node:crypto';
import { ZodError } from 'zod';
import {
  generateParamsToWire,
  type GenerateParams,
  type GenerateParamsInput,
} from '../contract/generator.js';
import { GENERATOR_METRIC_SET } from '../contract/vocabulary.js';
import { generateTelemetry, parseGenerateParams } from '../core/generator.js';
import type { TelemetryChunk } from '../core/types.js';
import { ConflictError } from '../core/errors.js';
import {
  createDataset,
  getDataset,
  markDatasetCompleted,
  markDatasetFailed,
  markDatasetRunning,
  updateDatasetProgress,
} from '../db/datasets.js';
import { toDatabaseError } from '../db/errors.js';
import { begin, commit, connectSeveral, rollback, type Pool, type PoolClient } from '../db/pool.js';
import {
  attachTelemetryPartition,
  copyTelemetryIn,
  createTelemetryPartition,
  dropTelemetryPartition,
} from '../db/telemetry.js';

/** Progress of an ingest. */
export interface IngestProgress {
  datasetId: string;
  rowsDone: number;
  rowsTotal: number;
}

/** What {@link ingestDataset} needs. */
export interface IngestOptions {
  /** The dataset's id: a `pending` row of `datasets` whose lease `owner` holds. */
  datasetId: string;
  /** Generation parameters (validated again here). */
  params: GenerateParams | GenerateParamsInput;
  /** This server process's lease owner id. */
  owner: string;
  /** Called after each chunk (and once at the end), never more than every `progressIntervalMs`. */
  onProgress?: (p: IngestProgress) => void;
  /** Minimum time between progress calls and database progress updates, ms (default 1000). */
  progressIntervalMs?: number;
  /**
   * Rows per generated chunk (default 16 384: small blocks keep the garbage between collections,
   * and so the peak RSS, low; larger ones are no faster once COPY is the bottleneck).
   */
  chunkRows?: number;
  /**
   * For tests only: throw an injected failure once at least this many rows have been sent, to
   * check that a failed ingest leaves the dataset failed and no rows behind.
   */
  failAfterRows?: number;
  /** Aborts the ingest (server shutdown): the dataset is failed as interrupted. */
  signal?: AbortSignal;
}

/** The outcome of a completed ingest. */
export interface IngestResult {
  rows: number;
  seconds: number;
}

/** The error an injected failure ({@link IngestOptions.failAfterRows}) throws. */
export class InjectedFailureError extends Error {
  constructor(rows: number) {
    super(`injected failure after ${rows} rows (test hook failAfterRows)`);
    this.name = 'InjectedFailureError';
  }
}

/** The first `n` rows of a chunk (views, no copy). */
function headOfChunk(c: TelemetryChunk, n: number): TelemetryChunk {
  const d = c.metrics.length / c.length;
  return {
    firstRowId: c.firstRowId,
    length: n,
    ts: c.ts.subarray(0, n),
    host: c.host.subarray(0, n),
    metrics: c.metrics.subarray(0, n * d),
    isAnomaly: c.isAnomaly.subarray(0, n),
    anomalyType: c.anomalyType.subarray(0, n),
    anomalyEpisode: c.anomalyEpisode.subarray(0, n),
  };
}

function ignoreClientError(): void {
  // the failure reaches the ingest through the query it broke
}

function messageOf(err: unknown): string {
  if (err instanceof ZodError) return err.issues.map((i) => i.message).join('; ');
  return err instanceof Error ? err.message : String(err);
}

/**
 * Generates a dataset into PostgreSQL.
 *
 * Stages: validate the parameters; check out two connections together (the load's and the
 * dataset row's); mark the dataset running; in one transaction create its partition, COPY the generated chunks in (renewing the lease with each progress update, which
 * also stops the load if the lease was lost), build the primary key and attach; commit; mark it
 * completed with the exact count. Any failure rolls the load back and marks the dataset failed
 * with the error (if the database itself is gone, the lease expires and the reaper fails it).
 *
 * @param pool - the database
 * @param options - dataset id, parameters, lease owner, progress callback, test hook
 * @returns rows written and seconds taken
 * @throws ValidationError for bad parameters (the dataset is failed with the message);
 *   ConflictError when the lease is lost; DatabaseUnavailableError when the database is down;
 *   InjectedFailureError from the test hook
 * @example
 * await createDataset(pool, { id, name, params: wire, rowsTotal, hostCount, owner, ...GENERATOR_METRIC_SET });
 * const { rows } = await ingestDataset(pool, { datasetId: id, params, owner });
 */
export async function ingestDataset(pool: Pool, options: IngestOptions): Promise<IngestResult> {
  const started = performance.now();
  const { datasetId, owner } = options;
  const interval = options.progressIntervalMs ?? 1000;
  let clients: PoolClient[] = [];
  let broken = false;
  let committed = false;
  try {
    // Validate
    const params = parseGenerateParams(options.params);
    const data = generateTelemetry(
      params,
      options.chunkRows === undefined ? {} : { chunkRows: options.chunkRows },
    );
    const rowsTotal = data.totalRows;
    const failAfter = options.failAfterRows;

    // Two connections, had together: one for the load, one for the dataset's row (its lease is
    // renewed while the load's transaction is open). Holding one while waiting for the other would
    // let a burst of generations take the whole pool and wait on each other.
    clients = await connectSeveral(pool, 2);
    const [client, control] = clients as [PoolClient, PoolClient];
    // A connection lost mid-load errors the running query; without a listener the client's own
    // 'error' event would also crash the process.
    for (const c of clients) c.on('error', ignoreClientError);
    await markDatasetRunning(control, datasetId, owner);

    // Load: one transaction, so that a failure anywhere leaves nothing behind
    await begin(client);
    const part = await createTelemetryPartition(client, datasetId);
    let lastUpdate = performance.now();
    const report = (rowsDone: number) => options.onProgress?.({ datasetId, rowsDone, rowsTotal });
    function* source(): Generator<TelemetryChunk> {
      let sent = 0;
      for (const chunk of data.chunks()) {
        if (options.signal?.aborted) throw new Error('interrupted: the generator is shutting down');
        if (failAfter !== undefined && sent + chunk.length > failAfter) {
          // Test hook: send exactly failAfter rows, then fail mid-COPY
          if (failAfter > sent) yield headOfChunk(chunk, failAfter - sent);
          throw new InjectedFailureError(failAfter);
        }
        yield chunk;
        sent += chunk.length;
      }
    }
    const copied = await copyTelemetryIn(client, part, datasetId, data.hosts, source(), {
      freeze: true,
      onChunk: async (rowsDone) => {
        const now = performance.now();
        if (now - lastUpdate < interval) return;
        lastUpdate = now;
        // The heartbeat: renews the lease, and throws (aborting the COPY) if it was lost
        await updateDatasetProgress(control, datasetId, owner, rowsDone);
        report(rowsDone);
      },
    });
    if (copied !== rowsTotal) throw new Error(`the load stored ${copied} rows; expected ${rowsTotal}`);
    await attachTelemetryPartition(client, datasetId);
    await commit(client);
    committed = true;

    // Complete
    const episodes = data.episodes();
    await markDatasetCompleted(control, datasetId, owner, copied, {
      episodes: episodes.length,
      anomalous_rows: episodes.reduce((s, e) => s + e.length, 0),
    });
    report(copied);
    return { rows: copied, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    const client = clients[0];
    if (client && !committed) {
      // A failed rollback means the connection itself failed: do not reuse it.
      if (!(await rollback(client))) broken = true;
    }
    // Give the connections back before failing the dataset through the pool.
    release(clients, broken);
    clients = [];
    const error = toDatabaseError(err);
    try {
      if (error instanceof ConflictError) {
        // The lease was lost: the dataset is no longer ours to fail. Rows committed just before
        // belong to a failed dataset and go.
        if (committed && (await getDataset(pool, datasetId))?.status === 'failed') {
          await dropTelemetryPartition(pool, datasetId);
        }
      } else {
        // Fail the dataset (best effort: with the database down, the lease expiry does it later)
        await markDatasetFailed(pool, datasetId, messageOf(err));
        if (committed) await dropTelemetryPartition(pool, datasetId);
      }
    } catch {
      // reported through the original error
    }
    throw error;
  } finally {
    release(clients, broken);
  }
}

/** Releases the ingest's connections (the load's one destroyed when `broken`). */
function release(clients: PoolClient[], broken: boolean): void {
  clients.forEach((c, i) => {
    c.off('error', ignoreClientError);
    c.release(i === 0 && broken);
  });
}

/**
 * Records a new dataset for these parameters: `pending`, its lease held by `owner`, its row count
 * known in advance. The first half of a generation; {@link ingestDataset} is the second.
 *
 * @returns the dataset's id and its validated parameters
 * @throws ValidationError for bad parameters; DatabaseUnavailableError when the database is down
 */
export async function recordDataset(
  pool: Pool,
  input: GenerateParams | GenerateParamsInput,
  owner: string,
): Promise<{ datasetId: string; params: GenerateParams; rowsTotal: number }> {
  const params = parseGenerateParams(input);
  const datasetId = randomUUID();
  const rowsTotal = generateTelemetry(params).totalRows;
  await createDataset(pool, {
    id: datasetId,
    name: params.name,
    params: generateParamsToWire(params),
    rowsTotal,
    hostCount: params.hostCount,
    owner,
    ...GENERATOR_METRIC_SET,
  });
  return { datasetId, params, rowsTotal };
}

/**
 * Records and ingests a dataset in one call, for callers that need no progress stream (the
 * library's users, tests and benchmarks; the gRPC service streams progress itself).
 *
 * @example
 * const { datasetId, rows } = await generateDataset(pool, { host_count: 10 }, { owner });
 */
export async function generateDataset(
  pool: Pool,
  input: GenerateParams | GenerateParamsInput,
  options: Omit<IngestOptions, 'datasetId' | 'params'>,
): Promise<IngestResult & { datasetId: string }> {
  const { datasetId, params } = await recordDataset(pool, input, options.owner);
  const res = await ingestDataset(pool, { ...options, datasetId, params });
  return { ...res, datasetId };
}
