/**
 * Wire contract of training and the model routes: `POST /train`, `GET /models`,
 * `GET /models/:id`, `DELETE /models/:id`. Everything on the wire is snake_case; the request
 * schema hands the rest of TADS camelCase values.
 */
import { z } from 'zod';
import {
  IdParamsSchema,
  oneOf,
  PAGE_LIMITS,
  onceParsed,
  pageSchema,
  paginationQueryShape,
  queryObject,
  showValue,
  text,
  TimestampSchema,
  Id,
} from './common.js';

/** Lifecycle states of a model: pending → running → completed | failed. */
export const MODEL_STATUS_VALUES = ['pending', 'running', 'completed', 'failed'] as const;
/** Stages of a training, as its progress reports them. */
export const TRAINING_PHASE_VALUES = ['queued', 'moments', 'robust', 'limits', 'artifact', 'done'] as const;

/** Longest model name accepted. */
export const MODEL_NAME_MAX = 200;
/** Name given to a model when the request has none. */
export const DEFAULT_MODEL_NAME = 'pca_v1';

const finite = (name: string, range: string) =>
  z.number({ error: (iss) => `${name} must be a number in ${range}; got ${showValue(iss.input)}` });

/**
 * Body of `POST /train`. `variance` and `n_components` choose k and exclude each other;
 * labelled anomalies are trained on unless `exclude_labelled_anomalies` is true.
 */
