/**
 * Wire contract of alerts (DESIGN.md "Alerts"): the query of `GET /alerts` and the alerts it
 * lists. Alerts come from the live scorer (`source` = `live`) and from dataset jobs (`source` =
 * the job's id); an alert opened over the storm cap is listed with `suppressed` true.
 */
import { z } from 'zod';
import {
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

/** States of an alert. */
export const ALERT_STATES = ['open', 'closed'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** Longest `host_id` and `source` filter accepted. */
export const ALERT_FILTER_MAX_LENGTH = 200;

const textFilter = (name: string) =>
  text(name)
    .min(1, { error: () => `${name} must be a non-empty text; got ""` })
    .max(ALERT_FILTER_MAX_LENGTH, {
      error: (iss) =>
        `${name} must be at most ${ALERT_FILTER_MAX_LENGTH} characters; got ${(iss.input as string).length}`,
    });

/**
 * Query of `GET /alerts`, newest first (by `opened_at`): `limit` (1–500, default 50), `cursor`,
 * and filters combined with AND — `host_id` (`host` is accepted as its short name), `model_id`,
 * `dataset_id`, `source` (`live` or a job id), `state` (`open` or `closed`), `suppressed`
 * (`true` or `false`).
 */
export const ListAlertsQuerySchema = queryObject({
  ...paginationQueryShape,
  host_id: textFilter('host_id').optional(),
  host: textFilter('host').optional(),
  model_id: Id.optional(),
  dataset_id: Id.optional(),
  source: textFilter('source').optional(),
  state: oneOf('state', ALERT_STATES).optional(),
  suppressed: z
    .enum(['true', 'false'], {
      error: (iss) => `suppressed must be true or false; got ${showValue(iss.input)}`,
    })
    .optional(),
})
  .superRefine((q, ctx) => {
    if (q.host_id !== undefined && q.host !== undefined && q.host_id !== q.host) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `host and host_id name the same filter and must agree; got host=${showValue(q.host)} and host_id=${showValue(q.host_id)}`,
      });
    }
  }, onceParsed)
  .transform((q) => ({
    limit: q.limit ?? PAGE_LIMITS.default,
    cursor: q.cursor,
    host: q.host_id ?? q.host,
    modelId: q.model_id,
    datasetId: q.dataset_id,
    source: q.source,
    state: q.state,
    suppressed: q.suppressed === undefined ? undefined : q.suppressed === 'true',
  }));
/** The query of `GET /alerts` as sent. */
export type ListAlertsQueryWire = z.input<typeof ListAlertsQuerySchema>;
/** The parsed query of `GET /alerts`. */
export type ListAlertsQuery = z.output<typeof ListAlertsQuerySchema>;

/** One alert. */
export const AlertSchema = z.object({
  /** The alert's id (a decimal integer, as text). */
  id: z.string(),
  /** `live` for the live scorer, else the id of the dataset job that raised it. */
  source: z.string(),
  job_id: z.uuid().nullable(),
  model_id: z.uuid().nullable(),
  /** The dataset, for job alerts; null for live alerts. */
  dataset_id: z.uuid().nullable(),
  host_id: z.string(),
  state: z.enum(ALERT_STATES),
  /** Opened over the storm cap: stored and counted, not notified. */
  suppressed: z.boolean(),
  /** Telemetry time of the record that opened the alert. */
  opened_at: TimestampSchema,
  /** Telemetry time of the record that closed it, null while open. */
  closed_at: TimestampSchema.nullable(),
  /** Largest fused score of the alert. */
  peak_score: z.number(),
  /** The metric that drove the peak score, or null. */
  top_metric: z.string().nullable(),
  /** Valid records of the host from the opening record on (through the closing one). */
  records: z.number().int().nonnegative(),
  /** When the row was last written (wall-clock time). */
  updated_at: TimestampSchema,
});
export type AlertWire = z.infer<typeof AlertSchema>;

/** A page of `GET /alerts`, newest first; `next_cursor` is null on the last page. */
export const AlertListSchema = pageSchema(AlertSchema);
export type AlertListWire = z.infer<typeof AlertListSchema>;
