/**
 * Evaluation of a completed scoring job against the dataset's labels (DESIGN.md "Evaluation"):
 * which job a question reads, the point-wise, ranking and event figures (src/core/evaluation.ts)
 * of its scores, labels, episodes and alerts (read by src/db/evaluation.ts), and the error
 * distribution per group. A completed job never changes, so results may be kept per job in an
 * {@link EvaluationCache}.
 */
import {
  eventMetrics,
  pointwiseMetrics,
  prCurve,
  rankingMetrics,
  rocCurve,
  type EventMetrics,
  type PointwiseMetrics,
  type PrPoint,
  type RocPoint,
  type TypeEventMetrics,
} from '../core/evaluation.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { PolicyName } from '../contract/vocabulary.js';
import { getDataset } from '../db/datasets.js';
import {
  ERROR_GROUP_COLUMNS,
  modelExists,
  pendingJobOf,
  readEpisodes,
  readErrorGroups,
  readJobAlerts,
  readScoredLabels,
  type EpisodeRow,
  type ErrorGroupBy,
  type ErrorGroupCounts,
} from '../db/evaluation.js';
import { getJob, latestCompletedJob, type JobRecord } from '../db/jobs.js';
import type { Pool, Queryable } from '../db/pool.js';

/**
 * The completed job an evaluation reads: `jobId` when given (it must be a completed job of this
 * model and dataset), else the latest completed one.
 *
 * @throws NotFoundError for an unknown model, dataset or job; ConflictError when the dataset was
 *   never scored to the end by the model (the message names the job to run), or the given job is
 *   not a completed job of this pair
 */
export async function resolveEvaluationJob(
  db: Queryable,
  modelId: string,
  datasetId: string,
  jobId?: string,
): Promise<JobRecord> {
  if (!(await modelExists(db, modelId))) throw new NotFoundError('model', modelId);
  if (!(await getDataset(db, datasetId))) throw new NotFoundError('dataset', datasetId);
  if (jobId !== undefined) {
    const job = await getJob(db, jobId);
    if (!job) throw new NotFoundError('job', jobId);
    if (job.modelId !== modelId || job.datasetId !== datasetId) {
      throw new ConflictError(
        `job ${jobId} scored model ${job.modelId} on dataset ${job.datasetId}, not this pair`,
        {
          job_id: jobId,
          model_id: job.modelId,
          dataset_id: job.datasetId,
        },
      );
    }
    if (job.status !== 'completed') {
      throw new ConflictError(`job ${jobId} is ${job.status}; evaluation needs a completed job`, {
        job_id: jobId,
        status: job.status,
      });
    }
    return job;
  }
  const job = await latestCompletedJob(db, modelId, datasetId);
  if (job) return job;
  // Say what to do: a job in progress to wait for, or the job to run.
  const inProgress = await pendingJobOf(db, modelId, datasetId);
  if (inProgress) {
    throw new ConflictError(
      `dataset ${datasetId} is being scored by model ${modelId} in job ${inProgress.id} (${inProgress.status}); evaluate once it has completed`,
      { model_id: modelId, dataset_id: datasetId, job_id: inProgress.id, status: inProgress.status },
    );
  }
  throw new ConflictError(
    `dataset ${datasetId} has not been scored by model ${modelId}; run a score_dataset job first: POST /jobs/score_dataset {"model_id":"${modelId}","dataset_id":"${datasetId}"}`,
    { model_id: modelId, dataset_id: datasetId, job: 'score_dataset' },
  );
}

/** Event figures of one type, as the evaluation reports them. */
export interface TypeEvents {
  episodes: number;
  detected: number;
  recall: number | null;
  meanTimeToDetectRecords: number | null;
  medianTimeToDetectRecords: number | null;
}

