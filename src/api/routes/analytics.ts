/**
 * Dataset analytics routes (DESIGN.md "Analytics"): `GET /datasets/:id/summary`, `/topk`,
 * `/timeseries` and `/histogram`. The query schemas admit only names from fixed lists, so a
 * column, metric, aggregate, bucket or range outside them is a 400 before any SQL runs; an
 * unknown dataset is a 404 and one that is not completed a 409.
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
import { datasetHistogram, datasetSummary, datasetTimeseries, datasetTopK } from '../../db/analytics.js';
import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';

const TAGS = ['analytics'];
const ERRORS = [404, 409];

/**
 * Registers the four analytics routes.
 *
 * @param router - the API's router
 * @param deps - the route groups' dependencies (the pool is used)
 */
export function register(router: Router, deps: ApiDeps): void {
  router.route({
    method: 'get',
    path: '/datasets/:id/summary',
    summary: 'Summary of a dataset: rows, hosts, time range, per-metric figures, anomaly counts',
    tags: TAGS,
    params: IdParamsSchema,
    query: SummaryQuerySchema,
    response: SummarySchema,
    errors: ERRORS,
    handler: async ({ params }) => datasetSummary(deps.pool, params.id),
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
    handler: async ({ params, query }) => datasetTopK(deps.pool, params.id, query.column, query.k),
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
    handler: async ({ params, query }) => datasetTimeseries(deps.pool, params.id, query),
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
    handler: async ({ params, query }) => datasetHistogram(deps.pool, params.id, query),
  });
}
