/**
 * Dataset routes: `POST /datasets` (starts a generation through the generator service, as the
 * original system does), `GET /datasets`, `GET /datasets/:id`, `DELETE /datasets/:id`.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  CreateDatasetRequestSchema,
  DatasetListSchema,
  DatasetParamsSchema,
  DatasetSchema,
  DeletedSchema,
  ListDatasetsQuerySchema,
  type Dataset,
} from '../../contract/datasets.js';
import {
  isTadsError,
  NotFoundError,
  ServiceUnavailableError,
  TadsError,
  ValidationError,
} from '../../core/errors.js';
import { deleteDataset, getDataset, listDatasets, type DatasetRow } from '../../db/datasets.js';
import type { ApiDeps } from '../deps.js';
import { analyticsCacheOf } from './analytics.js';
import { reply, type Router } from '../router.js';

/** The wire form of a dataset row. */
export function datasetToWire(d: DatasetRow): Dataset {
  const progress = d.status === 'completed' || d.rowsTotal === 0 ? 1 : Math.min(1, d.rowCount / d.rowsTotal);
  return {
    id: d.id,
    name: d.name,
    status: d.status,
    error: d.error,
    params: d.params,
    row_count: d.rowCount,
    rows_total: d.rowsTotal,
    host_count: d.hostCount,
    source: d.source,
    metrics: d.metrics,
    labels: d.labels,
    progress,
    stats: d.stats,
    created_at: d.createdAt.toISOString(),
    started_at: d.startedAt?.toISOString() ?? null,
    finished_at: d.finishedAt?.toISOString() ?? null,
  };
}

/**
 * Turns a failure of the generator call into a domain error: unreachable → 503, rejected
 * parameters → 400; domain errors pass through.
 */
function generatorError(err: unknown): unknown {
  if (isTadsError(err)) return err;
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  const message = typeof e.details === 'string' && e.details ? e.details : String(e.message ?? err);
  switch (e.code) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new ServiceUnavailableError('generator', message, { cause: err });
    case GrpcStatus.INVALID_ARGUMENT:
      return new ValidationError(message);
    default:
      return new TadsError('internal', `generator failed: ${message}`, null, { cause: err });
  }
}

/** Registers the dataset routes. */
export function register(router: Router, deps: ApiDeps): void {
  router.route({
    method: 'post',
    path: '/datasets',
    summary: 'Generate a dataset',
    description:
      'Starts generating a dataset with the given parameters (every one optional; `{"host_count": 10}` is enough) and answers 202 with the dataset, pending or running. Poll `GET /datasets/:id` until its status is `completed` or `failed`.',
    tags: ['datasets'],
    body: CreateDatasetRequestSchema,
    response: DatasetSchema,
    status: 202,
    errors: [413],
    handler: async ({ body }) => {
      let datasetId: string;
      try {
        ({ datasetId } = await deps.generator.generate(body));
      } catch (err) {
        throw generatorError(err);
      }
      const row = await getDataset(deps.pool, datasetId);
      if (!row)
        throw new TadsError('internal', `generator reported dataset ${datasetId}, which does not exist`);
      return reply(202, datasetToWire(row));
    },
  });

  router.route({
    method: 'get',
    path: '/datasets',
    summary: 'List datasets, newest first',
    tags: ['datasets'],
    query: ListDatasetsQuerySchema,
    response: DatasetListSchema,
    handler: async ({ query }) => {
      const page = await listDatasets(deps.pool, query);
      return { items: page.items.map(datasetToWire), next_cursor: page.nextCursor };
    },
  });

  router.route({
    method: 'get',
    path: '/datasets/:id',
    summary: 'One dataset',
    tags: ['datasets'],
    params: DatasetParamsSchema,
    response: DatasetSchema,
    errors: [404],
    handler: async ({ params }) => {
      const row = await getDataset(deps.pool, params.id);
      if (!row) throw new NotFoundError('dataset', params.id);
      return datasetToWire(row);
    },
  });

  router.route({
    method: 'delete',
    path: '/datasets/:id',
    summary: 'Delete a finished dataset and its rows',
    description:
      'Answers 409 while the dataset is pending or running, or while a pending or running scoring job uses it or a model is being trained from it.',
    tags: ['datasets'],
    params: DatasetParamsSchema,
    response: DeletedSchema,
    errors: [404, 409],
    handler: async ({ params }) => {
      await deleteDataset(deps.pool, params.id);
      analyticsCacheOf(deps).invalidate(params.id);
      return { id: params.id, deleted: true as const };
    },
  });
}
