/**
 * `POST /train`, `GET /models`, `GET /models/:id`, `DELETE /models/:id` over HTTP against real
 * PostgreSQL: bad input first (each 4xx names the parameter), then a background training whose
 * model equals the one the library trains from the same dataset.
 */
import { GENERATOR_METRIC_SET } from '../../src/contract/vocabulary.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type ApiDeps } from '../../src/api/deps.js';
import * as modelRoutes from '../../src/api/routes/models.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { ApiError, TadsClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/env.js';
import { type GenerateParamsInput } from '../../src/core/generator.js';
import { createDataset } from '../../src/db/datasets.js';
import { createModel } from '../../src/db/models.js';
import type { Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { createTrainingRunner, type TrainingRunner } from '../../src/jobs/training-runner.js';
import { trainModel } from '../../src/jobs/training.js';
import { createMigratedDatabase } from '../helpers/db.js';

const OWNER = 'models-api-test';
let pool: Pool;
let api: ApiServer;
let trainer: TrainingRunner;
let client: TadsClient;
let datasetId: string;

async function ingest(input: GenerateParamsInput): Promise<string> {
  return (await generateDataset(pool, input, { owner: OWNER })).datasetId;
}

/** The API's error for a request, as the client reports it. */
async function failure(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

async function post(path: string, body: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
  trainer = createTrainingRunner({ pool, owner: OWNER });
  const deps: ApiDeps = {
    pool,
    config: loadConfig({ port: 0 }, {}),
    owner: OWNER,
    generator: {
      generate: () => Promise.reject(new Error('not used')),
    },
    log: silentLogger,
    version: '0.0.0-test',
    trainer,
  };
  api = await startApiServer({ deps, groups: [modelRoutes] });
  client = new TadsClient(api.url);
  datasetId = await ingest({ seed: 5, hostCount: 4, durationS: 4 * 3600, intervalS: 60, anomalyRate: 0.05 });
});

afterAll(async () => {
  await trainer.stop();
  await api.close();
  await pool.end();
});

describe('POST /train: bad input', () => {
  it('answers 400 naming the field for a malformed body', async () => {
    let e = await failure(client.train({} as never));
    expect(e.status).toBe(400);
    expect(e.message).toContain('dataset_id must be a UUID; got nothing');
    e = await failure(client.train({ dataset_id: 'nope' }));
    expect(e.message).toContain('dataset_id must be a UUID; got "nope"');
    e = await failure(client.train({ dataset_id: datasetId, variance: 2 }));
    expect(e.message).toContain('variance must be a number in (0, 1]; got 2');
    e = await failure(client.train({ dataset_id: datasetId, n_components: 2.5 }));
    expect(e.message).toContain('n_components must be a positive integer; got 2.5');
    e = await failure(client.train({ dataset_id: datasetId, variance: 0.9, n_components: 2 }));
    expect(e.message).toContain('give either variance or n_components, not both');
    e = await failure(client.train({ dataset_id: datasetId, colour: 'red' } as never));
    expect(e.message).toContain('unknown field colour');
    const raw = await post('/train', '{"dataset_id": ');
    expect(raw.status).toBe(400);
  });

  it('answers 404 for an unknown dataset, 409 for an unfinished one, 400 for a too-small one', async () => {
    const unknown = randomUUID();
    let e = await failure(client.train({ dataset_id: unknown }));
    expect([e.status, e.code, e.message]).toEqual([404, 'not_found', `dataset ${unknown} not found`]);

    const pending = randomUUID();
    await createDataset(pool, {
      id: pending,
      name: 'p',
      params: {},
      rowsTotal: 5,
      hostCount: 1,
      ...GENERATOR_METRIC_SET,
      owner: OWNER,
    });
    e = await failure(client.train({ dataset_id: pending }));
    expect([e.status, e.code]).toEqual([409, 'conflict']);
    expect(e.message).toBe(`dataset ${pending} is pending; only a completed dataset can be trained on`);

    const tiny = await ingest({ seed: 1, hostCount: 1, durationS: 120, intervalS: 60 });
    e = await failure(client.train({ dataset_id: tiny }));
    expect([e.status, e.code]).toEqual([400, 'invalid_input']);
    expect(e.message).toBe(`dataset ${tiny} has 2 rows; training needs at least 3 (n ≥ 2 and n > k + 1)`);
    e = await failure(client.train({ dataset_id: datasetId, n_components: 8 }));
    expect([e.status, e.message]).toEqual([400, 'n_components must be an integer in [1, 7]; got 8']);
  });
});

describe('models routes', () => {
  it('trains in the background: 202 with the id at once, then a completed model with its summary', async () => {
    const accepted = await client.train({ dataset_id: datasetId, name: 'api-model', n_components: 3 });
    expect(accepted.id).toBe(accepted.model_id);
    expect(['pending', 'running', 'completed']).toContain(accepted.status);
    await trainer.settled(accepted.id);

    const m = await client.getModel(accepted.id);
    expect(m.status).toBe('completed');
    expect(m.name).toBe('api-model');
    expect(m.dataset_id).toBe(datasetId);
    expect(m.error).toBeNull();
    expect(m.progress?.phase).toBe('done');
    expect(m.n_components).toBe(3);
    expect(m.n_samples).toBe(4 * 240);
    expect(m.timings?.passes).toBeGreaterThanOrEqual(2);
    const s = m.summary!;
    expect(s.metrics).toHaveLength(8);
    expect(s.explained_variance_ratio).toHaveLength(3);
    expect(s.cumulative_explained_variance).toBeCloseTo(
      s.explained_variance_ratio.reduce((a, b) => a + b),
      12,
    );
    expect(s.limits).toHaveProperty('spe');
    expect(s.limits).toHaveProperty('t2');
    expect(s.z_limit).toBe(6);

    // The same model as the library trains from the same dataset.
    const direct = await trainModel(pool, { datasetId, options: { nComponents: 3 }, owner: OWNER });
    const { trained_at: _a, dataset_id: _b, ...viaApi } = m.model!;
    const { trained_at: _c, dataset_id: _d, ...viaLib } = direct.model.toJSON();
    expect(viaApi).toEqual(viaLib);
  });

  it('lists models newest first, paginated and filtered', async () => {
    const a = await client.train({ dataset_id: datasetId, name: 'list-a' });
    await trainer.settled(a.id);
    const b = await client.train({ dataset_id: datasetId, name: 'list-b', exclude_labelled_anomalies: true });
    await trainer.settled(b.id);
    const first = await client.listModels({ limit: 1 });
    expect(first.items.map((m) => m.id)).toEqual([b.id]);
    expect(first.next_cursor).not.toBeNull();
    const second = await client.listModels({ limit: 1, cursor: first.next_cursor! });
    expect(second.items.map((m) => m.id)).toEqual([a.id]);
    expect(second.items[0]!.n_components).toBe(3);
    const byDataset = await client.listModels({ dataset_id: datasetId, status: 'completed', limit: 500 });
    expect(byDataset.items.every((m) => m.dataset_id === datasetId && m.status === 'completed')).toBe(true);
    expect((await client.getModel(b.id)).params.exclude_labelled_anomalies).toBe(true);
    const e = await failure(client.listModels({ status: 'done' as never }));
    expect(e.message).toContain('status must be one of pending, running, completed, failed; got "done"');
  });

  it('GET /models/:id answers 400 for a malformed id and 404 for an unknown one', async () => {
    let e = await failure(client.getModel('x'));
    expect([e.status, e.message]).toEqual([400, 'id must be a UUID; got "x"']);
    const id = randomUUID();
    e = await failure(client.getModel(id));
    expect([e.status, e.message]).toEqual([404, `model ${id} not found`]);
  });

  it('DELETE /models/:id: 409 while training, then deletes a finished model (404 after)', async () => {
    const busy = randomUUID();
    await createModel(pool, { id: busy, name: 'busy', datasetId, params: {}, owner: 'another-server' });
    let e = await failure(client.deleteModel(busy));
    expect([e.status, e.message]).toEqual([
      409,
      `model ${busy} is pending; it can be deleted once its training has completed or failed`,
    ]);

    const done = await client.train({ dataset_id: datasetId });
    await trainer.settled(done.id);
    expect(await client.deleteModel(done.id)).toEqual({ id: done.id, deleted: true });
    e = await failure(client.getModel(done.id));
    expect(e.status).toBe(404);
    e = await failure(client.deleteModel(done.id));
    expect(e.status).toBe(404);
  });
});
