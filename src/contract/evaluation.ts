/**
 * Wire contract of model evaluation (DESIGN.md "Evaluation"): `GET /models/:id/eval` and
 * `GET /models/:id/error_distribution`. A figure that is undefined (no positive labels, nothing
 * flagged, no episode) is null, never 0.
 */
import { z } from 'zod';
import { Id, IdParamsSchema, oneOf, queryObject } from './common.js';
import { POLICY_NAMES } from './vocabulary.js';

/** Path parameters `{ id }` (the model) of the evaluation routes. */
export const EvaluationParamsSchema = IdParamsSchema;

/** Query of `GET /models/:id/eval`. */
export const EvalQuerySchema = queryObject({
  dataset_id: Id,
  job_id: Id.optional(),
}).transform((q) => ({ datasetId: q.dataset_id, jobId: q.job_id }));
export type EvalQuery = z.output<typeof EvalQuerySchema>;

/** Groupings of `GET /models/:id/error_distribution`. */
export const ERROR_GROUPINGS = ['anomaly_type', 'region', 'project_id'] as const;
export type ErrorGrouping = (typeof ERROR_GROUPINGS)[number];

/** Query of `GET /models/:id/error_distribution`. */
export const ErrorDistributionQuerySchema = queryObject({
  dataset_id: Id,
  group_by: oneOf('group_by', ERROR_GROUPINGS),
  job_id: Id.optional(),
}).transform((q) => ({ datasetId: q.dataset_id, groupBy: q.group_by, jobId: q.job_id }));
export type ErrorDistributionQuery = z.output<typeof ErrorDistributionQuerySchema>;

const ratio = z.number().min(0).max(1).nullable();
const count = z.number().int().nonnegative();

/** The point-wise confusion matrix at the model's own flag (fused ≥ 1). */
export const EvalConfusionSchema = z.object({ tp: count, fp: count, tn: count, fn: count });

/** Event figures of one anomaly type, or of all episodes. */
export const TypeEventsSchema = z.object({
  episodes: count,
  detected: count,
  recall: ratio,
  mean_time_to_detect_records: z.number().nonnegative().nullable(),
  median_time_to_detect_records: z.number().nonnegative().nullable(),
});
export type TypeEventsWire = z.infer<typeof TypeEventsSchema>;

/** `GET /models/:id/eval`. */
export const EvaluationSchema = z.object({
  model_id: z.uuid(),
  dataset_id: z.uuid(),
  /** The completed job the figures come from. */
  job_id: z.uuid(),
  /** Detector policy of that job's alerts. */
  policy: z.enum(POLICY_NAMES),
  records: count,
  /** Records with a non-finite metric (scores NaN, never flagged). */
  invalid_records: count,
  anomalies: count,
  pointwise: z.object({
    precision: ratio,
    recall: ratio,
    f1: ratio,
    confusion: EvalConfusionSchema,
  }),
  /** ROC-AUC with ties averaged, over valid records; null without both classes. */
  roc_auc: ratio,
  /** PR-AUC as average precision (step-wise); null without positives. */
  pr_auc: ratio,
  /**
   * The ROC curve over valid records, from (0, 0) to (1, 1), downsampled to at most 201 points
   * (threshold null: the start point, nothing flagged); empty without both classes.
   */
  roc_curve: z.array(
    z.object({
      threshold: z.number().nullable(),
      fpr: z.number().min(0).max(1),
      tpr: z.number().min(0).max(1),
    }),
  ),
  /**
   * The precision–recall curve as scikit-learn draws it, downsampled to at most 201 points
   * (threshold null: the start point, recall 0 and precision 1); empty without positives.
   */
  pr_curve: z.array(
    z.object({
      threshold: z.number().nullable(),
      recall: z.number().min(0).max(1),
      precision: z.number().min(0).max(1),
    }),
  ),
  events: z.object({
    overall: TypeEventsSchema,
    by_type: z.record(z.string(), TypeEventsSchema),
    /** The job's alerts (suppressed ones included). */
    alerts: count,
    /** Mean alerts per detected episode; null when none was detected. */
    alerts_per_episode: z.number().nonnegative().nullable(),
    /** Alerts overlapping no episode of their host. */
    false_alerts: count,
    false_alerts_per_host_day: z.number().nonnegative().nullable(),
  }),
});
export type EvaluationWire = z.infer<typeof EvaluationSchema>;

/** One group of `GET /models/:id/error_distribution`. */
export const ErrorGroupSchema = z.object({
  /** The group's value (null: records with no anomaly type, when grouping by anomaly_type). */
  group: z.string().nullable(),
  records: count,
  anomalies: count,
  /** Anomalous records flagged. */
  caught: count,
  /** Anomalous records not flagged. */
  missed: count,
  /** Normal records flagged. */
  false_alarms: count,
  /** Mean fused score over valid records; null when none is valid. */
  mean_score: z.number().nullable(),
  episodes: count,
  /** Episodes of the group found by the job's alerts / episodes; null when it has none. */
  event_recall: ratio,
});
export type ErrorGroupWire = z.infer<typeof ErrorGroupSchema>;

/** `GET /models/:id/error_distribution`. */
export const ErrorDistributionSchema = z.object({
  model_id: z.uuid(),
  dataset_id: z.uuid(),
  job_id: z.uuid(),
  group_by: z.enum(ERROR_GROUPINGS),
  groups: z.array(ErrorGroupSchema),
});
export type ErrorDistributionWire = z.infer<typeof ErrorDistributionSchema>;
