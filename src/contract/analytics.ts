/**
 * Wire contract of the dataset analytics routes (DESIGN.md "Analytics"):
 * `GET /datasets/:id/summary`, `/topk`, `/timeseries` and `/histogram`.
 *
 * Every name a query may carry — a column, a metric, an aggregate, a bucket width — is checked
 * against a fixed list here, so the storage layer only ever sees members of those lists and never
 * builds SQL from a request's text. Percentiles are `percentile_cont`, the standard deviation is
 * the sample one, time buckets are aligned to the Unix epoch, and histogram bins are half-open
 * `[lo, hi)` but the last, which is closed.
 */
import { z } from 'zod';
import { onceParsed, oneOf, queryInt, queryObject, showValue, TimestampSchema } from './common.js';
import { ANOMALY_TYPES, METRICS, type MetricName } from './vocabulary.js';

/** The eight metrics, in column order. */
export const ANALYTICS_METRICS = METRICS;
export type AnalyticsMetric = MetricName;

/** Anomaly types, in their fixed order. */
export const ANALYTICS_ANOMALY_TYPES = ANOMALY_TYPES;

/** Columns `GET /topk` counts values of. */
export const TOPK_COLUMNS = ['region', 'project_id', 'host_id', 'anomaly_type'] as const;
export type TopKColumn = (typeof TOPK_COLUMNS)[number];

/** Aggregates of a time series: per bucket, over the bucket's rows. */
export const TIMESERIES_AGGS = ['mean', 'min', 'max', 'p95', 'count'] as const;
export type TimeseriesAgg = (typeof TIMESERIES_AGGS)[number];

/** Bucket widths, in seconds; buckets start at whole multiples of the width since the epoch. */
export const BUCKET_NAMES = ['1m', '5m', '1h', '1d'] as const;
export type BucketName = (typeof BUCKET_NAMES)[number];
/** Width of each bucket, in seconds. */
export const BUCKET_SECONDS: Readonly<Record<BucketName, number>> = {
  '1m': 60,
  '5m': 300,
  '1h': 3600,
  '1d': 86_400,
};

/** Named histogram ranges: the data's extremes, or its 1st and 99th percentiles. */
export const HISTOGRAM_RANGE_NAMES = ['minmax', 'p1p99'] as const;

/** Limits of the analytics queries. */
export const ANALYTICS_LIMITS = {
  /** Most histogram bins. */
  maxBins: 1000,
  /** Most values of a top-k answer. */
  maxK: 1000,
  /** Default k of a top-k answer. */
  defaultK: 10,
  /** Default bins of a histogram. */
  defaultBins: 40,
  /** Longest host id accepted in a filter. */
  maxHostIdLength: 200,
  /**
   * Most buckets one time series may span (first to last bucket of the rows asked for): a wider
   * question must use a larger bucket or a narrower time range.
   */
  maxSeriesBuckets: 200_000,
} as const;

// ---------------------------------------------------------------------------------------------
// Query pieces
// ---------------------------------------------------------------------------------------------

/** A comma-separated list of members of `values`, each at most once, at least one. */
function listParam<T extends readonly [string, ...string[]]>(name: string, values: T) {
  const allowed = new Set<string>(values);
  const msg = (input: unknown) =>
    `${name} must be a comma-separated list of ${values.join(', ')} (each at most once); got ${showValue(input)}`;
  return z
    .string({ error: (iss) => msg(iss.input) })
    .max(400, { error: (iss) => msg(iss.input) })
    .transform((s, ctx) => {
      const isMember = (x: string): x is T[number] => allowed.has(x);
      const items: T[number][] = [];
      for (const item of s.split(',')) {
        if (!isMember(item) || items.includes(item)) {
          ctx.addIssue({ code: 'custom', message: msg(s) });
          return z.NEVER;
        }
        items.push(item);
      }
      return items;
    });
}

/** A host id to filter on: printable, without spaces or quotes, bounded. */
const HostIdParam = z
  .string({ error: (iss) => `host_id must be a host id; got ${showValue(iss.input)}` })
  .regex(/^[A-Za-z0-9._:-]{1,200}$/, {
    error: (iss) =>
      `host_id must be 1–${ANALYTICS_LIMITS.maxHostIdLength} letters, digits or . _ : -; got ${showValue(iss.input)}`,
  });

