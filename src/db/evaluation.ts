/**
 * Evaluation of a completed scoring job against the dataset's labels (DESIGN.md "Evaluation").
 *
 * Scores and labels are streamed out of PostgreSQL with one binary COPY into typed arrays (9
 * bytes per record: 10 M records are 90 MB) and handed to src/core/evaluation.ts; episodes are
 * aggregated in SQL (first and last record of each); alerts are the job's own. A completed job
 * never changes, so results are cached per job.
 */
import { to as copyTo } from 'pg-copy-streams';
import { z } from 'zod';
import {
  eventMetrics,
  pointwiseMetrics,
  prCurve,
  rankingMetrics,
  rocCurve,
  type EpisodeSpan,
  type EventMetrics,
  type PointwiseMetrics,
  type PrPoint,
  type RocPoint,
  type TypeEventMetrics,
} from '../core/evaluation.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { getDataset } from './datasets.js';
import { toDatabaseError } from './errors.js';
import { BinaryCopyParser, jobScoresPartition } from './job-scores.js';
import type { PolicyName } from '../contract/vocabulary.js';
import { getJob, latestCompletedJob, type JobRecord } from './jobs.js';
import type { Pool, Queryable } from './pool.js';

/** Groupings of the error distribution (fixed list: column names never come from input). */
export const ERROR_GROUP_COLUMNS = {
  anomaly_type: 't.anomaly_type',
  region: 't.region',
  project_id: 't.project_id',
} as const;
export type ErrorGroupBy = keyof typeof ERROR_GROUP_COLUMNS;

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
  const exists = await run(db, 'SELECT EXISTS (SELECT 1 FROM models WHERE id = $1) AS ok', [modelId]);
  if (!z.object({ ok: z.boolean() }).parse(exists[0]).ok) throw new NotFoundError('model', modelId);
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
  const pending = await run(
    db,
    `SELECT id, status FROM jobs WHERE model_id = $1 AND dataset_id = $2 AND status IN ('pending', 'running')
     ORDER BY created_at DESC LIMIT 1`,
    [modelId, datasetId],
  );
  const inProgress = z.array(z.object({ id: z.string(), status: z.string() })).parse(pending)[0];
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
export interface ErrorGroup {
  group: string | null;
  records: number;
  anomalies: number;
  caught: number;
  missed: number;
  falseAlarms: number;
  meanScore: number | null;
  episodes: number;
  eventRecall: number | null;
}

