/**
 * Evaluation of a completed job (src/jobs/evaluation.ts and the wire mapping of
 * src/api/routes/evaluation.ts) on a small fixture whose figures were worked out by hand:
 * 2 hosts × 10 one-minute steps, one spike episode caught by an alert, one stuck episode missed,
 * one false alert, one invalid record. Then a dataset without anomalies (undefined figures are
 * null) and the 404/409 paths.
 *
 * Fixture (fused score; `*` labelled anomalous; row_id = 2 × step + host):
 *   step      0    1    2    3    4    5    6    7    8    9
 *   h1 (r1)  .1   .2  1.5* 2.0*  .5*  .1  1.2   .1   .1   .1    spike episode 1: steps 2–4
 *   h2 (r2)  .3  NaN   .2   .1   .1   .1   .4*  .9*  .1*  .3    stuck episode 2: steps 6–8
 * Alerts: h1 open 00:03–00:08 (finds episode 1 one record in), h1 open from 00:09 (false).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvaluationSchema } from '../../src/contract/evaluation.js';
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import { errorDistribution, evaluateJob, resolveEvaluationJob } from '../../src/jobs/evaluation.js';
import { createJobScoresPartition } from '../../src/db/job-scores.js';
import type { Pool } from '../../src/db/pool.js';
import { evaluationToWire } from '../../src/api/routes/evaluation.js';
import { createMigratedDatabase, GENERATOR_SET_SQL } from '../helpers/db.js';

let pool: Pool;
const MODEL = randomUUID();
const OTHER_MODEL = randomUUID();
const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;

interface FixtureRow {
  host: 0 | 1;
  step: number;
  fused: number;
  label: boolean;
  type: string | null;
  episode: number | null;
}

/** Creates a completed dataset with these rows, a completed job over it with their scores, and alerts. */
async function fixture(rows: FixtureRow[], alerts: { host: string; open: number; close: number | null }[]) {
  const datasetId = randomUUID();
  const jobId = randomUUID();
  await pool.query(
    `INSERT INTO datasets (id, name, status, params, row_count, rows_total, host_count, ${GENERATOR_SET_SQL.columns})
     VALUES ($1, 'fixture', 'completed', '{"interval_s": 60, "duration_s": 600}', $2, $2, 2, ${GENERATOR_SET_SQL.values})`,
    [datasetId, rows.length],
  );
  await pool.query(
    `CREATE TABLE "tel_${datasetId.replace(/-/g, '')}" PARTITION OF host_telemetry_archival FOR VALUES IN ('${datasetId}')`,
  );
  await pool.query(
    `INSERT INTO jobs (id, kind, model_id, dataset_id, status, phase, params, rows_total, rows_done, next_row_id, finished_at)
     VALUES ($1, 'score_dataset', $2, $3, 'completed', 'done', '{"chunk_rows": 100, "policy": "default"}', $4, $4, $4, now())`,
    [jobId, MODEL, datasetId, rows.length],
  );
  await createJobScoresPartition(pool, jobId);
  for (const r of rows) {
    const rowId = 2 * r.step + r.host;
    const host = r.host === 0 ? 'h1' : 'h2';
    await pool.query(
      `INSERT INTO host_telemetry_archival (dataset_id, row_id, ts, host_id, project_id, region,
         cpu_usage, memory_usage, disk_io, network_in, network_out, load_avg, latency_ms, error_rate,
         is_anomaly, anomaly_type, anomaly_episode)
       VALUES ($1, $2, to_timestamp($3 / 1000.0), $4, $5, $6, 1, 1, 1, 1, 1, 1, 1, 1, $7, $8, $9)`,
      [
        datasetId,
        rowId,
        T0 + r.step * MIN,
        host,
        r.host === 0 ? 'p1' : 'p2',
        r.host === 0 ? 'r1' : 'r2',
        r.label,
        r.type,
        r.episode,
      ],
    );
    const valid = !Number.isNaN(r.fused);
    await pool.query(
      `INSERT INTO job_scores (job_id, row_id, fused, spe, t2, z_max, top_metric, is_anomalous)
       VALUES ($1, $2, $3, $3, 0, 0, $4, $5)`,
      [jobId, rowId, valid ? r.fused : null, valid ? 0 : -1, valid && r.fused >= 1],
    );
  }
  for (const a of alerts) {
    await pool.query(
      `INSERT INTO alerts (source, job_id, model_id, dataset_id, host_id, state, opened_at, closed_at, peak_score, records)
       VALUES ($1::text, $1::uuid, $2, $3, $4, $5, to_timestamp($6 / 1000.0), to_timestamp($7 / 1000.0), 2, 3)`,
      [
        jobId,
        MODEL,
        datasetId,
        a.host,
        a.close === null ? 'open' : 'closed',
        T0 + a.open * MIN,
        a.close === null ? null : T0 + a.close * MIN,
      ],
    );
  }
  return { datasetId, jobId };
}

