/**
 * Wire contract of the dataset routes: `POST /datasets` (generation parameters, see
 * ./generator.ts), `GET /datasets`, `GET /datasets/:id`, `DELETE /datasets/:id`.
 */
import { z } from 'zod';
import {
  IdParamsSchema,
  oneOf,
  PAGE_LIMITS,
  pageSchema,
  paginationQueryShape,
  queryObject,
  TimestampSchema,
} from './common.js';
import { GenerateParamsWireSchema } from './generator.js';
import {
  DATASET_SOURCES,
  MAX_LABELS,
  MAX_METRICS,
  METRIC_NAME_PATTERN,
  RESERVED_NAMES,
} from './vocabulary.js';

/** Lifecycle states of a dataset. */
export const DATASET_STATUS_VALUES = ['pending', 'running', 'completed', 'failed'] as const;

/**
 * Body of `POST /datasets`: generation parameters (snake_case, every field optional with the
 * documented defaults; `{"host_count": 10}` alone is enough).
 */
export const CreateDatasetRequestSchema = GenerateParamsWireSchema;
export type CreateDatasetRequest = z.input<typeof CreateDatasetRequestSchema>;

/** A metric's or label's name: `^[A-Za-z_:][A-Za-z0-9_:.]{0,199}$`, not one of the record's fields. */
export const MetricNameSchema = z
  .string()
  .regex(METRIC_NAME_PATTERN, {
    error: (iss) =>
      `a name must match ${String(METRIC_NAME_PATTERN)} (letters, digits, _ : and .); got ${JSON.stringify(iss.input)}`,
  })
  .refine((n) => !(RESERVED_NAMES as readonly string[]).includes(n), {
    error: (iss) => `${JSON.stringify(iss.input)} is a record field, not a metric or label name`,
  });

/** Names of a list that must not repeat, and the first that does. */
function firstRepeat(names: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) return n;
    seen.add(n);
  }
  return undefined;
}

/** A dataset's metrics, in column order: 1 – 1,024 unique names. */
export const MetricSetSchema = z
  .array(MetricNameSchema)
  .min(1, 'a dataset declares at least one metric')
  .max(MAX_METRICS, `a dataset declares at most ${MAX_METRICS} metrics`)
  .superRefine((names, ctx) => {
    const again = firstRepeat(names);
    if (again !== undefined)
      ctx.addIssue({ code: 'custom', message: `metric ${JSON.stringify(again)} appears twice` });
  });

/** A dataset's text labels: 0 – 16 unique names. */
export const LabelSetSchema = z
  .array(MetricNameSchema)
  .max(MAX_LABELS, `a dataset declares at most ${MAX_LABELS} labels`)
  .superRefine((names, ctx) => {
    const again = firstRepeat(names);
    if (again !== undefined)
      ctx.addIssue({ code: 'custom', message: `label ${JSON.stringify(again)} appears twice` });
  });

/** A dataset as the API returns it. */
export const DatasetSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(DATASET_STATUS_VALUES),
  /** Why it failed (`interrupted` when its server went away), else null. */
  error: z.string().nullable(),
  /** The generation parameters, fully defaulted, snake_case. */
  params: z.record(z.string(), z.unknown()),
  /** Rows written so far; once completed, the dataset's exact row count. */
  row_count: z.number().int().nonnegative(),
  /** Rows the generation produces. */
  rows_total: z.number().int().nonnegative(),
  host_count: z.number().int().positive(),
  /** Where its rows come from. */
  source: z.enum(DATASET_SOURCES),
  /** Its metrics, in column order (a model trained on it scores these, by name). */
  metrics: MetricSetSchema,
  /** Its text labels (per record, beside the entity `host_id`). */
  labels: LabelSetSchema,
  /** row_count / rows_total (1 for a completed dataset). */
  progress: z.number().min(0).max(1),
  /** Summary figures recorded at completion, or null. */
  stats: z.record(z.string(), z.unknown()).nullable(),
  created_at: TimestampSchema,
  started_at: TimestampSchema.nullable(),
  finished_at: TimestampSchema.nullable(),
});
export type Dataset = z.infer<typeof DatasetSchema>;

/** A page of `GET /datasets`, newest first. */
export const DatasetListSchema = pageSchema(DatasetSchema);
export type DatasetList = z.infer<typeof DatasetListSchema>;

/** Query of `GET /datasets`: `limit` (1–500, default 50), `cursor`, optional `status`. */
export const ListDatasetsQuerySchema = queryObject({
  ...paginationQueryShape,
  status: oneOf('status', DATASET_STATUS_VALUES).optional(),
}).transform((q) => ({ limit: q.limit ?? PAGE_LIMITS.default, cursor: q.cursor, status: q.status }));
export type ListDatasetsQuery = z.input<typeof ListDatasetsQuerySchema>;

/** Path parameters of `/datasets/:id`. */
export const DatasetParamsSchema = IdParamsSchema;

/** `DELETE /datasets/:id`: what was deleted. */
export const DeletedSchema = z.object({ id: z.uuid(), deleted: z.literal(true) });
export type Deleted = z.infer<typeof DeletedSchema>;
