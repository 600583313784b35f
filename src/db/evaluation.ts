/**
 * The SQL and rows of evaluation (DESIGN.md "Evaluation"): a completed job's scores and labels
 * streamed out of PostgreSQL with one binary COPY into typed arrays (9 bytes per record: 10 M
 * records are 90 MB), the dataset's episodes aggregated in SQL (first and last record of each),
 * the job's alerts, and the per-group counts of the error distribution. The use cases (which
 * job, the figures, their cache) are src/jobs/evaluation.ts; the maths src/core/evaluation.ts.
 */
import { to as copyTo } from 'pg-copy-streams';
import { z } from 'zod';
import type { EpisodeSpan } from '../core/evaluation.js';
import { toDatabaseError } from './errors.js';
import { BinaryCopyParser, jobScoresPartition } from './job-scores.js';
import type { JobRecord } from './jobs.js';
import type { Pool, Queryable } from './pool.js';

/** Groupings of the error distribution (fixed list: column names never come from input). */
export const ERROR_GROUP_COLUMNS = {
  anomaly_type: 't.anomaly_type',
  region: 't.region',
  project_id: 't.project_id',
} as const;
export type ErrorGroupBy = keyof typeof ERROR_GROUP_COLUMNS;

async function run(db: Queryable, text: string, values: unknown[] = []): Promise<unknown[]> {
  try {
    const res = await db.query(text, values);
    return res.rows as unknown[];
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/** Whether a model of this id exists. */
export async function modelExists(db: Queryable, modelId: string): Promise<boolean> {
  const rows = await run(db, 'SELECT EXISTS (SELECT 1 FROM models WHERE id = $1) AS ok', [modelId]);
  return z.object({ ok: z.boolean() }).parse(rows[0]).ok;
}

/** The newest pending or running job of a (model, dataset) pair, or undefined. */
export async function pendingJobOf(
  db: Queryable,
  modelId: string,
  datasetId: string,
): Promise<{ id: string; status: string } | undefined> {
  const rows = await run(
    db,
    `SELECT id, status FROM jobs WHERE model_id = $1 AND dataset_id = $2 AND status IN ('pending', 'running')
     ORDER BY created_at DESC LIMIT 1`,
    [modelId, datasetId],
  );
  return z.array(z.object({ id: z.string(), status: z.string() })).parse(rows)[0];
}

/** Scores and labels of a job's records, as typed arrays (row order is unimportant here). */
export interface ScoredLabels {
  fused: Float64Array;
  flags: Uint8Array;
  labels: Uint8Array;
  invalid: number;
}

/** Streams (fused, is_anomalous, is_anomaly) of every scored record into typed arrays. */
export async function readScoredLabels(pool: Pool, job: JobRecord): Promise<ScoredLabels> {
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
export interface EpisodeRow extends EpisodeSpan {
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
export async function readEpisodes(db: Queryable, datasetId: string): Promise<EpisodeRow[]> {
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
export async function readJobAlerts(db: Queryable, jobId: string) {
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

const GroupDbRow = z.object({
  grp: z.string().nullable(),
  records: z.string(),
  anomalies: z.string(),
  caught: z.string(),
  missed: z.string(),
  false_alarms: z.string(),
  mean_score: z.number().nullable(),
});

/** The counts of one group of an error distribution. */
export interface ErrorGroupCounts {
  group: string | null;
  records: number;
  anomalies: number;
  caught: number;
  missed: number;
  falseAlarms: number;
  meanScore: number | null;
}

/**
 * Per group of `groupBy`, a completed job's records, anomalies, caught, missed and false alarms
 * (at the model's flag) and mean fused score; groups in order, null first.
 */
export async function readErrorGroups(
  db: Queryable,
  job: JobRecord,
  groupBy: ErrorGroupBy,
): Promise<ErrorGroupCounts[]> {
  const rows = await run(
    db,
    `SELECT ${ERROR_GROUP_COLUMNS[groupBy]} AS grp, count(*) AS records,
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
  return rows.map((r) => {
    const g = GroupDbRow.parse(r);
    return {
      group: g.grp,
      records: Number(g.records),
      anomalies: Number(g.anomalies),
      caught: Number(g.caught),
      missed: Number(g.missed),
      falseAlarms: Number(g.false_alarms),
      meanScore: g.mean_score,
    };
  });
}
