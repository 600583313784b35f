/**
 * Fault 7 of the review: with the database stalled (its postmaster stopped with SIGSTOP, the
 * connections open but nothing answering), every request hung for the whole stall, `/health`
 * included. Now the acquire, query and health-check timeouts bound them: while it is stalled
 * `/health` and the routes that need the database answer 503, and once it runs again, 200.
 *
 * The stalled server is one of this test's own, never the run's shared one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startSystem } from '../../src/server/system.js';
import { TadsClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/env.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { embeddedPostgresPlace } from '../helpers/db.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
});

/** Polls `check` until it returns true (the test's own timeout bounds it). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 100));
}

/** The pids of a server's postmaster and of every process it lists as its own. */
async function serverPids(url: string, dataDir: string): Promise<number[]> {
  const postmaster = Number((await readFile(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()',
    );
    return [postmaster, ...rows.map((r) => r.pid)];
  } finally {
    await admin.end();
  }
}

describe('a server whose database stalls', () => {
  it('answers 503 while it is stalled, and 200 again once it runs', async () => {
    const { dataDir, port, remove } = await embeddedPostgresPlace('tads-stall-');
    cleanup.push(remove);
    const db = await startEmbeddedPostgres({ dataDir, port });
    cleanup.push(() => db.stop());
    const config = loadConfig(
      {
        host: '127.0.0.1',
        port: 0,
        generatorPort: 0,
        databaseUrl: db.url,
        pgAcquireTimeoutMs: 1000,
        pgQueryTimeoutMs: 1000,
      },
      {},
    );
    const system = await startSystem({ config });
    cleanup.push(() => system.close());
    const client = new TadsClient(system.apiUrl);
    const created = await client.createDataset({ host_count: 2, duration_s: 600 });
    await until(async () => (await client.getDataset(created.id)).status === 'completed');
    expect((await fetch(`${system.apiUrl}/health`)).status).toBe(200);

    const pids = await serverPids(db.url, dataDir);
    const resume = () => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch (err) {
          // A backend that has ended since (its connection closed) needs no resuming.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
    };
    // Should the test time out while it is stalled, the clean-up resumes it before stopping it.
    cleanup.push(() => Promise.resolve().then(resume));
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      // A success of the last second may still be answered from memory; the next check fails.
      await until(async () => (await fetch(`${system.apiUrl}/health`)).status === 503);
      for (const path of ['/health', '/datasets', `/datasets/${created.id}`]) {
        const res = await fetch(`${system.apiUrl}${path}`);
        expect({ path, status: res.status }).toEqual({ path, status: 503 });
        expect(res.headers.get('retry-after')).toBe('1');
        expect(await res.json()).toMatchObject({ error: { code: 'database_unavailable' } });
      }
    } finally {
      resume();
    }

    await until(async () => (await fetch(`${system.apiUrl}/health`)).status === 200);
    expect((await client.getDataset(created.id)).status).toBe('completed');
    expect((await client.listDatasets()).items.map((d) => d.id)).toContain(created.id);
  });
});