/** An evaluation of one job. */
export interface JobEvaluation {
  modelId: string;
  datasetId: string;
  jobId: string;
  policy: PolicyName;
  records: number;
  invalidRecords: number;
  anomalies: number;
  pointwise: PointwiseMetrics;
  rocAuc: number | null;
  prAuc: number | null;
  /** The ROC curve, downsampled (empty without both classes). */
  rocCurve: RocPoint[];
  /** The precision–recall curve, downsampled (empty without positives). */
  prCurve: PrPoint[];
  events: {
    overall: TypeEvents;
    byType: Record<string, TypeEvents>;
    alerts: number;
    alertsPerEpisode: number | null;
    falseAlerts: number;
    falseAlertsPerHostDay: number | null;
  };
}

/** One group of an error distribution. */
export interface ErrorGroup extends ErrorGroupCounts {
  episodes: number;
  eventRecall: number | null;
}

/** Sampling interval (ms), host count and span (ms) of a dataset, for time to detect and rates. */
async function datasetShape(db: Queryable, datasetId: string) {
  const d = await getDataset(db, datasetId);
  if (!d) throw new NotFoundError('dataset', datasetId);
  const p = d.params;
  const intervalS = typeof p.interval_s === 'number' && p.interval_s > 0 ? p.interval_s : 60;
  const durationS = typeof p.duration_s === 'number' && p.duration_s > 0 ? p.duration_s : null;
  const hostCount = d.hostCount;
  const steps = hostCount > 0 ? Math.floor(d.rowCount / hostCount) : 0;
  return {
    intervalMs: intervalS * 1000,
    hostCount,
    durationMs: durationS !== null ? durationS * 1000 : steps * intervalS * 1000,
  };
}

function typeEvents(t: TypeEventMetrics): TypeEvents {
  return {
    episodes: t.episodes,
    detected: t.detected,
    recall: t.recall,
    meanTimeToDetectRecords: t.meanTimeToDetectRecords,
    medianTimeToDetectRecords: t.medianTimeToDetectRecords,
  };
}

async function jobEvents(
  pool: Pool,
  job: JobRecord,
): Promise<{ episodes: EpisodeRow[]; events: EventMetrics }> {
  const [episodes, alerts, shape] = await Promise.all([
    readEpisodes(pool, job.datasetId),
    readJobAlerts(pool, job.id),
    datasetShape(pool, job.datasetId),
  ]);
  const events = eventMetrics({
    episodes,
    alerts,
    samplingIntervalMs: shape.intervalMs,
    ...(shape.hostCount >= 1 ? { hostCount: shape.hostCount } : {}),
    ...(shape.durationMs > 0 ? { durationMs: shape.durationMs } : {}),
  });
  return { episodes, events };
}

/** Evaluations an {@link EvaluationCache} keeps by default (the most recent). */
export const EVALUATION_CACHE_SIZE = 32;

/**
 * Evaluations of completed jobs (they never change), the most recently used kept; a computation
 * under way is shared by every question that asks for it, and a failed one is not kept.
 */
export class EvaluationCache {
  readonly #entries = new Map<string, Promise<unknown>>();
  readonly #size: number;

