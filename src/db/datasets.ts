/**
 * The dataset repository. A dataset goes pending → running → completed with its exact row count,
 * or → failed with its error and none of its rows left. While pending or running it is held by a
 * lease (src/db/leases.ts): one whose holder died is failed ("interrupted") by the reaper.
 */
import { z } from 'zod';
import { DATASET_SOURCES, type DatasetSource } from '../contract/vocabulary.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { isUniqueViolation, withDatabaseErrors } from './errors.js';
import { notifyDatasetProgress, notifyDatasetStatus } from './events.js';
import { dropJobScoresPartition } from './job-scores.js';
import { claimExpiredLeases, LEASE_EXPIRY_SQL, startLeasedWork, updateLeasedRunning } from './leases.js';
import { cursorTimestampSql, keysetCondition, toPage, type Page } from './pagination.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';
import { dropTelemetryPartition, telemetryPartitionName } from './telemetry.js';

/** Lifecycle states of a dataset. */
export const DATASET_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
export type DatasetStatus = (typeof DATASET_STATUSES)[number];

/** The error recorded on a dataset whose generation was cut off by its server's end. */
export const INTERRUPTED = 'interrupted';

/** A row of `datasets`, parsed. */
export interface DatasetRow {
  id: string;
  name: string;
  status: DatasetStatus;
  error: string | null;
  /** The generation parameters, as given on the wire (snake_case). */
  params: Record<string, unknown>;
  /** Rows written so far; once completed, the dataset's exact row count. */
  rowCount: number;
  /** Rows the generation will produce. */
  rowsTotal: number;
  hostCount: number;
  /** Where its rows come from. */
  source: DatasetSource;
  /** Its metrics, in column order. */
  metrics: string[];
  /** Its text labels. */
  labels: string[];
  /** Summary figures recorded at completion, if any. */
  stats: Record<string, unknown> | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

// bigint columns arrive as strings from node-postgres: they are checked and turned into numbers
// (dataset sizes stay far below 2^53).
const count = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);

/** Schema of a `datasets` row as node-postgres returns it (untrusted until parsed). */
const DbDatasetRow = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(DATASET_STATUSES),
    error: z.string().nullable(),
    params: z.record(z.string(), z.unknown()),
    row_count: count,
    rows_total: count,
    host_count: z.number().int(),
    source: z.enum(DATASET_SOURCES),
    metrics: z.array(z.string()).min(1),
    labels: z.array(z.string()),
    stats: z.record(z.string(), z.unknown()).nullable(),
    lease_owner: z.string().nullable(),
    lease_expires_at: z.date().nullable(),
    created_at: z.date(),
    started_at: z.date().nullable(),
    finished_at: z.date().nullable(),
  })
  .transform((r): DatasetRow => ({
    id: r.id,
    name: r.name,
    status: r.status,
    error: r.error,
    params: r.params,
    rowCount: r.row_count,
    rowsTotal: r.rows_total,
    hostCount: r.host_count,
    source: r.source,
    metrics: r.metrics,
    labels: r.labels,
    stats: r.stats,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  }));

const COLUMNS =
  'id, name, status, error, params, row_count, rows_total, host_count, source, metrics, labels, stats, lease_owner, lease_expires_at, created_at, started_at, finished_at';

/** What {@link createDataset} needs. */
export interface NewDataset {
  id: string;
  name: string;
  /** Generation parameters, snake_case as on the wire; stored as they are. */
  params: Record<string, unknown>;
  rowsTotal: number;
  hostCount: number;
  /** Where its rows come from. */
  source: DatasetSource;
  /** Its metrics, in column order (checked by the caller: MetricSetSchema). */
  metrics: readonly string[];
  /** Its text labels (checked by the caller: LabelSetSchema). */
  labels: readonly string[];
  /** The server process that will generate it (its lease holder). */
  owner: string;
}

/**
 * Records a new dataset as `pending`, its lease held by `owner`.
 *
 * @returns the stored row
 * @throws ConflictError when a dataset with this id exists
 */
