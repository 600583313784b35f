import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/deps.js';
import { startApiServer } from '../../src/api/server.js';
import { TadsClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/env.js';
import type { Dataset } from '../../src/contract/datasets.js';
import { GeneratorClient } from '../../src/generator/client.js';
import { until } from '../helpers/api.js';
import { unreachableDatabaseUrl } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

/** Waits until the dataset has finished, well or not; returns it. */
function waitDone(id: string): Promise<Dataset> {
  return until(
    () => srv.client.getDataset(id),
    (d) => d.status === 'completed' || d.status === 'failed',
    50,
  );
}

async function storedRows(id: string): Promise<number> {
  const { rows } = await srv.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM host_telemetry_archival WHERE dataset_id = $1',
    [id],
  );
  return Number(rows[0]!.n);
}

describe('datasets through the API and the generator', () => {
  it('generates from {"host_count": 10} alone, with the documented defaults', async () => {
    const res = await fetch(`${srv.apiUrl}/datasets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"host_count": 10}',
    });
    expect(res.status).toBe(202);
    const created = (await res.json()) as Dataset;
    expect(['pending', 'running', 'completed']).toContain(created.status);
    expect(created.params).toMatchObject({ host_count: 10, duration_s: 86_400, interval_s: 60, seed: 42 });
    expect(created.rows_total).toBe(10 * 1440);

    const done = await waitDone(created.id);
    expect(done).toMatchObject({ status: 'completed', error: null, row_count: 14_400, progress: 1 });
    expect(await storedRows(created.id)).toBe(14_400);
  });

  it('lists, reads and deletes a generated dataset with its rows', async () => {
    const created = await srv.client.createDataset({
      host_count: 3,
      duration_s: 600,
      interval_s: 60,
      name: 'small',
    });
    const done = await waitDone(created.id);
    expect(done.row_count).toBe(30);
    const page = await srv.client.listDatasets({ limit: 1 });
    expect(page.items[0]!.id).toBe(created.id);
    expect(page.next_cursor).not.toBeNull();
    await srv.client.deleteDataset(created.id);
    expect(await storedRows(created.id)).toBe(0);
    await expect(srv.client.getDataset(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it('answers 503 when the generator cannot be reached, and the API lives on', async () => {
    const deadAddress = new URL(await unreachableDatabaseUrl()).host;
    const generator = new GeneratorClient(deadAddress);
    const api = await startApiServer({
      deps: {
        pool: srv.pool,
        config: loadConfig({ port: 0 }, {}),
        owner: 'test',
        generator,
        log: silentLogger,
        version: 'test',
      },
    });
    try {
      const client = new TadsClient(api.url);
      await expect(client.createDataset({ host_count: 1 })).rejects.toMatchObject({
        status: 503,
        code: 'service_unavailable',
      });
      expect((await client.health()).status).toBe('ok');
    } finally {
      generator.close();
      await api.close();
    }
  });
});
