/**
 * Online scoring routes: `POST /inference` scores records with a completed model and records the
 * call as an inference run; `GET /inference_runs` and `GET /inference_runs/:id` list them.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  INFERENCE_MAX_RECORDS,
  INFERENCE_METRICS,
  InferenceRequestSchema,
  InferenceResponseSchema,
  InferenceRunListSchema,
  InferenceRunParamsSchema,
  InferenceRunSchema,
  ListInferenceRunsQuerySchema,
  type InferenceResponseWire,
  type InferenceResultWire,
  type InferenceRunWire,
} from '../../contract/inference.js';
import { ConflictError, NotFoundError, TadsError } from '../../core/errors.js';
import {
  getInferenceRun,
  insertInferenceRun,
  listInferenceRuns,
  type InferenceRunRow,
} from '../../db/inference-runs.js';
import { ModelCache } from '../../scorer/model-cache.js';
import { loadCompletedModel } from '../../scorer/models.js';
import { recordScoreAt, scoreRecords, type ScoredRecords } from '../../scorer/score-records.js';
import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';

/** The wire form of an inference run. */
export function inferenceRunToWire(r: InferenceRunRow): InferenceRunWire {
  return {
    id: r.id,
    model_id: r.modelId,
    record_count: r.recordCount,
    invalid_count: r.invalidCount,
    anomalous_count: r.anomalousCount,
    latency_ms: r.latencyMs,
    created_at: r.createdAt.toISOString(),
  };
}

/**
 * The per-record results on the wire, in record order. NaN is not JSON: an invalid record's
 * scores are null (see {@link recordScoreAt}).
 */
export function scoredToWire(scored: ScoredRecords): InferenceResultWire[] {
  const out = new Array<InferenceResultWire>(scored.rows);
  for (let i = 0; i < scored.rows; i++) {
    const r = recordScoreAt(scored, i);
    out[i] = {
      fused: r.fused,
      spe: r.spe,
      t2: r.t2,
      z_max: r.zMax,
      anomalous: r.anomalous,
      // The cache only holds models of telemetry metrics (checked at load).
      top_metric: r.topMetric as InferenceResultWire['top_metric'],
      valid: r.valid,
    };
  }
  return out;
}

/**
 * The body of `POST /inference`, with the batch limit checked first: more records than
 * INFERENCE_MAX_RECORDS is "too large" (413), not malformed (400), and is refused before
 * thousands of records are validated. (The error thrown here passes through zod to the router.)
 */
const InferenceBodySchema = z.preprocess((body) => {
  const records =
    typeof body === 'object' && body !== null ? (body as { records?: unknown }).records : undefined;
  if (Array.isArray(records) && records.length > INFERENCE_MAX_RECORDS) {
    throw new TadsError(
      'payload_too_large',
      `records must hold at most ${INFERENCE_MAX_RECORDS} records; got ${records.length}`,
      { limit_records: INFERENCE_MAX_RECORDS, records: records.length },
    );
  }
  return body;
}, InferenceRequestSchema);

/** Registers the inference routes. */
export function register(router: Router, deps: ApiDeps): void {
  // Parsed models by id: a completed model never changes, so /inference parses model.json once.
  const models = new ModelCache(async (id) => {
    const model = await loadCompletedModel(deps.pool, id);
    // Records carry the telemetry metrics only; a model of other columns could score nothing.
    const foreign = model.metrics.filter((m) => !(INFERENCE_METRICS as readonly string[]).includes(m));
    if (foreign.length > 0) {
      throw new ConflictError(
        `model ${id} scores ${foreign.join(', ')}, which are not telemetry metrics (${INFERENCE_METRICS.join(', ')})`,
        { id, metrics: model.metrics },
      );
    }
    return model;
  });

  router.route({
    method: 'post',
    path: '/inference',
    summary: 'Score telemetry records with a model',
    description:
      `Scores 1 to ${INFERENCE_MAX_RECORDS} records with a completed model and answers, per record and in order, the fused score, SPE, T², z_max, whether it is anomalous (fused ≥ 1) and its top metric. ` +
      'A record with a missing, null or non-finite metric is not an error: it comes back with `valid` false, null scores and no top metric, and is counted in `invalid_count`. ' +
      'Each call is recorded as an inference run (`GET /inference_runs/:id`). Unknown model: 404; model not completed: 409; more records than the limit: 413.',
    tags: ['inference'],
    body: InferenceBodySchema,
    response: InferenceResponseSchema,
    errors: [404, 409, 413],
    handler: async ({ body }): Promise<InferenceResponseWire> => {
      // Load (cached), score, map; the latency covers these, not the body's parsing.
      const began = performance.now();
      const model = await models.get(body.modelId);
      const metrics = new Array<(typeof body.records)[number]['metrics']>(body.records.length);
      for (let i = 0; i < metrics.length; i++) metrics[i] = body.records[i]!.metrics;
      const scored = scoreRecords(model, metrics);
      const results = scoredToWire(scored);
      const latencyMs = performance.now() - began;

      // Record the run before answering, so that its id can be looked up at once.
      let run: InferenceRunRow;
      try {
        run = await insertInferenceRun(deps.pool, {
          id: randomUUID(),
          modelId: body.modelId,
          recordCount: scored.rows,
          invalidCount: scored.invalidCount,
          anomalousCount: scored.anomalousCount,
          latencyMs,
        });
      } catch (err) {
        // The model was deleted meanwhile: forget it.
        if (err instanceof NotFoundError) models.evict(body.modelId);
        throw err;
      }
      return {
        run_id: run.id,
        model_id: run.modelId,
        results,
        record_count: run.recordCount,
        invalid_count: run.invalidCount,
        anomalous_count: run.anomalousCount,
        latency_ms: run.latencyMs,
      };
    },
  });

  router.route({
    method: 'get',
    path: '/inference_runs',
    summary: 'List inference runs, newest first',
    description:
      'Pages of recorded `POST /inference` calls: counts, latency and model. Filter by `model_id`.',
    tags: ['inference'],
    query: ListInferenceRunsQuerySchema,
    response: InferenceRunListSchema,
    handler: async ({ query }) => {
      const page = await listInferenceRuns(deps.pool, query);
      return { items: page.items.map(inferenceRunToWire), next_cursor: page.nextCursor };
    },
  });

  router.route({
    method: 'get',
    path: '/inference_runs/:id',
    summary: 'One inference run: counts, latency, model',
    tags: ['inference'],
    params: InferenceRunParamsSchema,
    response: InferenceRunSchema,
    errors: [404],
    handler: async ({ params }) => inferenceRunToWire(await getInferenceRun(deps.pool, params.id)),
  });
}