  /** @param size - evaluations kept at most (default {@link EVALUATION_CACHE_SIZE}) */
  constructor(size = EVALUATION_CACHE_SIZE) {
    this.#size = size;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The result under `key` (a `<job id>:` prefix, then what of the job), computed when missing. */
  get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.#entries.get(key) as Promise<T> | undefined;
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const p = compute();
    this.#entries.set(key, p);
    // A failed computation is not kept.
    p.catch(() => this.#entries.delete(key));
    while (this.#entries.size > this.#size) this.#entries.delete(this.#entries.keys().next().value!);
    return p;
  }

  /** Forgets cached evaluations (all, or one job's). */
  clear(jobId?: string): void {
    if (jobId === undefined) this.#entries.clear();
    else
      for (const key of [...this.#entries.keys()]) if (key.startsWith(`${jobId}:`)) this.#entries.delete(key);
  }
}

/** `compute()` through `cache` when one is given. */
function cached<T>(cache: EvaluationCache | undefined, key: string, compute: () => Promise<T>): Promise<T> {
  return cache ? cache.get(key, compute) : compute();
}

/**
 * Evaluates a completed job: point-wise figures at the model's own flag, ROC-AUC, PR-AUC, the
 * ROC and precision–recall curves (downsampled, for plotting) and event figures from the job's
 * alerts.
 *
 * @param pool - the database pool
 * @param job - a completed job (see {@link resolveEvaluationJob})
 * @param cache - where results are kept and found (none: computed every time)
 */
export function evaluateJob(pool: Pool, job: JobRecord, cache?: EvaluationCache): Promise<JobEvaluation> {
  return cached(cache, `${job.id}:eval`, async () => {
    const scored = await readScoredLabels(pool, job);
    const pointwise = pointwiseMetrics(scored.labels, scored.flags);
    const ranking = rankingMetrics(scored.labels, scored.fused);
    let anomalies = 0;
    for (let i = 0; i < scored.labels.length; i++) anomalies += scored.labels[i]!;
    const { events } = await jobEvents(pool, job);
    const byType: Record<string, TypeEvents> = {};
    for (const [type, t] of Object.entries(events.byType)) byType[type] = typeEvents(t);
    return {
      modelId: job.modelId,
      datasetId: job.datasetId,
      jobId: job.id,
      policy: job.params.policy,
      records: job.rowsTotal,
      invalidRecords: scored.invalid,
      anomalies,
      pointwise,
      rocAuc: ranking.rocAuc,
      prAuc: ranking.averagePrecision,
      rocCurve: rocCurve(scored.labels, scored.fused).points,
      prCurve: prCurve(scored.labels, scored.fused).points,
      events: {
        overall: typeEvents(events.overall),
        byType,
        alerts: events.alerts,
        alertsPerEpisode: events.alertsPerEpisode,
        falseAlerts: events.falseAlerts,
        falseAlertsPerHostDay: events.falseAlertsPerHostDay,
      },
    };
  });
}

/**
 * The error distribution of a completed job: per group of `groupBy`, records, anomalies, caught,
 * missed, false alarms (at the model's flag), mean fused score and event recall.
 *
 * @param groupBy - `anomaly_type`, `region` or `project_id`
 * @param cache - where results are kept and found (none: computed every time)
 */
export function errorDistribution(
  pool: Pool,
  job: JobRecord,
  groupBy: ErrorGroupBy,
  cache?: EvaluationCache,
): Promise<ErrorGroup[]> {
  if (ERROR_GROUP_COLUMNS[groupBy] === undefined) {
    throw new RangeError(
      `groupBy must be one of ${Object.keys(ERROR_GROUP_COLUMNS).join(', ')}; got ${String(groupBy)}`,
    );
  }
  return cached(cache, `${job.id}:dist:${groupBy}`, async () => {
    const groups = await readErrorGroups(pool, job, groupBy);
    // Event recall per group, from each episode's detection and its group value.
    const { episodes, events } = await jobEvents(pool, job);
    const groupOf = (e: EpisodeRow) =>
      groupBy === 'anomaly_type' ? e.type : groupBy === 'region' ? e.region : e.projectId;
    const found = new Map<string, { episodes: number; detected: number }>();
    events.perEpisode.forEach((d, i) => {
      const g = groupOf(episodes[i]!);
      const f = found.get(g) ?? { episodes: 0, detected: 0 };
      f.episodes += 1;
      if (d.detected) f.detected += 1;
      found.set(g, f);
    });
    return groups.map((g) => {
      const f = g.group === null ? undefined : found.get(g.group);
      return {
        ...g,
        episodes: f?.episodes ?? 0,
        eventRecall: f && f.episodes > 0 ? f.detected / f.episodes : null,
      };
    });
  });
}
