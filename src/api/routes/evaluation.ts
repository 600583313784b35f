/**
 * Evaluation routes (DESIGN.md "Evaluation"): `GET /models/:id/eval?dataset_id=[&job_id=]` and
 * `GET /models/:id/error_distribution?dataset_id=&group_by=`. Both read a completed scoring job
 * of the (model, dataset) pair — the latest unless `job_id` is given — and answer 409 naming the
 * job to run when there is none.
 */
import {
  ErrorDistributionQuerySchema,
  ErrorDistributionSchema,
  EvalQuerySchema,
  EvaluationParamsSchema,
  EvaluationSchema,
  type EvaluationWire,
  type TypeEventsWire,
} from '../../contract/evaluation.js';
import {
  errorDistribution,
  EvaluationCache,
  evaluateJob,
  resolveEvaluationJob,
  type JobEvaluation,
  type TypeEvents,
} from '../../jobs/evaluation.js';
import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';

function typeEventsToWire(t: TypeEvents): TypeEventsWire {
  return {
    episodes: t.episodes,
    detected: t.detected,
    recall: t.recall,
    mean_time_to_detect_records: t.meanTimeToDetectRecords,
    median_time_to_detect_records: t.medianTimeToDetectRecords,
  };
}

/** The wire form of an evaluation. */
export function evaluationToWire(e: JobEvaluation): EvaluationWire {
  const byType: Record<string, TypeEventsWire> = {};
  for (const [type, t] of Object.entries(e.events.byType)) byType[type] = typeEventsToWire(t);
  return {
    model_id: e.modelId,
    dataset_id: e.datasetId,
    job_id: e.jobId,
    policy: e.policy,
    records: e.records,
    invalid_records: e.invalidRecords,
    anomalies: e.anomalies,
    pointwise: {
      precision: e.pointwise.precision,
      recall: e.pointwise.recall,
      f1: e.pointwise.f1,
      confusion: { ...e.pointwise.confusion },
    },
    roc_auc: e.rocAuc,
    pr_auc: e.prAuc,
    roc_curve: e.rocCurve.map((p) => ({ ...p })),
    pr_curve: e.prCurve.map((p) => ({ ...p })),
    events: {
      overall: typeEventsToWire(e.events.overall),
      by_type: byType,
      alerts: e.events.alerts,
      alerts_per_episode: e.events.alertsPerEpisode,
      false_alerts: e.events.falseAlerts,
      false_alerts_per_host_day: e.events.falseAlertsPerHostDay,
    },
  };
}

/** Registers the evaluation routes (with a cache of this server's evaluations of completed jobs). */
export function register(router: Router, deps: ApiDeps): void {
  const cache = new EvaluationCache();
  router.route({
    method: 'get',
    path: '/models/:id/eval',
    summary: 'Evaluate a model on a scored dataset',
    description:
      'Point-wise precision, recall, F1 and confusion matrix at the model’s flag, ROC-AUC, PR-AUC (average precision), the ROC and precision–recall curves (at most 201 points each), and event figures of the job’s alerts: event recall per anomaly type, time to detect, alerts per episode, false alerts. Undefined figures are null. Reads the latest completed job of the pair unless `job_id` is given; 409 when the dataset was never scored by the model.',
    tags: ['evaluation'],
    params: EvaluationParamsSchema,
    query: EvalQuerySchema,
    response: EvaluationSchema,
    errors: [404, 409],
    handler: async ({ params, query }) => {
      const job = await resolveEvaluationJob(deps.pool, params.id, query.datasetId, query.jobId);
      return evaluationToWire(await evaluateJob(deps.pool, job, cache));
    },
  });

  router.route({
    method: 'get',
    path: '/models/:id/error_distribution',
    summary: 'Errors of a model on a scored dataset, per group',
    description:
      'Per anomaly type, region or project: records, anomalies, caught, missed, false alarms, mean fused score and event recall. Reads the latest completed job of the pair unless `job_id` is given; 409 when the dataset was never scored by the model.',
    tags: ['evaluation'],
    params: EvaluationParamsSchema,
    query: ErrorDistributionQuerySchema,
    response: ErrorDistributionSchema,
    errors: [404, 409],
    handler: async ({ params, query }) => {
      const job = await resolveEvaluationJob(deps.pool, params.id, query.datasetId, query.jobId);
      const groups = await errorDistribution(deps.pool, job, query.groupBy, cache);
      return {
        model_id: job.modelId,
        dataset_id: job.datasetId,
        job_id: job.id,
        group_by: query.groupBy,
        groups: groups.map((g) => ({
          group: g.group,
          records: g.records,
          anomalies: g.anomalies,
          caught: g.caught,
          missed: g.missed,
          false_alarms: g.falseAlarms,
          mean_score: g.meanScore,
          episodes: g.episodes,
          event_recall: g.eventRecall,
        })),
      };
    },
  });
}
