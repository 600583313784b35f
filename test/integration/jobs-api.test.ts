/**
 * The job and evaluation routes over HTTP, through the typed client: bad input answers 400
 * naming the parameter, unknown ids 404, conflicts 409; then a job from POST to completion with
 * its progress, list, evaluation and error distribution, and a cancellation.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/index.js';
import { type GenerateParamsInput } from '../../src/core/generator.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { trainModel } from '../../src/jobs/training.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const OWNER = 'jobs-api-test';
let srv: TestServer;
let modelId: string;
let datasetId: string;
let otherDatasetId: string;

async function ingest(input: GenerateParamsInput): Promise<string> {
  return (await generateDataset(srv.pool, input, { owner: OWNER })).datasetId;
}

/** The API error of a failing call. */
async function apiError(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

async function post(
  path: string,
  body: unknown,
): Promise<{ status: number; json: { error?: { message: string } } }> {
  const res = await fetch(srv.apiUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { error?: { message: string } } };
}

beforeAll(async () => {
  srv = await startTestServer();
  const trainId = await ingest({ seed: 1, hostCount: 8, durationS: 3 * 3600, anomalyRate: 0 });
  ({ modelId } = await trainModel(srv.pool, { datasetId: trainId, owner: OWNER }));
  datasetId = await ingest({ seed: 2, hostCount: 8, durationS: 4 * 3600, anomalyRate: 0.05 });
  otherDatasetId = await ingest({ seed: 3, hostCount: 2, durationS: 3600 });
});

afterAll(async () => {
  await srv.close();
});

describe('POST /jobs/score_dataset: bad input', () => {
  it('answers 400 naming the parameter, what was expected and what arrived', async () => {
    let r = await post('/jobs/score_dataset', { model_id: 'nope', dataset_id: datasetId });
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toContain('model_id must be a UUID; got "nope"');
    r = await post('/jobs/score_dataset', { model_id: modelId, dataset_id: datasetId, chunk_rows: 5 });
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toContain('chunk_rows must be an integer in [100, 1000000]; got 5');
    r = await post('/jobs/score_dataset', { model_id: modelId, dataset_id: datasetId, policy: 'loud' });
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toContain('policy must be one of default, smoothed; got "loud"');
    r = await post('/jobs/score_dataset', { model_id: modelId, dataset_id: datasetId, extra: 1 });
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toContain('extra');
  });

  it('answers 404 for an unknown model or dataset', async () => {
    const e = await apiError(srv.client.scoreDataset({ model_id: randomUUID(), dataset_id: datasetId }));
    expect(e.status).toBe(404);
    expect(e.message).toMatch(/^model .* not found$/);
    expect(
      (await apiError(srv.client.scoreDataset({ model_id: modelId, dataset_id: randomUUID() }))).status,
    ).toBe(404);
  });

  it('answers 400 and 404 on the job routes for a bad or unknown id', async () => {
    const bad = await apiError(srv.client.getJob('x'));
    expect(bad.status).toBe(400);
    expect(bad.message).toContain('id must be a UUID; got "x"');
    expect((await apiError(srv.client.getJobProgress(randomUUID()))).status).toBe(404);
    expect((await apiError(srv.client.cancelJob(randomUUID()))).status).toBe(404);
    const q = await apiError(srv.client.listJobs({ status: 'lost' as never }));
    expect(q.status).toBe(400);
    expect(q.message).toContain(
      'status must be one of pending, running, completed, failed, cancelled; got "lost"',
    );
  });
});

describe('GET /models/:id/eval before any job', () => {
  it('answers 409 naming the job to run, and 400 for a bad group_by', async () => {
    const e = await apiError(srv.client.evaluate(modelId, otherDatasetId));
    expect(e.status).toBe(409);
    expect(e.message).toContain('POST /jobs/score_dataset');
    const g = await apiError(srv.client.errorDistribution(modelId, otherDatasetId, 'host_id' as never));
    expect(g.status).toBe(400);
    expect(g.message).toContain('group_by must be one of anomaly_type, region, project_id; got "host_id"');
  });
});

describe('a job over HTTP', () => {
  it('runs from POST to completed, and is evaluated', async () => {
    const job = await srv.client.scoreDataset({ model_id: modelId, dataset_id: datasetId, chunk_rows: 1000 });
    expect(job).toMatchObject({ status: 'pending', rows_done: 0, chunk_rows: 1000, policy: 'default' });
    let progress = await srv.client.getJobProgress(job.id);
    for (let i = 0; i < 300 && progress.status !== 'completed'; i++) {
      expect(progress.status).not.toBe('failed');
      await new Promise((r) => setTimeout(r, 50));
      progress = await srv.client.getJobProgress(job.id);
    }
    expect(progress).toMatchObject({
      status: 'completed',
      phase: 'done',
      fraction: 1,
      rows_done: job.rows_total,
    });
    expect(progress.eta_s).toBeNull();
    const done = await srv.client.getJob(job.id);
    expect(done.timings.runs).toBe(1);
    expect(done.finished_at).not.toBeNull();
    expect((await srv.client.listJobs({ model_id: modelId })).items.map((j) => j.id)).toContain(job.id);

    const e = await srv.client.evaluate(modelId, datasetId);
    expect(e.job_id).toBe(job.id);
    expect(e.records).toBe(job.rows_total);
    expect(e.anomalies).toBeGreaterThan(0);
    expect(e.pointwise.confusion.tp + e.pointwise.confusion.fn).toBe(e.anomalies);
    expect(e.roc_auc).not.toBeNull();
    const dist = await srv.client.errorDistribution(modelId, datasetId, 'anomaly_type');
    expect(dist.groups.reduce((s, g) => s + g.records, 0)).toBe(job.rows_total);
    expect(dist.groups.reduce((s, g) => s + g.caught, 0)).toBe(e.pointwise.confusion.tp);

    // A completed job cannot be cancelled.
    const c = await apiError(srv.client.cancelJob(job.id));
    expect(c.status).toBe(409);
    expect(c.message).toContain('already completed');
  });

  it('cancels a job and deletes its scores', async () => {
    // The server runs one job at a time: the second waits behind the first, so it cannot have
    // completed when the cancellation arrives.
    const first = await srv.client.scoreDataset({
      model_id: modelId,
      dataset_id: datasetId,
      chunk_rows: 100,
    });
    const job = await srv.client.scoreDataset({ model_id: modelId, dataset_id: datasetId, chunk_rows: 100 });
    const cancelled = await srv.client.cancelJob(job.id);
    expect(cancelled.status).toBe('cancelled');
    const { rows } = await srv.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM job_scores WHERE job_id = $1',
      [job.id],
    );
    expect(rows[0]!.n).toBe('0');
    expect((await srv.client.getJob(job.id)).status).toBe('cancelled');
    await srv.client.cancelJob(first.id).catch(() => {});
  });
});