async function run(db: Queryable, text: string, values: unknown[] = []): Promise<unknown[]> {
  try {
    const res = await db.query(text, values);
    return res.rows as unknown[];
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/** Scores and labels of a job's records, as typed arrays (row order is unimportant here). */
interface ScoredLabels {
  fused: Float64Array;
  flags: Uint8Array;
  labels: Uint8Array;
  invalid: number;
}

/** Streams (fused, is_anomalous, is_anomaly) of every scored record into typed arrays. */
async function readScoredLabels(pool: Pool, job: JobRecord): Promise<ScoredLabels> {
  const n = job.rowsTotal;
  const fused = new Float64Array(n);
  const flags = new Uint8Array(n);
  const labels = new Uint8Array(n);
  let i = 0;
  let invalid = 0;
  const parser = new BinaryCopyParser(3, (buf, f) => {
    if (i >= n) throw new Error(`job ${job.id} has more scores than its ${n} rows`);
    if (f[1]! < 0) {
      fused[i] = NaN;
      invalid += 1;
    } else fused[i] = buf.readDoubleBE(f[0]);
    flags[i] = buf[f[2]!]!;
    labels[i] = buf[f[4]!]!;
    i += 1;
  });
  const client = await pool.connect().catch((err: unknown) => {
    throw toDatabaseError(err);
  });
  let broken = false;
  try {
    // COPY takes no parameters: the ids are UUIDs checked by the partition name and the job row.
    const sql = `COPY (SELECT s.fused, s.is_anomalous, t.is_anomaly
        FROM ${jobScoresPartition(job.id)} s
        JOIN host_telemetry_archival t ON t.dataset_id = '${job.datasetId}' AND t.row_id = s.row_id)
      TO STDOUT (FORMAT binary)`;
    const stream = client.query(copyTo(sql));
    for await (const chunk of stream) parser.push(chunk as Buffer);
  } catch (err) {
    broken = true;
    throw toDatabaseError(err);
  } finally {
    client.release(broken);
  }
  if (i !== n) throw new Error(`job ${job.id} has ${i} scores joined to its dataset; expected ${n}`);
  return { fused, flags, labels, invalid };
}

/** An episode with the attributes it can be grouped by. */
interface EpisodeRow extends EpisodeSpan {
  region: string;
  projectId: string;
}

const EpisodeDbRow = z.object({
  episode: z.number().int(),
  host_id: z.string(),
  anomaly_type: z.string(),
  region: z.string(),
  project_id: z.string(),
  start_ms: z.union([z.string(), z.number()]).transform(Number),
  end_ms: z.union([z.string(), z.number()]).transform(Number),
});

/** The dataset's labelled episodes: first and last record of each. */
async function readEpisodes(db: Queryable, datasetId: string): Promise<EpisodeRow[]> {
  const rows = await run(
    db,
    `SELECT anomaly_episode AS episode, host_id, min(anomaly_type) AS anomaly_type,
            min(region) AS region, min(project_id) AS project_id,
            (extract(epoch FROM min(ts)) * 1000)::float8 AS start_ms,
            (extract(epoch FROM max(ts)) * 1000)::float8 AS end_ms
       FROM host_telemetry_archival
      WHERE dataset_id = $1 AND anomaly_episode IS NOT NULL
      GROUP BY anomaly_episode, host_id
      ORDER BY anomaly_episode, host_id`,
    [datasetId],
  );
  return rows.map((r) => {
    const e = EpisodeDbRow.parse(r);
    return {
      episodeId: e.episode,
      hostId: e.host_id,
      type: e.anomaly_type,
      startTs: e.start_ms,
      endTs: e.end_ms,
      region: e.region,
      projectId: e.project_id,
    };
  });
}

const AlertDbRow = z.object({
  host_id: z.string(),
  opened_ms: z.union([z.string(), z.number()]).transform(Number),
  closed_ms: z
    .union([z.string(), z.number()])
    .nullable()
    .transform((v) => (v === null ? null : Number(v))),
  suppressed: z.boolean(),
});

/** The job's alerts as spans. */
async function readJobAlerts(db: Queryable, jobId: string) {
  const rows = await run(
    db,
    `SELECT host_id, (extract(epoch FROM opened_at) * 1000)::float8 AS opened_ms,
            (extract(epoch FROM closed_at) * 1000)::float8 AS closed_ms, suppressed
       FROM alerts WHERE job_id = $1 ORDER BY opened_at, id`,
    [jobId],
  );
  return rows.map((r) => {
    const a = AlertDbRow.parse(r);
    return { hostId: a.host_id, openedAt: a.opened_ms, closedAt: a.closed_ms, suppressed: a.suppressed };
  });
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

// Completed jobs never change: their evaluations are cached (a few, most recent kept).
const CACHE_SIZE = 32;
const cache = new Map<string, unknown>();

function cached<T>(key: string, compute: () => Promise<T>): Promise<T> {
  const hit = cache.get(key) as Promise<T> | undefined;
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const p = compute();
  cache.set(key, p);
  // A failed computation is not kept.
  p.catch(() => cache.delete(key));
  while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return p;
}

/** Forgets cached evaluations (all, or one job's). */
export function clearEvaluationCache(jobId?: string): void {
  if (jobId === undefined) cache.clear();
  else for (const key of [...cache.keys()]) if (key.startsWith(`${jobId}:`)) cache.delete(key);
}

/**
 * Evaluates a completed job: point-wise figures at the model's own flag, ROC-AUC, PR-AUC, the
 * ROC and precision–recall curves (downsampled, for plotting) and event figures from the job's
 * alerts.
 *
 * @param pool - the database pool
 * @param job - a completed job (see {@link resolveEvaluationJob})
 */
export function evaluateJob(pool: Pool, job: JobRecord): Promise<JobEvaluation> {
  return cached(`${job.id}:eval`, async () => {
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

const GroupDbRow = z.object({
  grp: z.string().nullable(),
  records: z.string(),
  anomalies: z.string(),
  caught: z.string(),
  missed: z.string(),
  false_alarms: z.string(),
  mean_score: z.number().nullable(),
});

/**
 * The error distribution of a completed job: per group of `groupBy`, records, anomalies, caught,
 * missed, false alarms (at the model's flag), mean fused score and event recall.
 *
 * @param groupBy - `anomaly_type`, `region` or `project_id`
 */
export function errorDistribution(pool: Pool, job: JobRecord, groupBy: ErrorGroupBy): Promise<ErrorGroup[]> {
  const column = ERROR_GROUP_COLUMNS[groupBy];
  if (column === undefined) {
    throw new RangeError(
      `groupBy must be one of ${Object.keys(ERROR_GROUP_COLUMNS).join(', ')}; got ${String(groupBy)}`,
    );
  }
  return cached(`${job.id}:dist:${groupBy}`, async () => {
    const rows = await run(
      pool,
      `SELECT ${column} AS grp, count(*) AS records,
              count(*) FILTER (WHERE t.is_anomaly) AS anomalies,
              count(*) FILTER (WHERE t.is_anomaly AND s.is_anomalous) AS caught,
              count(*) FILTER (WHERE t.is_anomaly AND NOT s.is_anomalous) AS missed,
              count(*) FILTER (WHERE NOT t.is_anomaly AND s.is_anomalous) AS false_alarms,
              avg(s.fused) AS mean_score
         FROM ${jobScoresPartition(job.id)} s
         JOIN host_telemetry_archival t ON t.dataset_id = $1 AND t.row_id = s.row_id
        GROUP BY 1 ORDER BY 1 NULLS FIRST`,
      [job.datasetId],
    );
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
    return rows.map((r) => {
      const g = GroupDbRow.parse(r);
      const f = g.grp === null ? undefined : found.get(g.grp);
      return {
        group: g.grp,
        records: Number(g.records),
        anomalies: Number(g.anomalies),
        caught: Number(g.caught),
        missed: Number(g.missed),
        falseAlarms: Number(g.false_alarms),
        meanScore: g.mean_score,
        episodes: f?.episodes ?? 0,
        eventRecall: f && f.episodes > 0 ? f.detected / f.episodes : null,
      };
    });
  });
}