export async function createDataset(pool: Queryable, d: NewDataset): Promise<DatasetRow> {
  return withDatabaseErrors(async () => {
    try {
      const { rows } = await pool.query(
        `INSERT INTO datasets (id, name, status, params, rows_total, host_count, source, metrics, labels,
                               lease_owner, lease_expires_at)
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, ${LEASE_EXPIRY_SQL})
         RETURNING ${COLUMNS}`,
        [
          d.id,
          d.name,
          JSON.stringify(d.params),
          d.rowsTotal,
          d.hostCount,
          d.source,
          d.metrics,
          d.labels,
          d.owner,
        ],
      );
      const row = DbDatasetRow.parse(rows[0]);
      await notifyDatasetStatus(pool, row.id);
      return row;
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`dataset ${d.id} already exists`);
      throw err;
    }
  });
}

/**
 * Moves a pending dataset held by `owner` to `running` and renews the lease.
 *
 * @throws ConflictError when the dataset is not pending under `owner`'s lease
 */
export async function markDatasetRunning(pool: Queryable, id: string, owner: string): Promise<void> {
  await withDatabaseErrors(async () => {
    await startLeasedWork(pool, 'datasets', id, owner);
    await notifyDatasetStatus(pool, id);
  });
}

/**
 * Records progress of a running generation and renews its lease (the heartbeat).
 *
 * @param rowCount - rows written so far
 * @throws ConflictError when the lease is lost (the dataset was failed or taken over): the
 *   generation must stop
 */
export async function updateDatasetProgress(
  pool: Queryable,
  id: string,
  owner: string,
  rowCount: number,
): Promise<void> {
  await withDatabaseErrors(async () => {
    await updateLeasedRunning(
      pool,
      'datasets',
      id,
      owner,
      `row_count = $3, lease_expires_at = ${LEASE_EXPIRY_SQL}`,
      [rowCount],
    );
    await notifyDatasetProgress(pool, id);
  });
}

/**
 * Marks a running dataset completed with its exact row count and releases the lease.
 *
 * @param rowCount - the number of rows stored
 * @param stats - optional summary figures to keep with the dataset
 * @throws ConflictError when the dataset is not running under `owner`'s lease
 */
export async function markDatasetCompleted(
  pool: Queryable,
  id: string,
  owner: string,
  rowCount: number,
  stats?: Record<string, unknown>,
): Promise<void> {
  await withDatabaseErrors(async () => {
    await updateLeasedRunning(
      pool,
      'datasets',
      id,
      owner,
      `status = 'completed', row_count = $3, stats = $4, finished_at = now(),
       lease_owner = NULL, lease_expires_at = NULL`,
      [rowCount, stats === undefined ? null : JSON.stringify(stats)],
    );
    await notifyDatasetStatus(pool, id);
  });
}

/**
 * Marks a pending or running dataset failed with `error` and removes its rows. A dataset that
 * already finished is left alone.
 *
 * The status changes first (in its own transaction), so the generation's next progress update
 * finds its lease gone and stops; then the rows go.
 *
 * @returns true when the dataset was failed by this call
 */
export async function markDatasetFailed(pool: Pool, id: string, error: string): Promise<boolean> {
  return withDatabaseErrors(async () => {
    const { rowCount } = await pool.query(
      `UPDATE datasets
          SET status = 'failed', error = $2, row_count = 0, finished_at = now(),
              lease_owner = NULL, lease_expires_at = NULL
        WHERE id = $1 AND status IN ('pending', 'running')`,
      [id, error],
    );
    if (rowCount !== 1) return false;
    await notifyDatasetStatus(pool, id);
    await dropTelemetryPartition(pool, id);
    return true;
  });
}

