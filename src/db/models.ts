/**
 * The model repository (the `models` table). A training goes pending → running → completed with
 * its model (the `model.json` document), artifact path, row count and timings, or → failed with
 * its error and no model. While pending or running it is held by a lease (src/db/leases.ts) whose
 * holder reports progress with each heartbeat; a training whose holder died is failed
 * ("interrupted") by the reaper ({@link reapExpiredModels}).
 *
 * Every write made while training is fenced by the lease: it applies only while `lease_owner` is
 * the caller and the training is still pending or running, so a server that lost its lease
 * cannot complete a model any more.
 */
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { isUniqueViolation, withDatabaseErrors } from './errors.js';
import { notifyModelProgress, notifyModelStatus } from './events.js';
import { dropJobScoresPartition } from './job-scores.js';
import { claimExpiredLeases, LEASE_EXPIRY_SQL, startLeasedWork, updateLeasedRunning } from './leases.js';
import { cursorTimestampSql, keysetCondition, toPage, type Page } from './pagination.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';

/** Lifecycle states of a model. */
export const MODEL_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

/** The error recorded on a training cut off by its server's end (its lease expired). */
export const MODEL_INTERRUPTED = 'interrupted';

/** Stages of a training, as its progress reports them. */
export const TRAINING_PHASES = ['queued', 'moments', 'robust', 'limits', 'artifact', 'done'] as const;
export type TrainingPhase = (typeof TRAINING_PHASES)[number];

/** Progress of a training (stored snake_case in `models.progress`). */
export interface TrainingProgress {
  phase: TrainingPhase;
  /** Rows read so far in the current pass. */
  rowsDone: number;
  /** Rows the dataset holds (all passes read them all). */
  rowsTotal: number;
  /** The pass over the rows under way (1: the moments pass). */
  pass: number;
}

/** Where the time of a training went, in seconds (stored snake_case in `models.timings`). */
export interface TrainingTimings {
  /** The streaming moments pass (with the first robust-statistics histograms on the way). */
  momentsS: number;
  /** The further passes of the exact robust statistics. */
  robustS: number;
  /** Eigendecomposition, k and the limits. */
  limitsS: number;
  /** Writing model.json (0 when no artifact was written). */
  artifactWriteS: number;
  /** The whole training, from the first read to the recorded model. */
  totalS: number;
  /** Passes over the rows (the moments pass included). */
  passes: number;
  /** Rows per second over the whole training. */
  rowsPerS: number;
  /** Peak resident memory of the training process so far, in MB. */
  peakRssMb: number;
}

/** A row of `models`, parsed. */
export interface ModelRow {
  id: string;
  name: string;
  status: ModelStatus;
  error: string | null;
  /** The dataset it was trained on (null once that dataset is deleted). */
  datasetId: string | null;
  /** The training request's parameters, snake_case as on the wire. */
  params: Record<string, unknown>;
  /** The `model.json` document, once completed. */
  model: Record<string, unknown> | null;
  artifactPath: string | null;
  /** Rows trained on, once completed. */
  nSamples: number | null;
  timings: TrainingTimings | null;
  progress: TrainingProgress | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

// bigint columns arrive as text from node-postgres (model sizes stay far below 2^53).
const count = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);

const DbTimings = z
  .object({
    moments_s: z.number(),
    robust_s: z.number(),
    limits_s: z.number(),
    artifact_write_s: z.number(),
    total_s: z.number(),
    passes: z.number().int(),
    rows_per_s: z.number(),
    peak_rss_mb: z.number(),
  })
  .transform((t): TrainingTimings => ({
    momentsS: t.moments_s,
    robustS: t.robust_s,
    limitsS: t.limits_s,
    artifactWriteS: t.artifact_write_s,
    totalS: t.total_s,
    passes: t.passes,
    rowsPerS: t.rows_per_s,
    peakRssMb: t.peak_rss_mb,
  }));

const DbProgress = z
  .object({
    phase: z.enum(TRAINING_PHASES),
    rows_done: z.number(),
    rows_total: z.number(),
    pass: z.number().int(),
  })
  .transform((p): TrainingProgress => ({
    phase: p.phase,
    rowsDone: p.rows_done,
    rowsTotal: p.rows_total,
    pass: p.pass,
  }));

