/**
 * Fault 5 of the review: ten `POST /datasets` at once all failed with `timeout exceeded when
 * trying to connect`. Each generation held a pool connection for its COPY and then waited for a
 * second one (its heartbeat, its completion), so ten of them took the whole pool (ten
 * connections) and waited on each other until the acquire timeout; `/health` answered 500 in the
 * meantime. Now a generation never holds one connection while waiting for another, and `/health`
 * does not queue behind a busy pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDataset } from '../../src/db/datasets.js';
import { newOwnerId } from '../../src/db/leases.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { createEmptyDatabase } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let small: Pool;
beforeAll(async () => {
  srv = await startTestServer();
  small = createPool(await createEmptyDatabase(), { max: 2, connectionTimeoutMillis: 2000 });
  await migrate(small);
});
afterAll(async () => {
  await srv?.close();
  await small?.end();
});

/** Polls `check` until it returns true (the test's own timeout bounds it). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 100));
}

describe('generations at once on a pool with room for one', () => {
  it('take turns instead of each holding one connection and waiting for a second', async () => {
    const owner = newOwnerId();
    const results = await Promise.allSettled(
      [1, 2, 3].map((seed) =>
        generateDataset(small, { name: `turn-${seed}`, hostCount: 2, seed }, { owner }),
      ),
    );
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    for (const r of results) {
      const { datasetId, rows } = (r as PromiseFulfilledResult<{ datasetId: string; rows: number }>).value;
      expect(await getDataset(small, datasetId)).toMatchObject({ status: 'completed', rowCount: rows });
    }
  });
});

describe('ten generations at once on a pool of ten connections', () => {
  it('all complete, and /health answers 200 meanwhile', async () => {
    expect(srv.system.pool.options.max).toBe(10);
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        srv.client.createDataset({ name: `burst-${i}`, host_count: 2, duration_s: 3600, seed: i + 1 }),
      ),
    );
    const health = await fetch(`${srv.apiUrl}/health`);
    expect(health.status).toBe(200);

    const finished = new Set(['completed', 'failed']);
    await until(async () => {
      const states = await Promise.all(created.map((d) => srv.client.getDataset(d.id)));
      return states.every((d) => finished.has(d.status));
    });
    const states = await Promise.all(created.map((d) => srv.client.getDataset(d.id)));
    expect(states.map((d) => [d.status, d.error ?? null])).toEqual(created.map(() => ['completed', null]));
    expect(states.map((d) => d.row_count)).toEqual(created.map((d) => d.rows_total));
  });
});
