/**
 * Wire contract of online scoring: the body of `POST /inference` and its answer, and the
 * inference runs of `GET /inference_runs` and `GET /inference_runs/:id`. Everything on the wire
 * is snake_case; request schemas hand the rest of TADS camelCase values.
 *
 * Limits: a request scores 1 to {@link INFERENCE_MAX_RECORDS} records (more is answered 413).
 * The server's body limit (`BODY_LIMIT`) applies as well; a record of eight full-precision
 * metrics takes about 250 bytes of JSON.
 *
 * A record whose metric is missing, null or not finite (JSON cannot carry NaN; `1e999` parses to
 * Infinity) is not an error: it is scored as invalid — its scores are null, it is not anomalous
 * and it has no top metric — and counted in `invalid_count`. Anything else malformed (a metric
 * that is not a number, a bad timestamp, an unknown field) fails the whole request with 400 and
 * the path of the field, e.g. `records.3.cpu_usage`.
 */
import { z } from 'zod';
import { METRICS, metricsOf, type MetricName } from './vocabulary.js';
import {
  IdParamsSchema,
  PAGE_LIMITS,
  pageSchema,
  paginationQueryShape,
  queryObject,
  showValue,
  text,
  TimestampSchema,
  Id,
} from './common.js';

/** The eight metrics, in model order. */
export const INFERENCE_METRICS = METRICS;
export type InferenceMetric = MetricName;

/** Most records one `POST /inference` may carry. */
export const INFERENCE_MAX_RECORDS = 10_000;
/** Longest `host_id` accepted. */
export const INFERENCE_HOST_ID_MAX_LENGTH = 200;

// Arrays and objects are described by kind, not echoed: a request may hold thousands of records.
const show = (v: unknown): string => {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  return showValue(v);
};

// RFC 3339 with an explicit offset; fractional seconds of any precision (Date.parse keeps ms).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