/** Schema of a `models` row as node-postgres returns it (untrusted until parsed). */
const DbModelRow = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(MODEL_STATUSES),
    error: z.string().nullable(),
    dataset_id: z.string().nullable(),
    params: z.record(z.string(), z.unknown()),
    model: z.record(z.string(), z.unknown()).nullable(),
    artifact_path: z.string().nullable(),
    n_samples: count.nullable(),
    timings: DbTimings.nullable(),
    progress: DbProgress.nullable(),
    lease_owner: z.string().nullable(),
    lease_expires_at: z.date().nullable(),
    created_at: z.date(),
    started_at: z.date().nullable(),
    finished_at: z.date().nullable(),
  })
  .transform((r): ModelRow => ({
    id: r.id,
    name: r.name,
    status: r.status,
    error: r.error,
    datasetId: r.dataset_id,
    params: r.params,
    model: r.model,
    artifactPath: r.artifact_path,
    nSamples: r.n_samples,
    timings: r.timings,
    progress: r.progress,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  }));

const COLUMNS =
  'id, name, status, error, dataset_id, params, model, artifact_path, n_samples, timings, progress, lease_owner, lease_expires_at, created_at, started_at, finished_at';

// The list leaves the model document out (it is the bulk of a row); its summary fields are
// picked in SQL instead.
const LIST_COLUMNS = COLUMNS.replace(' model,', ' NULL::jsonb AS model,');

function progressJson(p: TrainingProgress): string {
  return JSON.stringify({ phase: p.phase, rows_done: p.rowsDone, rows_total: p.rowsTotal, pass: p.pass });
}

/** {@link TrainingTimings} as stored in `models.timings` and reported (snake_case). */
export interface TrainingTimingsJson {
  moments_s: number;
  robust_s: number;
  limits_s: number;
  artifact_write_s: number;
  total_s: number;
  passes: number;
  rows_per_s: number;
  peak_rss_mb: number;
}

/** `models.timings` as stored (snake_case). */
export function timingsJson(t: TrainingTimings): TrainingTimingsJson {
  return {
    moments_s: t.momentsS,
    robust_s: t.robustS,
    limits_s: t.limitsS,
    artifact_write_s: t.artifactWriteS,
    total_s: t.totalS,
    passes: t.passes,
    rows_per_s: t.rowsPerS,
    peak_rss_mb: t.peakRssMb,
  };
}

/** What {@link createModel} needs. */
export interface NewModel {
  id: string;
  name: string;
  datasetId: string;
  /** Training parameters, snake_case as on the wire; stored as they are. */
  params: Record<string, unknown>;
  /** The server process that will train it (its lease holder). */
  owner: string;
}

/**
 * Records a new training as `pending`, its lease held by `owner`.
 *
 * @returns the stored row
 * @throws ConflictError when a model with this id exists
 */
export async function createModel(pool: Queryable, m: NewModel): Promise<ModelRow> {
  return withDatabaseErrors(async () => {
    try {
      const { rows } = await pool.query(
        `INSERT INTO models (id, name, status, dataset_id, params, progress, lease_owner, lease_expires_at)
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, ${LEASE_EXPIRY_SQL})
         RETURNING ${COLUMNS}`,
        [
          m.id,
          m.name,
          m.datasetId,
          JSON.stringify(m.params),
          progressJson({ phase: 'queued', rowsDone: 0, rowsTotal: 0, pass: 0 }),
          m.owner,
        ],
      );
      const row = DbModelRow.parse(rows[0]);
      await notifyModelStatus(pool, row.id);
      return row;
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`model ${m.id} already exists`);
      throw err;
    }
  });
}

/**
 * Moves a pending training held by `owner` to `running` and renews the lease.
 *
 * @throws ConflictError when it is not pending under `owner`'s lease
 */
export async function markModelRunning(pool: Queryable, id: string, owner: string): Promise<void> {
  await withDatabaseErrors(async () => {
    await startLeasedWork(pool, 'models', id, owner);
    await notifyModelStatus(pool, id);
  });
}

/**
 * Records a running training's progress and renews its lease (the heartbeat).
 *
 * @throws ConflictError when the lease is lost (the training was failed or taken over): the
 *   training must stop
 */
