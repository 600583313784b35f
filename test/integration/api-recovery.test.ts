/**
 * Failure manners of the whole server (src/server/system.ts) over an embedded PostgreSQL that is
 * stopped and started under it: while the database is down, routes that need it answer 503 with
 * the error body, the rest (OpenAPI, the dashboard, open WebSockets) keep working, and the
 * process lives on; once it is back, the same server answers again and its live-event listener
 * reconnects by itself, with nobody restarting anything.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/api/static.js';
import { ApiError, TadsClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/env.js';
import type { WsServerMessage } from '../../src/contract/ws.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { notifyEvent } from '../../src/db/events.js';
import { createPool } from '../../src/db/pool.js';
import { startSystem, type System } from '../../src/server/system.js';
import { embeddedPostgresPlace } from '../helpers/db.js';
import { openWebSocket } from './ws-client.js';

/** Polls `check` until it returns true (the test's own timeout bounds it). */
async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 100));
}

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
});

describe('a server whose database goes down and comes back', () => {
  it('answers 503 while it is down, keeps the rest running, and recovers by itself', async () => {
    const { dataDir, port, remove } = await embeddedPostgresPlace('tads-recovery-');
    cleanup.push(remove);
    let db: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir, port });
    cleanup.push(() => db.stop());

    const config = loadConfig({ host: '127.0.0.1', port: 0, generatorPort: 0, databaseUrl: db.url }, {});
    const system: System = await startSystem({
      config,
      reapIntervalMs: 500,
      staticDir: join(packageRoot(), 'test', 'fixtures', 'web-dist'),
    });
    cleanup.push(() => system.close());
    await system.events.ready;
    const client = new TadsClient(system.apiUrl);
    const created = await client.createDataset({ host_count: 2, duration_s: 600 });
    await until(async () => (await client.getDataset(created.id)).status === 'completed');
    const ws = await openWebSocket(`${system.apiUrl}/ws`);
    cleanup.push(() => Promise.resolve(ws.close()));

    // Down.
    await db.stop();
    for (const call of [
      () => client.health(),
      () => client.listDatasets(),
      () => client.getDataset(created.id),
      () => client.createDataset({ host_count: 1, duration_s: 60 }),
      () => client.listJobs(),
      () => client.listAlerts(),
    ]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ status: 503, code: 'database_unavailable' });
    }
    // What does not need the database still answers.
    expect((await fetch(`${system.apiUrl}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${system.apiUrl}/app/`)).status).toBe(200);
    const bad = await fetch(`${system.apiUrl}/datasets?limit=0`);
    expect(bad.status).toBe(400);
    await until(() => !system.events.connected);

    // Back up on the same port: the same server recovers without help.
    db = await startEmbeddedPostgres({ dataDir, port });
    await until(async () => {
      try {
        return (await client.health()).status === 'ok';
      } catch (err) {
        expect(err).toMatchObject({ status: 503 });
        return false;
      }
    });
    expect((await client.getDataset(created.id)).status).toBe('completed');
    const again = await client.createDataset({ host_count: 1, duration_s: 120 });
    await until(async () => (await client.getDataset(again.id)).status === 'completed');

    // The live-event listener reconnected: an event from another connection reaches the
    // WebSocket that stayed open all along.
    await until(() => system.events.connected);
    const other = createPool(db.url, { max: 1 });
    cleanup.push(() => other.end());
    await notifyEvent(other, { type: 'dataset.progress', dataset_id: again.id, row_count: 7, rows_total: 7 });
    const seen = await ws.next(
      (m) =>
        (m as WsServerMessage).type === 'dataset.progress' && (m as { row_count: number }).row_count === 7,
    );
    expect(seen).toMatchObject({ dataset_id: again.id });
  });
});
