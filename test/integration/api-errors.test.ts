import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiDeps, DatasetGenerator } from '../../src/api/deps.js';
import { silentLogger } from '../../src/api/deps.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { ApiError, TadsClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/env.js';
import { markDatasetCompleted, markDatasetRunning } from '../../src/db/datasets.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { recordDataset } from '../../src/generator/ingest.js';
import { createMigratedDatabase, unreachableDatabaseUrl } from '../helpers/db.js';

const BODY_LIMIT = 4096;
const OWNER = 'api-test';

let pool: Pool;
let downPool: Pool;
let api: ApiServer;
let downApi: ApiServer;
let client: TadsClient;

/**
 * Records datasets the way the generator service does, without generating rows: the HTTP layer
 * is what these tests look at. `running` ones stay running; others complete at once.
 */
function recordingGenerator(db: () => Pool): DatasetGenerator {
  return {
    async generate(params) {
      const { datasetId, rowsTotal } = await recordDataset(db(), params, OWNER);
      await markDatasetRunning(db(), datasetId, OWNER);
      if (params.name !== 'stay-running') await markDatasetCompleted(db(), datasetId, OWNER, rowsTotal);
      return { datasetId };
    },
  };
}

function depsFor(p: Pool): ApiDeps {
  return {
    pool: p,
    config: loadConfig({ port: 0, bodyLimit: BODY_LIMIT }, {}),
    owner: OWNER,
    generator: recordingGenerator(() => p),
    log: silentLogger,
    version: '0.0.0-test',
  };
}

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
  downPool = createPool(await unreachableDatabaseUrl(), { connectionTimeoutMillis: 2000 });
  api = await startApiServer({ deps: depsFor(pool) });
  downApi = await startApiServer({ deps: depsFor(downPool) });
  client = new TadsClient(api.url);
});
afterAll(async () => {
  await api.close();
  await downApi.close();
  await pool.end();
  await downPool.end();
});

async function raw(path: string, init: RequestInit = {}, base = api.url) {
  const res = await fetch(base + path, init);
  return {
    status: res.status,
    body: (await res.json()) as { error?: { code: string; message: string; details: unknown } },
  };
}

const postJson = (body: string, base = api.url) =>
  raw('/datasets', { method: 'POST', body, headers: { 'content-type': 'application/json' } }, base);

describe('API errors', () => {
  it('400 for a body that is not JSON', async () => {
    const r = await postJson('{"host_count": ');
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('invalid_input');
    expect(r.body.error?.message).toMatch(/^body must be valid JSON/);
  });

  it('400 naming the field for negative and absurd sizes', async () => {
    const neg = await postJson('{"host_count": -1}');
    expect(neg.status).toBe(400);
    expect(neg.body.error).toMatchObject({
      message: 'host_count must be an integer in [1, 10000]; got -1',
      details: { issues: [{ path: 'body.host_count' }] },
    });
    const absurd = await postJson('{"host_count": 10000, "duration_s": 31536000, "interval_s": 1}');
    expect(absurd.status).toBe(400);
    expect(absurd.body.error!.message).toMatch(/total rows\) must be at most 100000000/);
  });

  it('400 for an unknown anomaly type and for unknown fields', async () => {
    const t = await postJson('{"anomaly_types": ["spike", "meteor"]}');
    expect(t.status).toBe(400);
    expect(t.body.error!.message).toContain('meteor');
    const f = await postJson('{"host_count": 2, "hosts": 3}');
    expect(f.status).toBe(400);
    expect(f.body.error!.message).toContain('unknown field hosts');
  });

  it('400 for a bad id, a bad query and a bad cursor', async () => {
    const id = await raw('/datasets/42');
    expect(id.status).toBe(400);
    expect(id.body.error).toMatchObject({
      message: 'id must be a UUID; got "42"',
      details: { issues: [{ path: 'params.id' }] },
    });
    const limit = await raw('/datasets?limit=0');
    expect(limit.status).toBe(400);
    expect(limit.body.error!.message).toBe('limit must be an integer in [1, 500]; got "0"');
    const status = await raw('/datasets?status=done');
    expect(status.body.error!.message).toBe(
      'status must be one of pending, running, completed, failed; got "done"',
    );
    const cursor = await raw('/datasets?cursor=garbage');
    expect(cursor.status).toBe(400);
    expect(cursor.body.error!.message).toMatch(/^cursor must be a cursor returned by a previous page/);
  });

  it('404 for an unknown dataset id, through the client as ApiError', async () => {
    const id = randomUUID();
    const err = await client.getDataset(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', message: `dataset ${id} not found` });
    expect((await raw(`/datasets/${id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('413 for a body over the limit', async () => {
    const r = await postJson(JSON.stringify({ host_count: 1, name: 'x'.repeat(BODY_LIMIT) }));
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({
      code: 'payload_too_large',
      message: `request body must be at most ${BODY_LIMIT} bytes`,
    });
  });

  it('409 deleting a running dataset; deleting a finished one works', async () => {
    const running = await client.createDataset({
      host_count: 1,
      duration_s: 60,
      interval_s: 60,
      name: 'stay-running',
    });
    expect(running.status).toBe('running');
    const err = await client.deleteDataset(running.id).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, code: 'conflict' });

    const done = await client.createDataset({ host_count: 2, duration_s: 120, interval_s: 60 });
    expect(done).toMatchObject({
      status: 'completed',
      row_count: 4,
      rows_total: 4,
      progress: 1,
      host_count: 2,
    });
    expect(await client.deleteDataset(done.id)).toEqual({ id: done.id, deleted: true });
    await expect(client.getDataset(done.id)).rejects.toMatchObject({ status: 404 });
  });

  it('503 when the database is down, from /health and the dataset routes', async () => {
    const health = await raw('/health', {}, downApi.url);
    expect(health.status).toBe(503);
    expect(health.body.error!.code).toBe('database_unavailable');
    expect((await raw('/datasets', {}, downApi.url)).status).toBe(503);
    expect((await postJson('{"host_count": 10}', downApi.url)).status).toBe(503);
    // The server lives on: the healthy one still answers.
    expect(await client.health()).toMatchObject({ status: 'ok', version: '0.0.0-test' });
  });

  it('pages GET /datasets newest first through the client', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++)
      made.push((await client.createDataset({ host_count: 1, duration_s: 60, name: `page-${i}` })).id);
    const first = await client.listDatasets({ limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).not.toBeNull();
    const all = [...first.items];
    let cursor = first.next_cursor;
    while (cursor) {
      const page = await client.listDatasets({ limit: 2, cursor });
      all.push(...page.items);
      cursor = page.next_cursor;
    }
    const names = all.map((d) => d.name).filter((n) => n.startsWith('page-'));
    expect(names).toEqual(['page-2', 'page-1', 'page-0']);
  });
});