export async function updateModelProgress(
  pool: Queryable,
  id: string,
  owner: string,
  progress: TrainingProgress,
): Promise<void> {
  await withDatabaseErrors(async () => {
    await updateLeasedRunning(
      pool,
      'models',
      id,
      owner,
      `progress = $3, lease_expires_at = ${LEASE_EXPIRY_SQL}`,
      [progressJson(progress)],
    );
    await notifyModelProgress(pool, id);
  });
}

/** What a completed training records. */
export interface CompletedModel {
  /** The `model.json` document. */
  model: Record<string, unknown>;
  artifactPath: string | null;
  nSamples: number;
  timings: TrainingTimings;
}

/**
 * Marks a running training completed with its model and releases the lease.
 *
 * @throws ConflictError when it is not running under `owner`'s lease
 */
export async function markModelCompleted(
  pool: Queryable,
  id: string,
  owner: string,
  done: CompletedModel,
): Promise<void> {
  await withDatabaseErrors(async () => {
    await updateLeasedRunning(
      pool,
      'models',
      id,
      owner,
      `status = 'completed', model = $3, artifact_path = $4, n_samples = $5, timings = $6,
       progress = $7, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL`,
      [
        JSON.stringify(done.model),
        done.artifactPath,
        done.nSamples,
        JSON.stringify(timingsJson(done.timings)),
        progressJson({
          phase: 'done',
          rowsDone: done.nSamples,
          rowsTotal: done.nSamples,
          pass: done.timings.passes,
        }),
      ],
    );
    await notifyModelStatus(pool, id);
  });
}

/**
 * Marks a pending or running training failed with `error` (no model, no artifact). A training
 * that already finished is left alone.
 *
 * @param owner - when given, only a training held by this owner is failed (a holder failing its
 *   own work); when omitted, any pending or running one (the reaper, after claiming the lease)
 * @returns true when the training was failed by this call
 */
export async function markModelFailed(
  pool: Queryable,
  id: string,
  error: string,
  owner?: string,
): Promise<boolean> {
  return withDatabaseErrors(async () => {
    const { rowCount } = await pool.query(
      `UPDATE models
          SET status = 'failed', error = $2, model = NULL, artifact_path = NULL, finished_at = now(),
              lease_owner = NULL, lease_expires_at = NULL
        WHERE id = $1 AND status IN ('pending', 'running') AND ($3::text IS NULL OR lease_owner = $3)`,
      [id, error, owner ?? null],
    );
    if (rowCount !== 1) return false;
    await notifyModelStatus(pool, id);
    return true;
  });
}