/** An RFC 3339 instant (`2024-01-01T00:00:00Z`, offsets allowed), read as a Date. */
function instantParam(name: string) {
  return z
    .string({ error: (iss) => `${name} must be an RFC 3339 timestamp; got ${showValue(iss.input)}` })
    .max(40, { error: (iss) => `${name} must be an RFC 3339 timestamp; got ${showValue(iss.input)}` })
    .pipe(
      z.iso.datetime({
        offset: true,
        error: (iss) => `${name} must be an RFC 3339 timestamp; got ${showValue(iss.input)}`,
      }),
    )
    .transform((s) => new Date(s));
}

/** A histogram range as parsed: a named one, or explicit finite bounds with lo ≤ hi. */
export type HistogramRange =
  { kind: 'minmax' } | { kind: 'p1p99' } | { kind: 'explicit'; lo: number; hi: number };

/** Plain decimal or exponent notation of one finite number. */
const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$/;

/**
 * Parses a histogram `range`: `minmax`, `p1p99`, or `<lo>,<hi>` (two finite numbers, lo ≤ hi).
 *
 * @returns the parsed range, or null when `text` is none of those
 */
export function parseHistogramRange(text: string): HistogramRange | null {
  if (text === 'minmax' || text === 'p1p99') return { kind: text };
  const parts = text.split(',');
  if (parts.length !== 2) return null;
  const [a, b] = parts as [string, string];
  if (!NUMBER_TEXT.test(a) || !NUMBER_TEXT.test(b)) return null;
  const lo = Number(a);
  const hi = Number(b);
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) return null;
  return { kind: 'explicit', lo, hi };
}

const RangeParam = z
  .string({ error: (iss) => `range must be minmax, p1p99 or <lo>,<hi>; got ${showValue(iss.input)}` })
  .max(100, { error: (iss) => `range must be minmax, p1p99 or <lo>,<hi>; got ${showValue(iss.input)}` })
  .transform((s, ctx) => {
    const r = parseHistogramRange(s);
    if (r === null) {
      ctx.addIssue({
        code: 'custom',
        message: `range must be minmax, p1p99 or <lo>,<hi> with finite lo ≤ hi; got ${showValue(s)}`,
      });
      return z.NEVER;
    }
    return r;
  });

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** Query of `GET /datasets/:id/summary`: none. */
export const SummaryQuerySchema = queryObject({});

/** Query of `GET /datasets/:id/topk`: `column` (required), `k` (1–1000, default 10). */
export const TopKQuerySchema = queryObject({
  column: oneOf('column', TOPK_COLUMNS),
  k: queryInt('k', 1, ANALYTICS_LIMITS.maxK).optional(),
}).transform((q) => ({ column: q.column, k: q.k ?? ANALYTICS_LIMITS.defaultK }));
export type TopKQuery = z.output<typeof TopKQuerySchema>;

/**
 * Query of `GET /datasets/:id/timeseries`: `metrics` and `aggs` (comma-separated, from the fixed
 * lists), `bucket` (1m, 5m, 1h, 1d), optional `host_id`, `from` (inclusive) and `to` (exclusive).
 */
export const TimeseriesQuerySchema = queryObject({
  metrics: listParam('metrics', ANALYTICS_METRICS),
  aggs: listParam('aggs', TIMESERIES_AGGS),
  bucket: oneOf('bucket', BUCKET_NAMES),
  host_id: HostIdParam.optional(),
  from: instantParam('from').optional(),
  to: instantParam('to').optional(),
})
  .refine((q) => q.from === undefined || q.to === undefined || q.from.getTime() < q.to.getTime(), {
    error: 'from must be earlier than to',
    path: ['from'],
    ...onceParsed,
  })
  .transform((q) => ({
    metrics: q.metrics,
    aggs: q.aggs,
    bucket: q.bucket,
    hostId: q.host_id,
    from: q.from,
    to: q.to,
  }));
export type TimeseriesQuery = z.output<typeof TimeseriesQuerySchema>;

/**
 * Query of `GET /datasets/:id/histogram`: `metric`, `bins` (1–1000, default 40), `range`
 * (minmax — the default —, p1p99, or `<lo>,<hi>`), optional `host_id`.
 */
export const HistogramQuerySchema = queryObject({
  metric: oneOf('metric', ANALYTICS_METRICS),
  bins: queryInt('bins', 1, ANALYTICS_LIMITS.maxBins).optional(),
  range: RangeParam.optional(),
  host_id: HostIdParam.optional(),
}).transform((q) => ({
  metric: q.metric,
  bins: q.bins ?? ANALYTICS_LIMITS.defaultBins,
  range: q.range ?? { kind: 'minmax' },
  hostId: q.host_id,
}));
export type HistogramQuery = z.output<typeof HistogramQuerySchema>;

