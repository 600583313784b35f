/**
 * Wire contract of dataset scoring jobs (DESIGN.md "Jobs"): the request of
 * `POST /jobs/score_dataset`, the query of `GET /jobs`, and the job, list and progress
 * responses. Everything on the wire is snake_case; request schemas hand the rest of TADS
 * camelCase values.
 */
import { z } from 'zod';
import { POLICY_NAMES } from './vocabulary.js';
import {
  IdParamsSchema,
  oneOf,
  PAGE_LIMITS,
  pageSchema,
  paginationQueryShape,
  queryObject,
  showValue,
  Id,
} from './common.js';

/** Statuses a job goes through: pending → running → completed | failed | cancelled. */
export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
/** Phases of a running job: scoring the rows, then replaying the scores into alerts. */
export const JOB_PHASES = ['scoring', 'alerts', 'done'] as const;
/** Smallest and largest chunk a job may walk the dataset in, in rows. */
export const CHUNK_ROWS_MIN = 100;
export const CHUNK_ROWS_MAX = 1_000_000;
/** Chunk size used when a request does not give one. */
export const CHUNK_ROWS_DEFAULT = 50_000;

/** Body of `POST /jobs/score_dataset`. */
export const ScoreDatasetRequestSchema = z
  .strictObject({
    model_id: Id,
    dataset_id: Id,
    chunk_rows: z
      .number({ error: (iss) => `chunk_rows must be an integer; got ${showValue(iss.input)}` })
      .int({ error: (iss) => `chunk_rows must be an integer; got ${showValue(iss.input)}` })
      .min(CHUNK_ROWS_MIN, {
        error: (iss) =>
          `chunk_rows must be an integer in [${CHUNK_ROWS_MIN}, ${CHUNK_ROWS_MAX}]; got ${showValue(iss.input)}`,
      })
      .max(CHUNK_ROWS_MAX, {
        error: (iss) =>
          `chunk_rows must be an integer in [${CHUNK_ROWS_MIN}, ${CHUNK_ROWS_MAX}]; got ${showValue(iss.input)}`,
      })
      .optional(),
    policy: oneOf('policy', POLICY_NAMES).optional(),
  })
  .transform((b) => ({
    modelId: b.model_id,
    datasetId: b.dataset_id,
    chunkRows: b.chunk_rows ?? CHUNK_ROWS_DEFAULT,
    policy: b.policy ?? 'default',
  }));
/** The parsed (camelCase) body of `POST /jobs/score_dataset`. */
export type ScoreDatasetRequest = z.output<typeof ScoreDatasetRequestSchema>;

/** Query of `GET /jobs`: newest first, `limit` per page, `cursor` from the previous page, filters. */
export const ListJobsQuerySchema = queryObject({
  ...paginationQueryShape,
  model_id: Id.optional(),
  dataset_id: Id.optional(),
  status: oneOf('status', JOB_STATUSES).optional(),
}).transform((q) => ({
  limit: q.limit ?? PAGE_LIMITS.default,
  cursor: q.cursor,
  modelId: q.model_id,
  datasetId: q.dataset_id,
  status: q.status,
}));
/** The parsed query of `GET /jobs`. */
export type ListJobsQuery = z.output<typeof ListJobsQuerySchema>;

/** Path parameters `{ id }` of the job routes. */
export const JobParamsSchema = IdParamsSchema;

/** Time spent per phase, in milliseconds, accumulated over every run of the job. */
export const JobTimingsSchema = z.object({
  scoring_ms: z.number().nonnegative(),
  alerts_ms: z.number().nonnegative(),
  /** How many times the job was started or resumed (1 for a job that was never interrupted). */
  runs: z.number().int().nonnegative(),
  /** When the current or last run started (RFC 3339), and the rows already done then. */
  run_started_at: z.string().nullable(),
  run_start_rows: z.number().int().nonnegative(),
});
export type JobTimingsWire = z.infer<typeof JobTimingsSchema>;

/** A job as `GET /jobs/:id` returns it. */
export const JobSchema = z.object({
  id: z.uuid(),
  kind: z.literal('score_dataset'),
  model_id: z.uuid(),
  dataset_id: z.uuid(),
  status: z.enum(JOB_STATUSES),
  phase: z.enum(JOB_PHASES),
  error: z.string().nullable(),
  chunk_rows: z.number().int().positive(),
  policy: z.enum(POLICY_NAMES),
  rows_total: z.number().int().nonnegative(),
  rows_done: z.number().int().nonnegative(),
  timings: JobTimingsSchema,
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});
export type JobWire = z.infer<typeof JobSchema>;

/** A page of `GET /jobs`. */
export const JobListSchema = pageSchema(JobSchema);
export type JobListWire = z.infer<typeof JobListSchema>;

/** `GET /jobs/:id/progress`: how far the job is and how fast it goes. */
export const JobProgressSchema = z.object({
  job_id: z.uuid(),
  status: z.enum(JOB_STATUSES),
  phase: z.enum(JOB_PHASES),
  rows_done: z.number().int().nonnegative(),
  rows_total: z.number().int().nonnegative(),
  /** rows_done / rows_total, 1 for an empty dataset. */
  fraction: z.number().min(0).max(1),
  /** Rows per second of the current run; null before the first chunk of a run. */
  rate_rows_per_s: z.number().nonnegative().nullable(),
  /** Seconds until scoring is done at that rate; null when the rate is unknown or the job is over. */
  eta_s: z.number().nonnegative().nullable(),
});
export type JobProgressWire = z.infer<typeof JobProgressSchema>;
