/**
 * Dataset scoring jobs against real PostgreSQL (src/jobs/score-dataset.ts, src/jobs/job-runner.ts,
 * src/db/jobs.ts, src/db/job-scores.ts): bad input first, then a full run checked against the
 * same scoring and alert replay done in memory, resume from a checkpoint, lease exclusivity and
 * fencing, cancellation, and the runner's pick-up of orphaned jobs.
 */
import { GENERATOR_METRIC_SET } from '../../src/contract/vocabulary.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertManager, type AlertRecord } from '../../src/core/alerts.js';
import { alertOptionsFor, PolicyFilter, policyByName, type PolicyName } from '../../src/core/detector.js';
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import { generateTelemetry, type GenerateParamsInput } from '../../src/core/generator.js';
import { PcaModel, scoreBatch } from '../../src/core/pca.js';
import { createDataset } from '../../src/db/datasets.js';
import { countScores, jobScoresPartition } from '../../src/db/job-scores.js';
import { acquireJobLease, getJob, heartbeatJob, listJobs, saveCheckpoint } from '../../src/db/jobs.js';
import { LeaseLostError, releaseLease } from '../../src/db/leases.js';
import { getModel } from '../../src/db/models.js';
import { createPool, withTransaction, type Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { JobRunner } from '../../src/jobs/job-runner.js';
import {
  cancelScoreDatasetJob,
  runScoreDatasetJob,
  submitScoreDatasetJob,
} from '../../src/jobs/score-dataset.js';
import { trainModel } from '../../src/jobs/training.js';
import { createEmptyDatabase } from '../helpers/db.js';
import { migrate } from '../../src/db/migrate.js';

const OWNER = 'jobs-test-owner';
let pool: Pool;
let modelId: string;
let datasetId: string;
const EVAL_PARAMS: GenerateParamsInput = {
  seed: 7,
  hostCount: 12,
  durationS: 6 * 3600,
  intervalS: 60,
  anomalyRate: 0.05,
};

async function ingest(input: GenerateParamsInput): Promise<string> {
  return (await generateDataset(pool, input, { owner: OWNER })).datasetId;
}

beforeAll(async () => {
  const url = await createEmptyDatabase();
  pool = createPool(url, { max: 12 });
  await migrate(pool);
  const trainId = await ingest({ seed: 1, hostCount: 10, durationS: 3 * 3600, anomalyRate: 0 });
  ({ modelId } = await trainModel(pool, { datasetId: trainId, owner: OWNER }));
  datasetId = await ingest(EVAL_PARAMS);
});

afterAll(async () => {
  await pool.end();
});

/** Alerts as the job stores them, comparable across jobs. */
async function storedAlerts(jobId: string) {
  const { rows } = await pool.query<{
    host_id: string;
    opened_ms: number;
    closed_ms: number | null;
    peak_score: number;
    top_metric: string | null;
    records: number;
    suppressed: boolean;
  }>(
    `SELECT host_id, (extract(epoch FROM opened_at) * 1000)::float8 AS opened_ms,
            (extract(epoch FROM closed_at) * 1000)::float8 AS closed_ms, peak_score, top_metric, records, suppressed
       FROM alerts WHERE job_id = $1 ORDER BY opened_at, host_id`,
    [jobId],
  );
  return rows;
}

/** The scoring and alert replay of a job, done in memory from the generator's rows. */
async function expectedAlerts(policyName: PolicyName): Promise<AlertRecord[]> {
  const row = await getModel(pool, modelId);
  const model = PcaModel.fromJSON(row!.model);
  const data = generateTelemetry(EVAL_PARAMS);
  const policy = policyByName(policyName);
  const alerts = new Map<number, AlertRecord>();
  const manager = new AlertManager({
    ...alertOptionsFor(policy, 60),
    onEvent: (e) => alerts.set(e.alert.id, e.alert),
  });
  const filter = new PolicyFilter(policy, { gapMs: manager.options.gapMs });
  for (const c of data.chunks()) {
    const out = scoreBatch(model, { rows: c.length, cols: 8, data: c.metrics });
    const hostIds = Array.from(c.host, (h) => data.hosts[h]!.hostId);
    const score = new Float64Array(c.length);
    const top = new Int32Array(c.length);
    filter.apply(
      { hostIds, ts: c.ts, fused: out.fused, topMetric: out.topMetric, metrics: c.metrics, d: 8 },
      c.length,
      { score, topMetric: top },
    );
    manager.processBatch({ ts: c.ts, hostIds, fused: score, topMetric: top }, c.length);
  }
  return [...alerts.values()].sort((a, b) => a.openedAt - b.openedAt || (a.hostId < b.hostId ? -1 : 1));
}

describe('submitScoreDatasetJob', () => {
  it('rejects an unknown model or dataset with NotFoundError', async () => {
    await expect(
      submitScoreDatasetJob(pool, { modelId: randomUUID(), datasetId, chunkRows: 1000 }),
    ).rejects.toThrow(NotFoundError);
    await expect(
      submitScoreDatasetJob(pool, { modelId, datasetId: randomUUID(), chunkRows: 1000 }),
    ).rejects.toThrow(/dataset .* not found/);
  });

  it('rejects a dataset that is not completed with ConflictError naming its status', async () => {
    const id = randomUUID();
    await createDataset(pool, {
      id,
      name: 'pending',
      params: {},
      rowsTotal: 10,
      hostCount: 1,
      owner: OWNER,
      ...GENERATOR_METRIC_SET,
    });
    await expect(submitScoreDatasetJob(pool, { modelId, datasetId: id, chunkRows: 1000 })).rejects.toThrow(
      /is pending; only a completed dataset can be scored/,
    );
  });

  it("rejects a model whose metrics are not among the dataset's columns, naming them", async () => {
    const json = (await getModel(pool, modelId))!.model as { metrics: string[] };
    const other = randomUUID();
    const metrics = json.metrics.map((m) => (m === 'disk_io' ? 'disk_iops' : m));
    await pool.query(
      `INSERT INTO models (id, name, status, params, model) VALUES ($1, 'other metrics', 'completed', '{}', $2)`,
      [other, { ...json, metrics }],
    );
    const submit = submitScoreDatasetJob(pool, { modelId: other, datasetId, chunkRows: 1000 });
    await expect(submit).rejects.toThrow(ConflictError);
    await expect(submit).rejects.toThrow(/the source lacks the model metric disk_iops/);
  });

  it('records a pending, unleased job over every row of the dataset', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 1000 });
    expect(job.status).toBe('pending');
    expect(job.leaseOwner).toBeNull();
    expect(job.rowsTotal).toBe(generateTelemetry(EVAL_PARAMS).totalRows);
    expect(job.params).toEqual({ chunkRows: 1000, policy: 'default' });
    await cancelScoreDatasetJob(pool, job.id);
  });
});