/** Reads one dataset, or null when there is none with this id. */
export async function getDataset(pool: Queryable, id: string): Promise<DatasetRow | null> {
  return withDatabaseErrors(async () => {
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM datasets WHERE id = $1`, [id]);
    return rows.length === 0 ? null : DbDatasetRow.parse(rows[0]);
  });
}

/** Options of {@link listDatasets}. */
export interface ListDatasetsOptions {
  /** Page size (the caller validates its range). */
  limit: number;
  /** Cursor from the previous page's `nextCursor`, if any. */
  cursor?: string | null;
  /** Only datasets in this state. */
  status?: DatasetStatus;
}

/**
 * Lists datasets newest first, one page at a time.
 *
 * @throws ValidationError when the cursor is malformed
 */
export async function listDatasets(pool: Queryable, options: ListDatasetsOptions): Promise<Page<DatasetRow>> {
  const params: unknown[] = [];
  const where = [keysetCondition(options.cursor, params)];
  if (options.status) {
    params.push(options.status);
    where.push(`status = $${params.length}`);
  }
  params.push(options.limit + 1);
  return withDatabaseErrors(async () => {
    const { rows } = await pool.query(
      `SELECT ${COLUMNS}, ${cursorTimestampSql()} AS cursor_ts FROM datasets
        WHERE ${where.join(' AND ')}
        ORDER BY created_at DESC, id DESC
        LIMIT $${params.length}`,
      params,
    );
    const parsed = rows.map((r) => ({
      row: DbDatasetRow.parse(r),
      ts: z.object({ cursor_ts: z.string() }).parse(r).cursor_ts,
    }));
    return toPage(
      parsed,
      options.limit,
      (p) => ({ ts: p.ts, id: p.row.id }),
      (p) => p.row,
    );
  });
}

/**
 * Deletes a finished (completed or failed) dataset with its rows; jobs and alerts on it go with
 * it, models trained on it keep their model and lose the link.
 *
 * @throws NotFoundError when there is no such dataset
 * @throws ConflictError while it is pending or running, or while a pending or running scoring job
 *   uses it or a pending or running model trains from it
 */
export async function deleteDataset(pool: Pool, id: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    const { rows } = await client.query('SELECT status FROM datasets WHERE id = $1 FOR UPDATE', [id]);
    if (rows.length === 0) throw new NotFoundError('dataset', id);
    const { status } = z.object({ status: z.enum(DATASET_STATUSES) }).parse(rows[0]);
    if (status === 'pending' || status === 'running') {
      throw new ConflictError(
        `dataset ${id} is ${status}; it can be deleted once it has completed or failed`,
        {
          id,
          status,
        },
      );
    }
    // In use: a queued or running scoring job, or a training from it. The row lock above makes
    // this race-free: a job or model inserted for this dataset meanwhile waits on it (its foreign
    // key locks the row) and then finds the dataset gone.
    const busy = await client.query(
      `SELECT 'scoring job' AS kind, id FROM jobs WHERE dataset_id = $1 AND status IN ('pending', 'running')
       UNION ALL
       SELECT 'model' AS kind, id FROM models WHERE dataset_id = $1 AND status IN ('pending', 'running')
       LIMIT 1`,
      [id],
    );
    if (busy.rows.length > 0) {
      const user = z.object({ kind: z.enum(['scoring job', 'model']), id: z.string() }).parse(busy.rows[0]);
      const what =
        user.kind === 'model'
          ? `model ${user.id} is being trained from it`
          : `scoring job ${user.id} uses it`;
      throw new ConflictError(`dataset ${id} is in use: ${what}; it can be deleted once that has finished`, {
        id,
        [user.kind === 'model' ? 'model_id' : 'job_id']: user.id,
      });
    }
    // Rows first, then the scores of the jobs that scored it (their rows cascade with the
    // dataset, their score partitions do not), then the dataset.
    await dropTelemetryPartition(client, id);
    const jobs = await client.query('SELECT id FROM jobs WHERE dataset_id = $1', [id]);
    for (const r of jobs.rows) await dropJobScoresPartition(client, z.object({ id: z.string() }).parse(r).id);
    await notifyDatasetStatus(client, id, true);
    await client.query('DELETE FROM datasets WHERE id = $1', [id]);
  });
}

/**
 * The datasets' reap action: claims datasets whose lease expired while pending or running and
 * fails them as "interrupted", removing their rows; also removes rows left behind by a failed
 * dataset whose cleanup was cut short.
 *
 * @returns how many datasets were failed
 */
export async function reapExpiredDatasets(pool: Pool, owner: string): Promise<number> {
  const ids = await claimExpiredLeases(pool, 'datasets', owner);
  let failed = 0;
  for (const id of ids) {
    if (await markDatasetFailed(pool, id, INTERRUPTED)) failed += 1;
  }
  // Leftovers: partitions of failed datasets (their drop failed after the status changed).
  const leftovers = await withDatabaseErrors(async () => {
    const { rows } = await pool.query("SELECT id FROM datasets WHERE status = 'failed'");
    const ids = rows.map((r) => z.object({ id: z.string() }).parse(r).id);
    if (ids.length === 0) return [];
    const found = await pool.query(
      'SELECT id FROM unnest($1::text[], $2::text[]) AS t(id, part) WHERE to_regclass(part) IS NOT NULL',
      [ids, ids.map(telemetryPartitionName)],
    );
    return found.rows.map((r) => z.object({ id: z.string() }).parse(r).id);
  });
  for (const id of leftovers) await dropTelemetryPartition(pool, id);
  return failed;
}