export const TrainRequestSchema = z
  .strictObject(
    {
      dataset_id: Id,
      name: text(
        'name',
        (iss) => `name must be a text of 1 to ${MODEL_NAME_MAX} characters; got ${showValue(iss.input)}`,
      )
        .trim()
        .min(1, { error: `name must be a text of 1 to ${MODEL_NAME_MAX} characters; got an empty text` })
        .max(MODEL_NAME_MAX, {
          error: `name must be a text of 1 to ${MODEL_NAME_MAX} characters; got a longer text`,
        })
        .optional(),
      variance: finite('variance', '(0, 1]')
        .gt(0, { error: (iss) => `variance must be a number in (0, 1]; got ${showValue(iss.input)}` })
        .max(1, { error: (iss) => `variance must be a number in (0, 1]; got ${showValue(iss.input)}` })
        .optional(),
      n_components: z
        .number({ error: (iss) => `n_components must be a positive integer; got ${showValue(iss.input)}` })
        .int({ error: (iss) => `n_components must be a positive integer; got ${showValue(iss.input)}` })
        .min(1, { error: (iss) => `n_components must be a positive integer; got ${showValue(iss.input)}` })
        .max(64, {
          error: (iss) => `n_components must be a positive integer at most 64; got ${showValue(iss.input)}`,
        })
        .optional(),
      alpha: finite('alpha', '(0, 0.5)')
        .gt(0, { error: (iss) => `alpha must be a number in (0, 0.5); got ${showValue(iss.input)}` })
        .lt(0.5, { error: (iss) => `alpha must be a number in (0, 0.5); got ${showValue(iss.input)}` })
        .optional(),
      z_limit: finite('z_limit', '(0, 1e6]')
        .gt(0, { error: (iss) => `z_limit must be a number in (0, 1e6]; got ${showValue(iss.input)}` })
        .max(1e6, { error: (iss) => `z_limit must be a number in (0, 1e6]; got ${showValue(iss.input)}` })
        .optional(),
      exclude_labelled_anomalies: z
        .boolean({
          error: (iss) => `exclude_labelled_anomalies must be true or false; got ${showValue(iss.input)}`,
        })
        .optional(),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.join(', ')}`
          : `body must be a JSON object; got ${showValue(iss.input)}`,
    },
  )
  .refine((b) => b.variance === undefined || b.n_components === undefined, {
    error: 'give either variance or n_components, not both',
    path: ['n_components'],
    ...onceParsed,
  })
  .transform((b) => ({
    datasetId: b.dataset_id,
    name: b.name ?? DEFAULT_MODEL_NAME,
    variance: b.variance,
    nComponents: b.n_components,
    alpha: b.alpha,
    zLimit: b.z_limit,
    excludeLabelledAnomalies: b.exclude_labelled_anomalies ?? false,
  }));
/** The body of `POST /train` as sent. */
export type TrainRequest = z.input<typeof TrainRequestSchema>;
/** The parsed (camelCase) body of `POST /train`. */
export type TrainRequestParsed = z.output<typeof TrainRequestSchema>;

/** Where a training stands. */
export const TrainingProgressSchema = z.object({
  phase: z.enum(TRAINING_PHASE_VALUES),
  /** The pass over the rows under way (1: the moments pass; 0 while queued). */
  pass: z.number().int().nonnegative(),
  rows_done: z.number().int().nonnegative(),
  rows_total: z.number().int().nonnegative(),
});
export type TrainingProgressWire = z.infer<typeof TrainingProgressSchema>;

/** Where a training's time went, in seconds. */
export const TrainingTimingsSchema = z.object({
  /** The streaming moments pass (with the robust statistics' first histograms). */
  moments_s: z.number().nonnegative(),
  /** The further passes of the exact robust statistics. */
  robust_s: z.number().nonnegative(),
  /** Eigendecomposition, k and limits. */
  limits_s: z.number().nonnegative(),
  /** Writing model.json (0 without an artifact). */
  artifact_write_s: z.number().nonnegative(),
  total_s: z.number().nonnegative(),
  /** Passes over the rows, the moments pass included. */
  passes: z.number().int().nonnegative(),
  rows_per_s: z.number().nonnegative(),
  peak_rss_mb: z.number().nonnegative(),
});
export type TrainingTimingsWire = z.infer<typeof TrainingTimingsSchema>;

/** The headline of a completed model's `model.json`. */
export const ModelSummarySchema = z.object({
  metrics: z.array(z.string()),
  n_components: z.number().int().positive(),
  n_samples: z.number().int().nonnegative(),
  /** Eigenvalues of the kept components. */
  eigenvalues: z.array(z.number()),
  /** Explained variance ratio of each kept component. */
  explained_variance_ratio: z.array(z.number()),
  /** Their sum. */
  cumulative_explained_variance: z.number(),
  spe_limit: z.number().nullable(),
  t2_limit: z.number(),
  z_limit: z.number(),
  /** How each limit was set (as in model.json). */
  limits: z.record(z.string(), z.unknown()),
  median: z.array(z.number()),
  mad: z.array(z.number()),
  z_scale: z.array(z.number()),
});
export type ModelSummaryWire = z.infer<typeof ModelSummarySchema>;

/** A model as `GET /models` lists it. */
export const ModelListItemSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(MODEL_STATUS_VALUES),
  /** Why it failed (`interrupted` when its server went away), else null. */
  error: z.string().nullable(),
  /** The dataset trained on (null once that dataset is deleted). */
  dataset_id: z.uuid().nullable(),
  /** The training parameters, snake_case. */
  params: z.record(z.string(), z.unknown()),
  progress: TrainingProgressSchema.nullable(),
  n_samples: z.number().int().nonnegative().nullable(),
  n_components: z.number().int().positive().nullable(),
  artifact_path: z.string().nullable(),
  created_at: TimestampSchema,
  started_at: TimestampSchema.nullable(),
  finished_at: TimestampSchema.nullable(),
});
export type ModelListItemWire = z.infer<typeof ModelListItemSchema>;

/** A model as `GET /models/:id` returns it: status and progress, and once completed its summary. */
export const ModelSchema = ModelListItemSchema.extend({
  timings: TrainingTimingsSchema.nullable(),
  summary: ModelSummarySchema.nullable(),
  /** The whole `model.json` document once completed, else null. */
  model: z.record(z.string(), z.unknown()).nullable(),
});
export type ModelWire = z.infer<typeof ModelSchema>;

/** A page of `GET /models`, newest first. */
export const ModelListSchema = pageSchema(ModelListItemSchema);
export type ModelListWire = z.infer<typeof ModelListSchema>;

/** Query of `GET /models`: `limit` (1–500, default 50), `cursor`, optional `status`, `dataset_id`. */
export const ListModelsQuerySchema = queryObject({
  ...paginationQueryShape,
  status: oneOf('status', MODEL_STATUS_VALUES).optional(),
  dataset_id: Id.optional(),
}).transform((q) => ({
  limit: q.limit ?? PAGE_LIMITS.default,
  cursor: q.cursor,
  status: q.status,
  datasetId: q.dataset_id,
}));
export type ListModelsQuery = z.input<typeof ListModelsQuerySchema>;

/** Path parameters of `/models/:id`. */
export const ModelParamsSchema = IdParamsSchema;

/** `POST /train`'s answer (202): the new model's id, its training under way. */
export const TrainAcceptedSchema = z.object({
  id: z.uuid(),
  model_id: z.uuid(),
  status: z.enum(MODEL_STATUS_VALUES),
});
export type TrainAcceptedWire = z.infer<typeof TrainAcceptedSchema>;

/** `DELETE /models/:id`: what was deleted. */
export const ModelDeletedSchema = z.object({ id: z.uuid(), deleted: z.literal(true) });
export type ModelDeletedWire = z.infer<typeof ModelDeletedSchema>;