const H1 = [0.1, 0.2, 1.5, 2.0, 0.5, 0.1, 1.2, 0.1, 0.1, 0.1];
const H2 = [0.3, NaN, 0.2, 0.1, 0.1, 0.1, 0.4, 0.9, 0.1, 0.3];
let main: { datasetId: string; jobId: string };
let normal: { datasetId: string; jobId: string };

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
  for (const id of [MODEL, OTHER_MODEL]) {
    await pool.query(`INSERT INTO models (id, name, status, params) VALUES ($1, 'm', 'completed', '{}')`, [
      id,
    ]);
  }
  const rows: FixtureRow[] = [];
  for (let step = 0; step < 10; step++) {
    const spike = step >= 2 && step <= 4;
    const stuck = step >= 6 && step <= 8;
    rows.push({
      host: 0,
      step,
      fused: H1[step]!,
      label: spike,
      type: spike ? 'spike' : null,
      episode: spike ? 1 : null,
    });
    rows.push({
      host: 1,
      step,
      fused: H2[step]!,
      label: stuck,
      type: stuck ? 'stuck' : null,
      episode: stuck ? 2 : null,
    });
  }
  main = await fixture(rows, [
    { host: 'h1', open: 3, close: 8 },
    { host: 'h1', open: 9, close: null },
  ]);
  normal = await fixture(
    rows.map((r) => ({ ...r, fused: 0.2, label: false, type: null, episode: null })),
    [],
  );
});

afterAll(async () => {
  await pool.end();
});

