/**
 * The inference-run repository: every `POST /inference` call is recorded with its counts, its
 * latency and its model, and listed newest first.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { NotFoundError } from '../core/errors.js';
import { toDatabaseError } from './errors.js';
import { cursorTimestampSql, keysetCondition, toPage, type Page } from './pagination.js';
import type { Queryable } from './pool.js';

/** A row of `inference_runs`, parsed. */
export interface InferenceRunRow {
  id: string;
  modelId: string;
  /** Records in the call. */
  recordCount: number;
  /** Records with a missing or non-finite metric (scored as invalid). */
  invalidCount: number;
  /** Valid records with fused ≥ 1. */
  anomalousCount: number;
  /** Server time from the parsed request to the scored results, in ms. */
  latencyMs: number;
  createdAt: Date;
}

/** Input of {@link insertInferenceRun}. */
export interface NewInferenceRun {
  /** The run's id; a new UUID when absent. */
  id?: string;
  modelId: string;
  recordCount: number;
  invalidCount: number;
  anomalousCount: number;
  latencyMs: number;
}

/** Filters and page of {@link listInferenceRuns}. */
export interface ListInferenceRunsOptions {
  /** Page size (the caller validates its range). */
  limit: number;
  /** Cursor from the previous page's `nextCursor`, if any. */
  cursor?: string | null | undefined;
  /** Only the runs of this model. */
  modelId?: string | undefined;
}

const COLUMNS = 'id, model_id, record_count, invalid_count, anomalous_count, latency_ms, created_at';

/** Schema of an `inference_runs` row as node-postgres returns it (untrusted until parsed). */
const DbRow = z
  .object({
    id: z.string(),
    model_id: z.string(),
    record_count: z.number().int().nonnegative(),
    invalid_count: z.number().int().nonnegative(),
    anomalous_count: z.number().int().nonnegative(),
    latency_ms: z.number().nonnegative(),
    created_at: z.date(),
  })
  .transform((r): InferenceRunRow => ({
    id: r.id,
    modelId: r.model_id,
    recordCount: r.record_count,
    invalidCount: r.invalid_count,
    anomalousCount: r.anomalous_count,
    latencyMs: r.latency_ms,
    createdAt: r.created_at,
  }));

const CursorRow = z.object({ cursor_ts: z.string() });

async function run(db: Queryable, text: string, values: unknown[]): Promise<unknown[]> {
  try {
    const res = await db.query(text, values);
    return res.rows as unknown[];
  } catch (err) {
    throw toDatabaseError(err);
  }
}

function isForeignKeyViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23503';
}

/**
 * Records one inference call.
 *
 * @param db - pool or client
 * @param run - the call's model, counts (integers ≥ 0) and latency (ms ≥ 0)
 * @returns the stored run
 * @throws NotFoundError when the model does not exist (any more); DatabaseUnavailableError
 * @example
 * await insertInferenceRun(pool, { modelId, recordCount: 3, invalidCount: 1, anomalousCount: 0, latencyMs: 0.4 });
 */
export async function insertInferenceRun(db: Queryable, newRun: NewInferenceRun): Promise<InferenceRunRow> {
  let rows: unknown[];
  try {
    rows = await run(
      db,
      `INSERT INTO inference_runs (id, model_id, record_count, invalid_count, anomalous_count, latency_ms)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [
        newRun.id ?? randomUUID(),
        newRun.modelId,
        newRun.recordCount,
        newRun.invalidCount,
        newRun.anomalousCount,
        newRun.latencyMs,
      ],
    );
  } catch (err) {
    // A model deleted between scoring and recording shows up as a foreign-key violation.
    if (isForeignKeyViolation(err)) throw new NotFoundError('model', newRun.modelId);
    throw err;
  }
  return DbRow.parse(rows[0]);
}

/**
 * One inference run.
 *
 * @throws NotFoundError for an unknown id
 */
export async function getInferenceRun(db: Queryable, id: string): Promise<InferenceRunRow> {
  const rows = await run(db, `SELECT ${COLUMNS} FROM inference_runs WHERE id = $1`, [id]);
  if (rows.length === 0) throw new NotFoundError('inference run', id);
  return DbRow.parse(rows[0]);
}

/**
 * A page of inference runs, newest first (by creation time, then id).
 *
 * @param db - pool or client
 * @param options - page and filters
 * @throws ValidationError when the cursor is malformed
 */
export async function listInferenceRuns(
  db: Queryable,
  options: ListInferenceRunsOptions,
): Promise<Page<InferenceRunRow>> {
  // Build the filter from fixed column names; only the values are parameters.
  const params: unknown[] = [];
  const where = [keysetCondition(options.cursor, params)];
  if (options.modelId !== undefined) {
    params.push(options.modelId);
    where.push(`model_id = $${params.length}`);
  }
  params.push(options.limit + 1);
  const rows = await run(
    db,
    `SELECT ${COLUMNS}, ${cursorTimestampSql()} AS cursor_ts FROM inference_runs
     WHERE ${where.join(' AND ')}
     ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const parsed = rows.map((r) => ({ row: DbRow.parse(r), ts: CursorRow.parse(r).cursor_ts }));
  return toPage(
    parsed,
    options.limit,
    (p) => ({ ts: p.ts, id: p.row.id }),
    (p) => p.row,
  );
}

/** How many inference runs are kept by default (`TADS_INFERENCE_RUNS_KEEP`). */
export const INFERENCE_RUNS_KEEP = 10_000;

/**
 * The retention of inference runs: deletes every run older than the newest `keep` (by creation
 * time, then id). One statement on the `(created_at, id)` index; the reaper runs it
 * periodically, so the cost does not grow with the request rate.
 *
 * @param keep - how many runs to keep (an integer ≥ 1)
 * @returns how many runs were deleted
 * @throws RangeError for a bad `keep`; DatabaseUnavailableError
 */
export async function pruneInferenceRuns(db: Queryable, keep: number): Promise<number> {
  if (!Number.isInteger(keep) || keep < 1) {
    throw new RangeError(`keep must be an integer ≥ 1; got ${keep}`);
  }
  try {
    const { rowCount } = await db.query(
      `DELETE FROM inference_runs
        WHERE (created_at, id) <= (SELECT created_at, id FROM inference_runs
                                    ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1)`,
      [keep],
    );
    return rowCount ?? 0;
  } catch (err) {
    throw toDatabaseError(err);
  }
}
