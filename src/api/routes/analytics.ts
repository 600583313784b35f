/**
 * Dataset analytics routes (DESIGN.md "Analytics"): `GET /datasets/:id/summary`, `/topk`,
 * `/timeseries` and `/histogram`. The query schemas admit only names from fixed lists, so a
 * column, metric, aggregate, bucket or range outside them is a 400 before any SQL runs; an
 * unknown dataset is a 404 and one that is not completed a 409.
 *
 * A completed dataset never changes, so the answers to unfiltered questions (no `host_id`,
 * `from` or `to`) are kept, serialized, in an in-process LRU cache ({@link AnalyticsCache}) and
 * served from memory after the first time; an entry goes when its dataset is deleted (through
 * this server, or any other: the `dataset.status` `deleted` live event).
 */
import {
  HistogramQuerySchema,
  HistogramSchema,
  SummaryQuerySchema,
  SummarySchema,
  TimeseriesQuerySchema,
  TimeseriesSchema,
  TopKQuerySchema,
  TopKSchema,
} from '../../contract/analytics.js';
import { IdParamsSchema } from '../../contract/common.js';
import { datasetHistogram, datasetSummary, datasetTimeseries, datasetTopK } from '../../jobs/analytics.js';
import type { ApiDeps } from '../deps.js';
import { rawReply, type Reply, type Router } from '../router.js';

const TAGS = ['analytics'];
const JSON_TYPE = 'application/json; charset=utf-8';

/** Default byte budget of the analytics response cache (64 MiB). */
export const ANALYTICS_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Serialized analytics answers of completed datasets, least recently used evicted first, within a
 * byte budget.
 */
export class AnalyticsCache {
  readonly #entries = new Map<string, { datasetId: string; body: Buffer }>();
  readonly #maxBytes: number;
  #bytes = 0;

  /** @param maxBytes - byte budget (default {@link ANALYTICS_CACHE_BYTES}) */
  constructor(maxBytes = ANALYTICS_CACHE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The body under `key` (and marks it recently used), or undefined. */
  get(key: string): Buffer | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.body;
  }

  /** Keeps `body` under `key`; a body larger than the whole budget is not kept. */
  set(key: string, datasetId: string, body: Buffer): void {
    this.#drop(key);
    if (body.length > this.#maxBytes) return;
    this.#entries.set(key, { datasetId, body });
    this.#bytes += body.length;
    for (const k of this.#entries.keys()) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#drop(k);
    }
  }

  /** Forgets every answer about `datasetId`. */
  invalidate(datasetId: string): void {
    for (const [k, e] of this.#entries) if (e.datasetId === datasetId) this.#drop(k);
  }

  #drop(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#bytes -= e.body.length;
  }
}

const caches = new WeakMap<ApiDeps, AnalyticsCache>();

/** The analytics cache of the server whose route groups got `deps` (made on first use). */
export function analyticsCacheOf(deps: ApiDeps): AnalyticsCache {
  let cache = caches.get(deps);
  if (!cache) {
    const made = new AnalyticsCache();
    cache = made;
    caches.set(deps, made);
    deps.events?.subscribe((e) => {
      if (e.type === 'dataset.status' && e.status === 'deleted') made.invalidate(e.dataset_id);
    });
  }
  return cache;
}

/**
 * Answers from the cache — at once, so the router writes it within the same uWS callback — or
 * computes, checks against the route's schema, serializes and keeps the answer (only successes
 * are kept: they exist for completed datasets alone).
 */
function cached<T>(
  cache: AnalyticsCache,
  key: string | null,
  datasetId: string,
  schema: { encode(value: T): unknown },
  compute: () => Promise<T>,
): Reply<string | Uint8Array> | Promise<T | Reply<string | Uint8Array>> {
  if (key === null) return compute();
  const hit = cache.get(key);
  if (hit) return rawReply(200, hit, JSON_TYPE);
  return compute().then((value) => {
    const body = Buffer.from(JSON.stringify(schema.encode(value)));
    cache.set(key, datasetId, body);
    return rawReply(200, body, JSON_TYPE);
  });
}
const ERRORS = [404, 409];

/**
 * Registers the four analytics routes.
 *
 * @param router - the API's router
 * @param deps - the route groups' dependencies (the pool is used)
 */
export function register(router: Router, deps: ApiDeps): void {
  const cache = analyticsCacheOf(deps);
  router.route({
    method: 'get',
    path: '/datasets/:id/summary',
    summary: 'Summary of a dataset: rows, hosts, time range, per-metric figures, anomaly counts',
    tags: TAGS,
    params: IdParamsSchema,
    query: SummaryQuerySchema,
    response: SummarySchema,
    errors: ERRORS,
    handler: ({ params }) =>
      cached(cache, `summary/${params.id}`, params.id, SummarySchema, () =>
        datasetSummary(deps.pool, params.id),
      ),
  });

  router.route({
    method: 'get',
    path: '/datasets/:id/topk',
    summary: 'The most frequent values of region, project_id, host_id or anomaly_type',
    tags: TAGS,
    params: IdParamsSchema,
    query: TopKQuerySchema,
    response: TopKSchema,
    errors: ERRORS,
    handler: ({ params, query }) =>
      cached(cache, `topk/${params.id}/${query.column}/${query.k}`, params.id, TopKSchema, () =>
        datasetTopK(deps.pool, params.id, query.column, query.k),
      ),
  });

  router.route({
    method: 'get',
    path: '/datasets/:id/timeseries',
    summary: 'Per-bucket aggregates of metrics, with anomaly counts',
    description:
      'Buckets are aligned to the Unix epoch; only buckets holding rows are listed. `from` is inclusive and `to` exclusive.',
    tags: TAGS,
    params: IdParamsSchema,
    query: TimeseriesQuerySchema,
    response: TimeseriesSchema,
    errors: ERRORS,
    handler: ({ params, query }) => {
      const unfiltered = query.hostId === undefined && query.from === undefined && query.to === undefined;
      const key = `timeseries/${params.id}/${query.metrics.join(',')}/${query.aggs.join(',')}/${query.bucket}`;
      return cached(cache, unfiltered ? key : null, params.id, TimeseriesSchema, () =>
        datasetTimeseries(deps.pool, params.id, query),
      );
    },
  });

  router.route({
    method: 'get',
    path: '/datasets/:id/histogram',
    summary: 'Histogram of a metric: edges and counts',
    description:
      'Bins are half-open [lo, hi) but the last, which is closed; where lo = hi there is one bin. Values outside the range are counted in `below` and `above`.',
    tags: TAGS,
    params: IdParamsSchema,
    query: HistogramQuerySchema,
    response: HistogramSchema,
    errors: ERRORS,
    handler: ({ params, query }) => {
      const key = `histogram/${params.id}/${query.metric}/${query.bins}/${JSON.stringify(query.range)}`;
      return cached(cache, query.hostId === undefined ? key : null, params.id, HistogramSchema, () =>
        datasetHistogram(deps.pool, params.id, query),
      );
    },
  });
}