describe('resolveEvaluationJob', () => {
  it('answers 404 for an unknown model, dataset or job', async () => {
    await expect(resolveEvaluationJob(pool, randomUUID(), main.datasetId)).rejects.toThrow(NotFoundError);
    await expect(resolveEvaluationJob(pool, MODEL, randomUUID())).rejects.toThrow(/dataset .* not found/);
    await expect(resolveEvaluationJob(pool, MODEL, main.datasetId, randomUUID())).rejects.toThrow(
      /job .* not found/,
    );
  });

  it('answers 409 naming the job to run when the model never scored the dataset', async () => {
    const err = await resolveEvaluationJob(pool, OTHER_MODEL, main.datasetId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toContain('has not been scored by model');
    expect((err as Error).message).toContain(
      `POST /jobs/score_dataset {"model_id":"${OTHER_MODEL}","dataset_id":"${main.datasetId}"}`,
    );
  });

  it('answers 409 for a job of another pair, and reads the latest completed job otherwise', async () => {
    await expect(resolveEvaluationJob(pool, MODEL, normal.datasetId, main.jobId)).rejects.toThrow(
      /not this pair/,
    );
    expect((await resolveEvaluationJob(pool, MODEL, main.datasetId)).id).toBe(main.jobId);
  });
});

describe('evaluateJob', () => {
  it('gives the hand-computed figures', async () => {
    const job = await resolveEvaluationJob(pool, MODEL, main.datasetId);
    const e = evaluationToWire(await evaluateJob(pool, job));
    expect(EvaluationSchema.parse(e)).toEqual(e);
    expect(e).toMatchObject({
      records: 20,
      invalid_records: 1,
      anomalies: 6,
      policy: 'default',
      job_id: main.jobId,
    });
    // Flags: h1 steps 2, 3 (true) and 6 (false); missed h1 step 4 and h2 steps 6–8.
    expect(e.pointwise.confusion).toEqual({ tp: 2, fp: 1, tn: 13, fn: 4 });
    expect(e.pointwise.precision).toBeCloseTo(2 / 3, 12);
    expect(e.pointwise.recall).toBeCloseTo(1 / 3, 12);
    expect(e.pointwise.f1).toBeCloseTo(4 / 9, 12);
    // 6 positives × 13 valid negatives; pairs won: 13 + 13 + 12 + 12 + 12 + 8 ties × ½.
    expect(e.roc_auc).toBeCloseTo(66 / 78, 12);
    // Recall steps of 1/6 at precisions 1, 1, 3/4, 4/5, 5/6 and 6/19.
    expect(e.pr_auc).toBeCloseTo((2 + 3 / 4 + 4 / 5 + 5 / 6 + 6 / 19) / 6, 12);
    expect(e.events.overall).toEqual({
      episodes: 2,
      detected: 1,
      recall: 0.5,
      mean_time_to_detect_records: 1,
      median_time_to_detect_records: 1,
    });
    expect(e.events.by_type.spike).toMatchObject({
      episodes: 1,
      detected: 1,
      recall: 1,
      mean_time_to_detect_records: 1,
    });
    expect(e.events.by_type.stuck).toMatchObject({
      episodes: 1,
      detected: 0,
      recall: 0,
      mean_time_to_detect_records: null,
    });
    expect(e.events.alerts).toBe(2);
    expect(e.events.alerts_per_episode).toBe(1);
    expect(e.events.false_alerts).toBe(1);
    // One false alert over 2 hosts × 10 minutes.
    expect(e.events.false_alerts_per_host_day).toBeCloseTo(1 / (2 * (600 / 86_400)), 9);
  });

  it('gives null for every undefined figure on a dataset without anomalies or flags', async () => {
    const job = await resolveEvaluationJob(pool, MODEL, normal.datasetId);
    const e = evaluationToWire(await evaluateJob(pool, job));
    expect(e.pointwise).toEqual({
      precision: null,
      recall: null,
      f1: null,
      confusion: { tp: 0, fp: 0, tn: 20, fn: 0 },
    });
    expect(e.roc_auc).toBeNull();
    expect(e.pr_auc).toBeNull();
    expect(e.events.overall.recall).toBeNull();
    expect(e.events.alerts_per_episode).toBeNull();
    expect(e.events.false_alerts).toBe(0);
  });
});

describe('errorDistribution', () => {
  it('groups by anomaly type with the hand-computed counts', async () => {
    const job = await resolveEvaluationJob(pool, MODEL, main.datasetId);
    const groups = await errorDistribution(pool, job, 'anomaly_type');
    expect(groups.map((g) => g.group)).toEqual([null, 'spike', 'stuck']);
    const [none, spike, stuck] = groups;
    expect(none).toMatchObject({
      records: 14,
      anomalies: 0,
      caught: 0,
      missed: 0,
      falseAlarms: 1,
      episodes: 0,
      eventRecall: null,
    });
    expect(none!.meanScore).toBeCloseTo(3 / 13, 12);
    expect(spike).toMatchObject({
      records: 3,
      anomalies: 3,
      caught: 2,
      missed: 1,
      falseAlarms: 0,
      episodes: 1,
      eventRecall: 1,
    });
    expect(spike!.meanScore).toBeCloseTo(4 / 3, 12);
    expect(stuck).toMatchObject({
      records: 3,
      anomalies: 3,
      caught: 0,
      missed: 3,
      falseAlarms: 0,
      episodes: 1,
      eventRecall: 0,
    });
  });

  it('groups by region', async () => {
    const job = await resolveEvaluationJob(pool, MODEL, main.datasetId);
    const [r1, r2] = await errorDistribution(pool, job, 'region');
    expect(r1).toMatchObject({
      group: 'r1',
      records: 10,
      anomalies: 3,
      caught: 2,
      missed: 1,
      falseAlarms: 1,
      eventRecall: 1,
    });
    expect(r1!.meanScore).toBeCloseTo(5.9 / 10, 12);
    expect(r2).toMatchObject({
      group: 'r2',
      records: 10,
      anomalies: 3,
      caught: 0,
      missed: 3,
      falseAlarms: 0,
      eventRecall: 0,
    });
    // The invalid record has no score: the mean is over the 9 valid ones.
    expect(r2!.meanScore).toBeCloseTo(2.5 / 9, 12);
  });

  it('rejects an unknown grouping, naming it', () => {
    expect(() => errorDistribution(pool, { id: main.jobId } as never, 'host_id' as never)).toThrow(
      'groupBy must be one of anomaly_type, region, project_id; got host_id',
    );
  });
});
