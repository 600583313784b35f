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

/** Lifecycle states of a dataset. */
export const DATASET_STATUS_VALUES = ['pending', 'running', 'completed', 'failed'] as const;

/**
 * Body of `POST /datasets`: generation parameters (snake_case, every field optional with the
 * documented defaults; `{"host_count": 10}` alone is enough).
 */
export const CreateDatasetRequestSchema = GenerateParamsWireSchema;
export type CreateDatasetRequest = z.input<typeof CreateDatasetRequestSchema>;

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