/** Reads one model, or null when there is none with this id. */
export async function getModel(pool: Queryable, id: string): Promise<ModelRow | null> {
  return withDatabaseErrors(async () => {
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM models WHERE id = $1`, [id]);
    return rows.length === 0 ? null : DbModelRow.parse(rows[0]);
  });
}

/**
 * The id of the newest completed model whose artifact is `artifactPath`, else of the newest
 * completed model whose stored document equals `model`; null when none matches.
 *
 * @param pool - pool or client
 * @param artifactPath - an absolute path of a model.json
 * @param model - a model document (model.json's content)
 */
export async function findCompletedModelId(
  pool: Queryable,
  artifactPath: string,
  model: unknown,
): Promise<string | null> {
  return withDatabaseErrors(async () => {
    const { rows } = await pool.query<{ id: string }>(
      `SELECT id::text AS id FROM models
       WHERE status = 'completed' AND (artifact_path = $1 OR model = $2::jsonb)
       ORDER BY (artifact_path = $1) DESC NULLS LAST, created_at DESC LIMIT 1`,
      [artifactPath, JSON.stringify(model)],
    );
    return rows[0]?.id ?? null;
  });
}

/** Options of {@link listModels}. */
export interface ListModelsOptions {
  /** Page size (the caller validates its range). */
  limit: number;
  /** Cursor from the previous page's `nextCursor`, if any. */
  cursor?: string | null;
  /** Only models in this state. */
  status?: ModelStatus;
  /** Only models trained on this dataset. */
  datasetId?: string;
}

/** A model in a list: the row without its document, plus the document's headline figures. */
export interface ModelListItem extends ModelRow {
  /** Metrics, k and limits of a completed model (null otherwise). */
  summary: { nComponents: number; speLimit: number; t2Limit: number; zLimit: number } | null;
}

const DbSummary = z
  .object({
    s_k: z.number().nullable(),
    s_spe: z.number().nullable(),
    s_t2: z.number().nullable(),
    s_z: z.number().nullable(),
  })
  .transform((s) =>
    s.s_k === null || s.s_spe === null || s.s_t2 === null || s.s_z === null
      ? null
      : { nComponents: s.s_k, speLimit: s.s_spe, t2Limit: s.s_t2, zLimit: s.s_z },
  );

/**
 * Lists models newest first, one page at a time, without their documents.
 *
 * @throws ValidationError when the cursor is malformed
 */
export async function listModels(pool: Queryable, options: ListModelsOptions): Promise<Page<ModelListItem>> {
  const params: unknown[] = [];
  const where = [keysetCondition(options.cursor, params)];
  if (options.status) {
    params.push(options.status);
    where.push(`status = $${params.length}`);
  }
  if (options.datasetId) {
    params.push(options.datasetId);
    where.push(`dataset_id = $${params.length}`);
  }
  params.push(options.limit + 1);
  return withDatabaseErrors(async () => {
    const { rows } = await pool.query(
      `SELECT ${LIST_COLUMNS}, ${cursorTimestampSql()} AS cursor_ts,
              (model->>'n_components')::float8 AS s_k, (model->>'spe_limit')::float8 AS s_spe,
              (model->>'t2_limit')::float8 AS s_t2, (model->>'z_limit')::float8 AS s_z
         FROM models
        WHERE ${where.join(' AND ')}
        ORDER BY created_at DESC, id DESC
        LIMIT $${params.length}`,
      params,
    );
    const parsed = rows.map((r) => ({
      row: { ...DbModelRow.parse(r), summary: DbSummary.parse(r) },
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
 * Deletes a finished (completed or failed) model; its scoring jobs, their scores' rows and its
 * alerts and inference runs go with it. The artifact file, if any, is left to its owner.
 *
 * @throws NotFoundError when there is no such model
 * @throws ConflictError while it is training, or while a scoring job on it is pending or running
 */
export async function deleteModel(pool: Pool, id: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    const { rows } = await client.query('SELECT status FROM models WHERE id = $1 FOR UPDATE', [id]);
    if (rows.length === 0) throw new NotFoundError('model', id);
    const { status } = z.object({ status: z.enum(MODEL_STATUSES) }).parse(rows[0]);
    if (status === 'pending' || status === 'running') {
      throw new ConflictError(
        `model ${id} is ${status}; it can be deleted once its training has completed or failed`,
        {
          id,
          status,
        },
      );
    }
    const jobs = await client.query(
      `SELECT id FROM jobs WHERE model_id = $1 AND status IN ('pending', 'running') LIMIT 1`,
      [id],
    );
    if (jobs.rows.length > 0) {
      const { id: jobId } = z.object({ id: z.string() }).parse(jobs.rows[0]);
      throw new ConflictError(
        `model ${id} is in use by scoring job ${jobId}; cancel it or wait for it to finish`,
        {
          id,
          job_id: jobId,
        },
      );
    }
    // Score partitions are per job: drop those of this model's jobs before the rows cascade.
    const { rows: jobIds } = await client.query('SELECT id FROM jobs WHERE model_id = $1', [id]);
    for (const j of jobIds) await dropJobScoresPartition(client, z.object({ id: z.string() }).parse(j).id);
    await notifyModelStatus(client, id, true);
    await client.query('DELETE FROM models WHERE id = $1', [id]);
  });
}

/**
 * The models' reap action: claims trainings whose lease expired while pending or running and
 * fails them as "interrupted". Register it with the server's reaper under `models`.
 *
 * @returns how many trainings were failed
 */
export async function reapExpiredModels(pool: Pool, owner: string): Promise<number> {
  const ids = await claimExpiredLeases(pool, 'models', owner);
  let failed = 0;
  for (const id of ids) {
    if (await markModelFailed(pool, id, MODEL_INTERRUPTED, owner)) failed += 1;
  }
  return failed;
}
