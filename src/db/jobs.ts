/**
 * Repository of dataset scoring jobs (the `jobs` table, DESIGN.md "Jobs"): creation, reads,
 * paginated lists, the lease that makes one server at a time run a job, the checkpoint written in
 * the same transaction as a chunk's scores, and the end states.
 *
 * Every write made while running a job is fenced by the lease: it only applies while
 * `lease_owner` is the caller and the job is still running, so a server that lost its lease (it
 * stalled past the expiry and another server took the job over, or the job was cancelled) cannot
 * write a checkpoint, a phase or a completion any more.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { POLICY_NAMES, type PolicyName } from '../contract/vocabulary.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { cursorTimestampSql, keysetCondition, toPage, type Page } from './pagination.js';
import type { Queryable } from './pool.js';
import { toDatabaseError } from './errors.js';
import { notifyJobProgress, notifyJobStatus } from './events.js';
import { updateLeasedRunning } from './leases.js';

/** Job statuses, as stored. */
export type JobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
/** Job phases, as stored. */
export type JobPhase = 'scoring' | 'alerts' | 'done';
/** Options a job was created with (stored in `jobs.params`). */
export interface JobParams {
  /** Rows per chunk: one COPY out, one native scoring call, one transaction. */
  chunkRows: number;
  /** Detector policy of the alert replay. */
  policy: PolicyName;
}

/** Time spent per phase, accumulated over every run of the job. */
export interface JobTimings {
  scoringMs: number;
  alertsMs: number;
  /** Runs so far (1 for a job that was never interrupted). */
  runs: number;
  /** When the current or last run started. */
  runStartedAt: Date | null;
  /** rows_done when that run started (progress rates are measured from there). */
  runStartRows: number;
}

