/**
 * Training and model routes: `POST /train` (answers 202 with the new model's id at once; the
 * training runs in the background of this server), `GET /models`, `GET /models/:id` (status,
 * progress and, once completed, the artifact summary and the whole model.json) and
 * `DELETE /models/:id` (409 while the model trains or a scoring job on it is pending or running).
 */
import {
  ListModelsQuerySchema,
  ModelDeletedSchema,
  ModelListSchema,
  ModelParamsSchema,
  ModelSchema,
  TrainAcceptedSchema,
  TrainRequestSchema,
  type ModelListItemWire,
  type ModelSummaryWire,
  type ModelWire,
  type TrainingProgressWire,
} from '../../contract/models.js';
import { NotFoundError } from '../../core/errors.js';
import { modelJsonSchema } from '../../core/model-json.js';
import {
  deleteModel,
  getModel,
  listModels,
  timingsJson,
  type ModelListItem,
  type ModelRow,
} from '../../db/models.js';
import { createTrainingRunner, type TrainingRunner } from '../../jobs/training-runner.js';
import type { ApiDeps } from '../deps.js';
import { reply, type Router } from '../router.js';

/** The artifact summary of a model document: metrics, k, explained variance per component, limits. */
export function modelSummary(doc: Record<string, unknown>): ModelSummaryWire {
  // The document was validated when written; parsing it again gives its type.
  const m = modelJsonSchema.parse(doc);
  const k = m.n_components;
  const ratio = m.explained_variance_ratio.slice(0, k);
  return {
    metrics: m.metrics,
    n_components: k,
    n_samples: m.n_samples,
    eigenvalues: m.eigenvalues.slice(0, k),
    explained_variance_ratio: ratio,
    cumulative_explained_variance: ratio.reduce((a, b) => a + b, 0),
    spe_limit: m.spe_limit,
    t2_limit: m.t2_limit,
    z_limit: m.z_limit,
    limits: m.limits,
    median: m.median,
    mad: m.mad,
    z_scale: m.z_scale,
  };
}

function progressToWire(m: ModelRow): TrainingProgressWire | null {
  const p = m.progress;
  return p
    ? { phase: p.phase, pass: p.pass, rows_done: Math.round(p.rowsDone), rows_total: Math.round(p.rowsTotal) }
    : null;
}

/** The list form of a model. */
export function modelListItemToWire(
  m: ModelRow & Partial<Pick<ModelListItem, 'summary'>>,
): ModelListItemWire {
  const stored = m.model?.n_components;
  const k = m.summary?.nComponents ?? (typeof stored === 'number' ? stored : null);
  return {
    id: m.id,
    name: m.name,
    status: m.status,
    error: m.error,
    dataset_id: m.datasetId,
    params: m.params,
    progress: progressToWire(m),
    n_samples: m.nSamples,
    n_components: k,
    artifact_path: m.artifactPath,
    created_at: m.createdAt.toISOString(),
    started_at: m.startedAt?.toISOString() ?? null,
    finished_at: m.finishedAt?.toISOString() ?? null,
  };
}

/** The full form of a model (`GET /models/:id`). */
export function modelToWire(m: ModelRow): ModelWire {
  return {
    ...modelListItemToWire(m),
    timings: m.timings ? timingsJson(m.timings) : null,
    summary: m.status === 'completed' && m.model ? modelSummary(m.model) : null,
    model: m.status === 'completed' ? m.model : null,
  };
}

/**
 * Registers the training and model routes. Trainings run on `deps.trainer` when the server
 * provides one (so it can stop them on shutdown), else on a runner of this route group's own.
 */
export function register(router: Router, deps: ApiDeps): void {
  const trainer: TrainingRunner =
    deps.trainer ?? createTrainingRunner({ pool: deps.pool, owner: deps.owner, log: deps.log });

  router.route({
    method: 'post',
    path: '/train',
    summary: 'Train a PCA model on a dataset',
    description:
      'Checks the dataset (404 unknown, 409 not completed, 400 too few rows), records the model as pending and answers 202 with its id at once; the training runs in the background. Poll `GET /models/:id` for status and progress. `variance` (default 0.95) and `n_components` exclude each other; labelled anomalies are trained on unless `exclude_labelled_anomalies` is true.',
    tags: ['models'],
    body: TrainRequestSchema,
    response: TrainAcceptedSchema,
    status: 202,
    errors: [404, 409, 413],
    handler: async ({ body }) => {
      const row = await trainer.start(body);
      return reply(202, { id: row.id, model_id: row.id, status: row.status });
    },
  });

  router.route({
    method: 'get',
    path: '/models',
    summary: 'List models, newest first',
    tags: ['models'],
    query: ListModelsQuerySchema,
    response: ModelListSchema,
    handler: async ({ query }) => {
      const page = await listModels(deps.pool, query);
      return { items: page.items.map(modelListItemToWire), next_cursor: page.nextCursor };
    },
  });

  router.route({
    method: 'get',
    path: '/models/:id',
    summary: 'One model: status, progress, and once completed its summary and model.json',
    tags: ['models'],
    params: ModelParamsSchema,
    response: ModelSchema,
    errors: [404],
    handler: async ({ params }) => {
      const row = await getModel(deps.pool, params.id);
      if (!row) throw new NotFoundError('model', params.id);
      return modelToWire(row);
    },
  });

  router.route({
    method: 'delete',
    path: '/models/:id',
    summary: 'Delete a finished model',
    description:
      'Deletes a completed or failed model with its scoring jobs, alerts and inference runs. Answers 409 while it is training or while a scoring job on it is pending or running. An artifact file written by the CLI is left in place.',
    tags: ['models'],
    params: ModelParamsSchema,
    response: ModelDeletedSchema,
    errors: [404, 409],
    handler: async ({ params }) => {
      await deleteModel(deps.pool, params.id);
      return { id: params.id, deleted: true as const };
    },
  });
}