describe('runScoreDatasetJob', () => {
  let firstJobId: string;

  it('scores every row once and stores the alerts of the in-memory replay', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 1000 });
    firstJobId = job.id;
    const phases: string[] = [];
    const result = await runScoreDatasetJob(pool, job.id, {
      owner: OWNER,
      onProgress: (e) => phases.push(e.phase),
    });
    expect(result.outcome).toBe('completed');
    const done = await getJob(pool, job.id);
    expect(done).toMatchObject({
      status: 'completed',
      phase: 'done',
      rowsDone: job.rowsTotal,
      leaseOwner: null,
    });
    expect(done!.timings.runs).toBe(1);
    expect(phases.filter((p) => p === 'scoring')).toHaveLength(Math.ceil(job.rowsTotal / 1000));
    expect(phases.at(-1)).toBe('done');

    // Exactly one score per row, every row_id present.
    const { rows } = await pool.query<{ n: string; d: string; lo: string; hi: string }>(
      `SELECT count(*) AS n, count(DISTINCT row_id) AS d, min(row_id) AS lo, max(row_id) AS hi
         FROM ${jobScoresPartition(job.id)}`,
    );
    expect(rows[0]).toEqual({
      n: String(job.rowsTotal),
      d: String(job.rowsTotal),
      lo: '0',
      hi: String(job.rowsTotal - 1),
    });

    // The stored scores are the native scores of the stored rows (spot check: the flag count).
    const expected = await expectedAlerts('default');
    const stored = await storedAlerts(job.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(stored.map((a) => [a.host_id, a.opened_ms, a.closed_ms, a.records, a.suppressed])).toEqual(
      expected.map((a) => [a.hostId, a.openedAt, a.closedAt, a.records, a.suppressed]),
    );
    expect(stored.map((a) => a.peak_score)).toEqual(expected.map((a) => a.peakScore));
  });

  it('resumes a stopped job from its checkpoint with exactly one score per row and the same alerts', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 500 });
    const controller = new AbortController();
    let chunks = 0;
    const first = await runScoreDatasetJob(pool, job.id, {
      owner: 'server-a',
      signal: controller.signal,
      onProgress: () => {
        chunks += 1;
        if (chunks === 3) controller.abort();
      },
    });
    expect(first.outcome).toBe('stopped');
    const stopped = await getJob(pool, job.id);
    expect(stopped).toMatchObject({ status: 'running', phase: 'scoring', nextRowId: 1500, rowsDone: 1500 });
    expect(await countScores(pool, job.id)).toBe(1500);

    // Another server cannot take it while the lease holds; once released it can.
    expect((await runScoreDatasetJob(pool, job.id, { owner: 'server-b' })).outcome).toBe('not_acquired');
    await releaseLease(pool, 'jobs', job.id, 'server-a');
    const second = await runScoreDatasetJob(pool, job.id, { owner: 'server-b' });
    expect(second.outcome).toBe('completed');
    const done = await getJob(pool, job.id);
    expect(done!.timings.runs).toBe(2);
    expect(done!.timings.runStartRows).toBe(1500);
    const { rows } = await pool.query<{ n: string; d: string }>(
      `SELECT count(*) AS n, count(DISTINCT row_id) AS d FROM ${jobScoresPartition(job.id)}`,
    );
    expect(rows[0]).toEqual({ n: String(job.rowsTotal), d: String(job.rowsTotal) });
    expect(await storedAlerts(job.id)).toEqual(await storedAlerts(firstJobId));
  });

  it('replays with the smoothed policy exactly as the in-memory policy filter does', async () => {
    const job = await submitScoreDatasetJob(pool, {
      modelId,
      datasetId,
      chunkRows: 2000,
      policy: 'smoothed',
    });
    expect((await runScoreDatasetJob(pool, job.id, { owner: OWNER })).outcome).toBe('completed');
    const expected = await expectedAlerts('smoothed');
    const stored = await storedAlerts(job.id);
    expect(stored.map((a) => [a.host_id, a.opened_ms, a.closed_ms, a.records, a.peak_score])).toEqual(
      expected.map((a) => [a.hostId, a.openedAt, a.closedAt, a.records, a.peakScore]),
    );
  });

  it('fails a job whose model cannot score, with the error recorded', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 1000 });
    // Break the stored model document: the run must fail the job, not crash.
    const broken = randomUUID();
    await pool.query(
      `INSERT INTO models (id, name, status, params, model) VALUES ($1, 'broken', 'completed', '{}', '{"format_version": 99}')`,
      [broken],
    );
    await pool.query('UPDATE jobs SET model_id = $2 WHERE id = $1', [job.id, broken]);
    const result = await runScoreDatasetJob(pool, job.id, { owner: OWNER });
    expect(result.outcome).toBe('failed');
    const failed = await getJob(pool, job.id);
    expect(failed!.status).toBe('failed');
    expect(failed!.error).toMatch(/format_version/);
  });
});