/** A job row, camelCase. */
export interface JobRecord {
  id: string;
  kind: 'score_dataset';
  modelId: string;
  datasetId: string;
  status: JobStatus;
  phase: JobPhase;
  error: string | null;
  params: JobParams;
  rowsTotal: number;
  rowsDone: number;
  /** Checkpoint: every row below this row_id has its score committed. */
  nextRowId: number;
  timings: JobTimings;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

// Rows come back from PostgreSQL untyped: parse them (bigint columns arrive as text).
const bigintText = z.union([z.string(), z.number()]).transform((v) => Number(v));
const ParamsRow = z
  .object({
    chunk_rows: z.number().int().positive(),
    policy: z.enum(POLICY_NAMES).default('default'),
  })
  .transform((p): JobParams => ({ chunkRows: p.chunk_rows, policy: p.policy }));
const TimingsRow = z
  .object({
    scoring_ms: z.number().default(0),
    alerts_ms: z.number().default(0),
    runs: z.number().int().default(0),
    run_started_at: z.string().nullable().default(null),
    run_start_rows: z.number().default(0),
  })
  .nullable()
  .transform((t): JobTimings => ({
    scoringMs: t?.scoring_ms ?? 0,
    alertsMs: t?.alerts_ms ?? 0,
    runs: t?.runs ?? 0,
    runStartedAt: t?.run_started_at ? new Date(t.run_started_at) : null,
    runStartRows: t?.run_start_rows ?? 0,
  }));
const JobRow = z
  .object({
    id: z.string(),
    kind: z.literal('score_dataset'),
    model_id: z.string(),
    dataset_id: z.string(),
    status: z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']),
    phase: z.enum(['scoring', 'alerts', 'done']),
    error: z.string().nullable(),
    params: ParamsRow,
    rows_total: bigintText,
    rows_done: bigintText,
    next_row_id: bigintText,
    timings: TimingsRow,
    lease_owner: z.string().nullable(),
    lease_expires_at: z.date().nullable(),
    created_at: z.date(),
    started_at: z.date().nullable(),
    finished_at: z.date().nullable(),
  })
  .transform((r): JobRecord => ({
    id: r.id,
    kind: r.kind,
    modelId: r.model_id,
    datasetId: r.dataset_id,
    status: r.status,
    phase: r.phase,
    error: r.error,
    params: r.params,
    rowsTotal: r.rows_total,
    rowsDone: r.rows_done,
    nextRowId: r.next_row_id,
    timings: r.timings,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  }));

const COLUMNS = `id, kind, model_id, dataset_id, status, phase, error, params, rows_total, rows_done,
  next_row_id, timings, lease_owner, lease_expires_at, created_at, started_at, finished_at`;

function parseRow(row: unknown): JobRecord {
  return JobRow.parse(row);
}

async function run<R>(db: Queryable, text: string, values: unknown[]): Promise<R[]> {
  try {
    const res = await db.query(text, values);
    return res.rows as R[];
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/** Input of {@link createJob}. */
export interface CreateJobInput {
  modelId: string;
  datasetId: string;
  /** Rows of the dataset: the job is done when this many scores are stored. */
  rowsTotal: number;
  params: JobParams;
}

/**
 * Inserts a new `pending` job with no lease (any server's runner may pick it up).
 *
 * @param db - pool or client
 * @param input - model, dataset, their row count and the job's options
 * @returns the stored job
 */
export async function createJob(db: Queryable, input: CreateJobInput): Promise<JobRecord> {
  const rows = await run(
    db,
    `INSERT INTO jobs (id, kind, model_id, dataset_id, status, phase, params, rows_total, timings)
     VALUES ($1, 'score_dataset', $2, $3, 'pending', 'scoring', $4, $5, $6)
     RETURNING ${COLUMNS}`,
    [
      randomUUID(),
      input.modelId,
      input.datasetId,
      JSON.stringify({ chunk_rows: input.params.chunkRows, policy: input.params.policy }),
      input.rowsTotal,
      JSON.stringify(timingsJson(emptyTimings())),
    ],
  );
  const job = parseRow(rows[0]);
  await notifyJobStatus(db, job.id);
  return job;
}

/** Timings of a job that never ran. */
export function emptyTimings(): JobTimings {
  return { scoringMs: 0, alertsMs: 0, runs: 0, runStartedAt: null, runStartRows: 0 };
}

function timingsJson(t: JobTimings): Record<string, unknown> {
  return {
    scoring_ms: t.scoringMs,
    alerts_ms: t.alertsMs,
    runs: t.runs,
    run_started_at: t.runStartedAt?.toISOString() ?? null,
    run_start_rows: t.runStartRows,
  };
}

/** The job with this id, or null. */
export async function getJob(db: Queryable, id: string): Promise<JobRecord | null> {
  const rows = await run(db, `SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]);
  return rows.length === 0 ? null : parseRow(rows[0]);
}

/**
 * The job with this id.
 *
 * @throws NotFoundError when there is none
 */
export async function requireJob(db: Queryable, id: string): Promise<JobRecord> {
  const job = await getJob(db, id);
  if (!job) throw new NotFoundError('job', id);
  return job;
}

/** Filters and page of {@link listJobs}. */
export interface ListJobsOptions {
  /** Page size (the caller validates its range). */
  limit: number;
  /** Cursor from the previous page's `nextCursor`, if any. */
  cursor?: string | null | undefined;
  modelId?: string | undefined;
  datasetId?: string | undefined;
  status?: JobStatus | undefined;
}

/**
 * A page of jobs, newest first (by creation time, then id).
 *
 * @param db - pool or client
 * @param options - page and filters
 * @throws ValidationError when the cursor is malformed
 */
export async function listJobs(db: Queryable, options: ListJobsOptions): Promise<Page<JobRecord>> {
  // Build the filter from fixed column names; only the values are parameters.
  const params: unknown[] = [];
  const where = [keysetCondition(options.cursor, params)];
  if (options.modelId !== undefined) {
    params.push(options.modelId);
    where.push(`model_id = $${params.length}`);
  }
  if (options.datasetId !== undefined) {
    params.push(options.datasetId);
    where.push(`dataset_id = $${params.length}`);
  }
  if (options.status !== undefined) {
    params.push(options.status);
    where.push(`status = $${params.length}`);
  }
  params.push(options.limit + 1);
  const rows = await run(
    db,
    `SELECT ${COLUMNS}, ${cursorTimestampSql()} AS cursor_ts FROM jobs
     WHERE ${where.join(' AND ')}
     ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const parsed = rows.map((r) => ({ job: parseRow(r), ts: CursorRow.parse(r).cursor_ts }));
  return toPage(
    parsed,
    options.limit,
    (p) => ({ ts: p.ts, id: p.job.id }),
    (p) => p.job,
  );
}

const CursorRow = z.object({ cursor_ts: z.string() });

/**
 * The latest completed job of a (model, dataset) pair, or null when it was never scored to the
 * end.
 */
export async function latestCompletedJob(
  db: Queryable,
  modelId: string,
  datasetId: string,
): Promise<JobRecord | null> {
  const rows = await run(
    db,
    `SELECT ${COLUMNS} FROM jobs
     WHERE model_id = $1 AND dataset_id = $2 AND status = 'completed'
     ORDER BY finished_at DESC, created_at DESC, id DESC LIMIT 1`,
    [modelId, datasetId],
  );
  return rows.length === 0 ? null : parseRow(rows[0]);
}

/**
 * Takes the lease of a job that is pending, or running with an expired (or absent, or already
 * our) lease, and marks it running. Starting a run counts it in `timings.runs` and records where
 * the run starts, for progress rates.
 *
 * @param db - pool or client
 * @param id - the job
 * @param owner - this server's lease owner id
 * @param ttlMs - lease lifetime in ms; the heartbeat must renew it before it runs out
 * @returns the job as now leased, or null when someone else holds it or it is over
 */
export async function acquireJobLease(
  db: Queryable,
  id: string,
  owner: string,
  ttlMs: number,
): Promise<JobRecord | null> {
  const rows = await run(
    db,
    `UPDATE jobs SET
       status = 'running',
       lease_owner = $2,
       lease_expires_at = now() + make_interval(secs => $3::double precision / 1000),
       started_at = coalesce(started_at, now()),
       timings = coalesce(timings, '{}'::jsonb) || jsonb_build_object(
         'runs', coalesce((timings->>'runs')::int, 0) + 1,
         'run_started_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'run_start_rows', rows_done)
     WHERE id = $1 AND status IN ('pending', 'running')
       AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < now())
     RETURNING ${COLUMNS}`,
    [id, owner, ttlMs],
  );
  if (rows.length === 0) return null;
  await notifyJobStatus(db, id);
  return parseRow(rows[0]);
}

/**
 * Pushes the lease's expiry forward.
 *
 * @returns false when the lease is no longer ours (taken over, or the job was cancelled or ended)
 */
export async function heartbeatJob(
  db: Queryable,
  id: string,
  owner: string,
  ttlMs: number,
): Promise<boolean> {
  const rows = await run(
    db,
    `UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
     WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING id`,
    [id, owner, ttlMs],
  );
  return rows.length === 1;
}

/**
 * Moves the checkpoint after a chunk: to be called inside the chunk's transaction, before its
 * scores are copied in, so the job row is locked for the rest of it and the scores and the
 * checkpoint commit (or roll back) together.
 *
 * @param client - the chunk transaction's client
 * @param id - the job
 * @param owner - the lease owner that must still hold it
 * @param nextRowId - the first row_id not yet scored once this chunk commits
 * @param rowsDone - scored rows once this chunk commits
 * @param scoringMsDelta - time this chunk took, added to `timings.scoring_ms`
 * @throws LeaseLostError when the lease is not ours any more (the transaction must roll back)
 */
export async function saveCheckpoint(
  client: Queryable,
  id: string,
  owner: string,
  nextRowId: number,
  rowsDone: number,
  scoringMsDelta: number,
): Promise<void> {
  await updateLeasedRunning(
    client,
    'jobs',
    id,
    owner,
    `next_row_id = $3, rows_done = $4,
     timings = jsonb_set(coalesce(timings, '{}'::jsonb), '{scoring_ms}',
       to_jsonb(coalesce((timings->>'scoring_ms')::double precision, 0) + $5))`,
    [nextRowId, rowsDone, scoringMsDelta],
  );
  await notifyJobProgress(client, id);
}

/**
 * Sets the phase of a running job whose lease the caller holds.
 *
 * @throws LeaseLostError when the lease is not ours any more
 */
export async function setJobPhase(db: Queryable, id: string, owner: string, phase: JobPhase): Promise<void> {
  await updateLeasedRunning(db, 'jobs', id, owner, 'phase = $3', [phase]);
  await notifyJobStatus(db, id);
}

/**
 * Marks a job completed and releases its lease; to be called in the transaction that stores its
 * alerts, so a job is completed exactly when its alerts are in.
 *
 * @param alertsMsDelta - time the alert replay took, added to `timings.alerts_ms`
 * @throws LeaseLostError when the lease is not ours any more
 */
export async function completeJob(
  db: Queryable,
  id: string,
  owner: string,
  alertsMsDelta: number,
): Promise<JobRecord> {
  const rows = await updateLeasedRunning(
    db,
    'jobs',
    id,
    owner,
    `status = 'completed', phase = 'done', finished_at = now(),
     lease_owner = NULL, lease_expires_at = NULL,
     timings = jsonb_set(coalesce(timings, '{}'::jsonb), '{alerts_ms}',
       to_jsonb(coalesce((timings->>'alerts_ms')::double precision, 0) + $3))`,
    [alertsMsDelta],
    COLUMNS,
  );
  await notifyJobStatus(db, id);
  return parseRow(rows[0]);
}

/**
 * Marks a job failed with a message and releases its lease. With an owner, only while that owner
 * holds it; without, whatever holds it (a job found broken by someone else).
 *
 * @returns true when the job was pending or running and is now failed
 */
export async function failJob(
  db: Queryable,
  id: string,
  owner: string | null,
  error: string,
): Promise<boolean> {
  const rows = await run(
    db,
    `UPDATE jobs SET status = 'failed', error = $3, finished_at = now(),
       lease_owner = NULL, lease_expires_at = NULL
     WHERE id = $1 AND status IN ('pending', 'running') AND ($2::text IS NULL OR lease_owner = $2)
     RETURNING id`,
    [id, owner, error],
  );
  if (rows.length !== 1) return false;
  await notifyJobStatus(db, id);
  return true;
}

/**
 * Marks a pending or running job cancelled and releases its lease; the server running it notices
 * at its next fenced write and stops.
 *
 * @returns the job as it is now
 * @throws NotFoundError for an unknown id; ConflictError when the job is already over
 */
export async function markJobCancelled(db: Queryable, id: string): Promise<JobRecord> {
  const rows = await run(
    db,
    `UPDATE jobs SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
     WHERE id = $1 AND status IN ('pending', 'running') RETURNING ${COLUMNS}`,
    [id],
  );
  if (rows.length === 1) {
    await notifyJobStatus(db, id);
    return parseRow(rows[0]);
  }
  const job = await requireJob(db, id);
  throw new ConflictError(`job ${id} cannot be cancelled: it is already ${job.status}`, {
    job_id: id,
    status: job.status,
  });
}

/**
 * Jobs no server is running: pending or running with no lease or an expired one, oldest first.
 * A runner takes them over with {@link acquireJobLease} (which re-checks, so two runners racing
 * for one job get it once).
 */
export async function findOrphanedJobs(db: Queryable, limit = 100): Promise<string[]> {
  const rows = await run<{ id: string }>(
    db,
    `SELECT id FROM jobs
     WHERE status IN ('pending', 'running') AND (lease_owner IS NULL OR lease_expires_at < now())
     ORDER BY created_at, id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}