// ---------------------------------------------------------------------------------------------
// Responses (snake_case, as sent)
// ---------------------------------------------------------------------------------------------

/** Figures of one metric over a dataset's rows; null when the dataset has no rows. */
export const MetricSummarySchema = z.object({
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
  /** Sample standard deviation (divisor n − 1); null below two rows. */
  stddev: z.number().nullable(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
});
export type MetricSummary = z.infer<typeof MetricSummarySchema>;

/** `GET /datasets/:id/summary`. */
export const SummarySchema = z.object({
  dataset_id: z.uuid(),
  rows: z.number().int().nonnegative(),
  hosts: z.number().int().nonnegative(),
  projects: z.number().int().nonnegative(),
  regions: z.number().int().nonnegative(),
  /** First and last `ts` of the rows (both null for an empty dataset). */
  time_range: z.object({ from: TimestampSchema.nullable(), to: TimestampSchema.nullable() }),
  metrics: z.record(z.enum(ANALYTICS_METRICS), MetricSummarySchema),
  /** Anomalous rows, in all and by type (every type listed, 0 when absent). */
  anomalies: z.object({
    total: z.number().int().nonnegative(),
    by_type: z.record(z.enum(ANALYTICS_ANOMALY_TYPES), z.number().int().nonnegative()),
  }),
  computed_at: TimestampSchema,
});
export type Summary = z.infer<typeof SummarySchema>;

/** `GET /datasets/:id/topk`: the k most frequent values, most frequent first (ties by value). */
export const TopKSchema = z.object({
  dataset_id: z.uuid(),
  column: z.enum(TOPK_COLUMNS),
  k: z.number().int().positive(),
  /** Rows of the dataset: shares are count / total. */
  total: z.number().int().nonnegative(),
  /** Distinct values of the column (for anomaly_type, null — normal rows — counts as one). */
  distinct: z.number().int().nonnegative(),
  items: z.array(
    z.object({
      /** The value; null stands for the rows without one (anomaly_type of normal rows). */
      value: z.string().nullable(),
      count: z.number().int().positive(),
      share: z.number().min(0).max(1),
    }),
  ),
});
export type TopK = z.infer<typeof TopKSchema>;

/**
 * `GET /datasets/:id/timeseries`: only buckets holding rows are listed; `buckets[i]` is the
 * start of bucket i, and every array has one entry per bucket.
 */
export const TimeseriesSchema = z.object({
  dataset_id: z.uuid(),
  bucket: z.enum(BUCKET_NAMES),
  bucket_seconds: z.number().int().positive(),
  host_id: z.string().nullable(),
  from: TimestampSchema.nullable(),
  to: TimestampSchema.nullable(),
  buckets: z.array(TimestampSchema),
  /** Rows per bucket. */
  counts: z.array(z.number().int().nonnegative()),
  /** Anomalous rows (is_anomaly) per bucket. */
  anomalies: z.array(z.number().int().nonnegative()),
  series: z.array(
    z.object({
      metric: z.enum(ANALYTICS_METRICS),
      agg: z.enum(TIMESERIES_AGGS),
      values: z.array(z.number()),
    }),
  ),
});
export type Timeseries = z.infer<typeof TimeseriesSchema>;

/**
 * `GET /datasets/:id/histogram`: `edges` has bins + 1 entries; bin i holds the values v with
 * edges[i] ≤ v < edges[i + 1], the last bin also v = hi. Values outside [lo, hi] are counted in
 * `below` and `above`. Where lo = hi there is one bin. With no rows and a named range, lo and
 * hi are null and there are no bins.
 */
export const HistogramSchema = z.object({
  dataset_id: z.uuid(),
  metric: z.enum(ANALYTICS_METRICS),
  host_id: z.string().nullable(),
  range: z.enum(['minmax', 'p1p99', 'explicit']),
  lo: z.number().nullable(),
  hi: z.number().nullable(),
  bins: z.number().int().nonnegative(),
  edges: z.array(z.number()),
  counts: z.array(z.number().int().nonnegative()),
  below: z.number().int().nonnegative(),
  above: z.number().int().nonnegative(),
  /** Rows looked at (the dataset's, or the host's). */
  total: z.number().int().nonnegative(),
});
export type Histogram = z.infer<typeof HistogramSchema>;