describe('leases', () => {
  it('lets one owner at a time hold a job, and fences the writes of one that lost it', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 1000 });
    expect(await acquireJobLease(pool, job.id, 'a', 60_000)).not.toBeNull();
    expect(await acquireJobLease(pool, job.id, 'b', 60_000)).toBeNull();
    // Expire a's lease: b takes over; a's heartbeat and checkpoint are refused.
    await pool.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [
      job.id,
    ]);
    expect(await acquireJobLease(pool, job.id, 'b', 60_000)).not.toBeNull();
    expect(await heartbeatJob(pool, job.id, 'a', 60_000)).toBe(false);
    await expect(withTransaction(pool, (c) => saveCheckpoint(c, job.id, 'a', 1000, 1000, 1))).rejects.toThrow(
      LeaseLostError,
    );
    expect((await getJob(pool, job.id))!.nextRowId).toBe(0);
    await cancelScoreDatasetJob(pool, job.id);
  });

  it('runs a job once when two runners race for it', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 1000 });
    const results = await Promise.all([
      runScoreDatasetJob(pool, job.id, { owner: 'racer-1' }),
      runScoreDatasetJob(pool, job.id, { owner: 'racer-2' }),
    ]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['completed', 'not_acquired']);
    expect((await getJob(pool, job.id))!.timings.runs).toBe(1);
    expect(await countScores(pool, job.id)).toBe(job.rowsTotal);
  });
});