/** A record's timestamp: RFC 3339 text in, milliseconds since the Unix epoch out. */
const tsField = z
  .string({
    error: (iss) => `ts must be an RFC 3339 timestamp, e.g. 2024-01-01T00:00:00Z; got ${show(iss.input)}`,
  })
  .transform((s, ctx) => {
    const ms = RFC3339.test(s) ? Date.parse(s) : NaN;
    if (!Number.isFinite(ms)) {
      ctx.addIssue({
        code: 'custom',
        message: `ts must be an RFC 3339 timestamp with an offset, e.g. 2024-01-01T00:00:00Z; got ${show(s)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

const hostIdField = text('host_id', (iss) => `host_id must be a non-empty string; got ${show(iss.input)}`)
  .min(1, { error: () => 'host_id must be a non-empty string; got ""' })
  .max(INFERENCE_HOST_ID_MAX_LENGTH, {
    error: (iss) =>
      `host_id must be at most ${INFERENCE_HOST_ID_MAX_LENGTH} characters; got ${(iss.input as string).length}`,
  });

/**
 * A metric's value: any JSON number (a non-finite one makes the record invalid), or null or
 * absent (the record is invalid). Anything else is a malformed request.
 */
const metricField = (name: string) =>
  z
    .custom<number | null>((v) => v === null || typeof v === 'number', {
      error: (iss) => `${name} must be a number or null; got ${show(iss.input)}`,
    })
    .optional();

const textField = (name: string) =>
  text(name, (iss) => `${name} must be a string; got ${show(iss.input)}`).max(200, {
    error: (iss) => `${name} must be at most 200 characters; got ${(iss.input as string).length}`,
  });

/** One telemetry record on the wire. `project_id` and `region` are accepted and not used. */
export const InferenceRecordWireSchema = z.strictObject(
  {
    host_id: hostIdField,
    ts: tsField,
    project_id: textField('project_id').optional(),
    region: textField('region').optional(),
    cpu_usage: metricField('cpu_usage'),
    memory_usage: metricField('memory_usage'),
    disk_io: metricField('disk_io'),
    network_in: metricField('network_in'),
    network_out: metricField('network_out'),
    load_avg: metricField('load_avg'),
    latency_ms: metricField('latency_ms'),
    error_rate: metricField('error_rate'),
  },
  {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.join(', ')}; expected host_id, ts, project_id, region and the metrics ${INFERENCE_METRICS.join(', ')}`
        : `record must be an object; got ${show(iss.input)}`,
  },
);

/** A parsed record: camelCase keys, `ts` in ms, the metrics by name (undefined when absent). */
export interface InferenceRecord {
  hostId: string;
  /** Milliseconds since the Unix epoch. */
  ts: number;
  metrics: Partial<Record<InferenceMetric, number | null>>;
}

/** Body of `POST /inference`. */
export const InferenceRequestSchema = z
  .strictObject(
    {
      model_id: Id,
      records: z
        .array(InferenceRecordWireSchema, {
          error: (iss) => `records must be an array of telemetry records; got ${show(iss.input)}`,
        })
        .min(1, { error: () => 'records must hold at least 1 record; got an empty array' })
        .max(INFERENCE_MAX_RECORDS, {
          error: (iss) =>
            `records must hold at most ${INFERENCE_MAX_RECORDS} records; got ${(iss.input as unknown[]).length}`,
        }),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `inference request: unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.join(', ')}; expected model_id and records`
          : `inference request must be an object; got ${show(iss.input)}`,
    },
  )
  .transform((b) => ({
    modelId: b.model_id,
    records: b.records.map((r): InferenceRecord => ({
      hostId: r.host_id,
      ts: r.ts,
      metrics: metricsOf(r),
    })),
  }));
/** The body of `POST /inference` as sent (snake_case). */
export type InferenceRequestWire = z.input<typeof InferenceRequestSchema>;
/** The parsed (camelCase) body of `POST /inference`. */
export type InferenceRequest = z.output<typeof InferenceRequestSchema>;

/**
 * The scores of one record. Invalid records (a metric missing or not finite) have null scores,
 * `anomalous` false, `top_metric` null and `valid` false.
 */
export const InferenceResultSchema = z.object({
  /** max(SPE / spe_limit, z_max / z_limit); anomalous when ≥ 1. */
  fused: z.number().nullable(),
  /** Squared prediction error (residual) in standardised units. */
  spe: z.number().nullable(),
  /** Hotelling's T² in the principal subspace (reported, not fused). */
  t2: z.number().nullable(),
  /** Largest robust |z| over the metrics. */
  z_max: z.number().nullable(),
  anomalous: z.boolean(),
  /** The metric that explains the score most, or null for an invalid record. */
  top_metric: z.enum(INFERENCE_METRICS).nullable(),
  valid: z.boolean(),
});
export type InferenceResultWire = z.infer<typeof InferenceResultSchema>;

/** Answer of `POST /inference`: one result per record, in request order. */
export const InferenceResponseSchema = z.object({
  /** The inference run this call was recorded as (`GET /inference_runs/:id`). */
  run_id: z.uuid(),
  model_id: z.uuid(),
  results: z.array(InferenceResultSchema),
  record_count: z.number().int().nonnegative(),
  invalid_count: z.number().int().nonnegative(),
  anomalous_count: z.number().int().nonnegative(),
  /** Server time from the parsed request to the scored results (model loading included), ms. */
  latency_ms: z.number().nonnegative(),
});
export type InferenceResponseWire = z.infer<typeof InferenceResponseSchema>;

/** One recorded call of `POST /inference`. */
export const InferenceRunSchema = z.object({
  id: z.uuid(),
  model_id: z.uuid(),
  record_count: z.number().int().nonnegative(),
  invalid_count: z.number().int().nonnegative(),
  anomalous_count: z.number().int().nonnegative(),
  latency_ms: z.number().nonnegative(),
  created_at: TimestampSchema,
});
export type InferenceRunWire = z.infer<typeof InferenceRunSchema>;

/** A page of `GET /inference_runs`, newest first; `next_cursor` is null on the last page. */
export const InferenceRunListSchema = pageSchema(InferenceRunSchema);
export type InferenceRunListWire = z.infer<typeof InferenceRunListSchema>;

/** Query of `GET /inference_runs`: `limit` (1–500, default 50), `cursor`, `model_id`. */
export const ListInferenceRunsQuerySchema = queryObject({
  ...paginationQueryShape,
  model_id: Id.optional(),
}).transform((q) => ({ limit: q.limit ?? PAGE_LIMITS.default, cursor: q.cursor, modelId: q.model_id }));
/** The parsed query of `GET /inference_runs`. */
export type ListInferenceRunsQuery = z.output<typeof ListInferenceRunsQuerySchema>;

/** Path parameters of `GET /inference_runs/:id`. */
export const InferenceRunParamsSchema = IdParamsSchema;