describe('JobRunner', () => {
  it('rejects a bad concurrency', () => {
    expect(() => new JobRunner({ pool, owner: 'x', concurrency: 0 })).toThrow(
      'concurrency must be an integer ≥ 1; got 0',
    );
  });

  it('resumes a job whose server died (expired lease) and completes it', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 1000 });
    // A server that took the job, scored nothing and vanished.
    await acquireJobLease(pool, job.id, 'dead-server', 60_000);
    await pool.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [
      job.id,
    ]);
    const runner = new JobRunner({ pool, owner: 'live-server' });
    const finished = new Promise<string>((resolve) =>
      runner.on('finished', (e) => {
        if (e.jobId === job.id) resolve(e.result.outcome);
      }),
    );
    expect(await runner.resumeOrphans()).toBeGreaterThanOrEqual(1);
    expect(await finished).toBe('completed');
    await runner.stop();
  });

  it('drops the score partition of a job deleted with its dataset', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 2000 });
    expect((await runScoreDatasetJob(pool, job.id, { owner: OWNER })).outcome).toBe('completed');
    // What a dataset's deletion does to its jobs: the foreign key's cascade removes the row only.
    await pool.query('DELETE FROM jobs WHERE id = $1', [job.id]);
    const exists = async () =>
      (
        await pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
          jobScoresPartition(job.id),
        ])
      ).rows[0]!.t !== null;
    expect(await exists()).toBe(true);
    const runner = new JobRunner({ pool, owner: 'cleaning-server' });
    await runner.resumeOrphans();
    expect(await exists()).toBe(false);
    await runner.stop();
  });

  it('cancels a running job: it stops, and its scores and alerts are deleted', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 100 });
    const runner = new JobRunner({ pool, owner: 'cancel-server' });
    const cancelled = new Promise<void>((resolve, reject) => {
      let chunks = 0;
      runner.on('progress', (e) => {
        if (e.jobId !== job.id || ++chunks !== 2) return;
        runner.cancel(job.id).then((j) => {
          expect(j.status).toBe('cancelled');
          resolve();
        }, reject);
      });
    });
    runner.submit(job.id);
    await cancelled;
    const after = await getJob(pool, job.id);
    expect(after).toMatchObject({ status: 'cancelled', leaseOwner: null });
    const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
      jobScoresPartition(job.id),
    ]);
    expect(rows[0]!.t).toBeNull();
    expect(await storedAlerts(job.id)).toEqual([]);
    await expect(runner.cancel(job.id)).rejects.toThrow(ConflictError);
    await expect(runner.cancel(job.id)).rejects.toThrow(/already cancelled/);
    await expect(runner.cancel(randomUUID())).rejects.toThrow(NotFoundError);
    await runner.stop();
  });

  it('stops local runs on stop() and hands their leases back', async () => {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 100 });
    const runner = new JobRunner({ pool, owner: 'stopping-server' });
    const progressed = new Promise<void>((resolve) => runner.once('progress', () => resolve()));
    runner.submit(job.id);
    await progressed;
    await runner.stop();
    const after = await getJob(pool, job.id);
    expect(after).toMatchObject({ status: 'running', leaseOwner: null });
    expect(after!.rowsDone).toBeLessThan(after!.rowsTotal);
    await cancelScoreDatasetJob(pool, job.id);
  });
});

describe('listJobs', () => {
  it('pages newest first and filters by status', async () => {
    const page1 = await listJobs(pool, { limit: 2 });
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await listJobs(pool, { limit: 2, cursor: page1.nextCursor });
    const t = (j: { createdAt: Date }) => j.createdAt.getTime();
    expect(t(page1.items[1]!)).toBeGreaterThanOrEqual(t(page2.items[0]!));
    expect(page2.items.map((j) => j.id)).not.toContain(page1.items[0]!.id);
    const completed = await listJobs(pool, { limit: 100, status: 'completed' });
    expect(completed.items.length).toBeGreaterThan(0);
    expect(completed.items.every((j) => j.status === 'completed')).toBe(true);
  });
});
