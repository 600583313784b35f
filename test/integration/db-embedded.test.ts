import { GENERATOR_METRIC_SET } from '../../src/contract/vocabulary.js';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/deps.js';
import { startApiServer } from '../../src/api/server.js';
import { TadsClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/env.js';
import { createDataset, getDataset } from '../../src/db/datasets.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { embeddedPostgresPlace } from '../helpers/db.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
});

describe('embedded PostgreSQL', () => {
  it('refuses port 5432', async () => {
    await expect(startEmbeddedPostgres({ dataDir: tmpdir(), port: 5432 })).rejects.toThrow(
      'port must be an integer in [1, 65535] other than 5432; got 5432',
    );
  });

  it('keeps its data across restarts, and the API answers 503 while it is down', async () => {
    const { dataDir, port, remove } = await embeddedPostgresPlace('tads-embedded-');
    cleanup.push(remove);

    // First start: initialise, migrate, store a dataset.
    let db: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir, port });
    cleanup.push(() => db.stop());
    expect(db.started).toBe(true);
    const pool = createPool(db.url, { max: 2, connectionTimeoutMillis: 2000 });
    cleanup.push(() => pool.end());
    await migrate(pool);
    const id = randomUUID();
    await createDataset(pool, {
      id,
      name: 'kept',
      params: {},
      rowsTotal: 1,
      hostCount: 1,
      owner: 'x',
      ...GENERATOR_METRIC_SET,
    });

    // A second start while it runs uses the running server.
    const again = await startEmbeddedPostgres({ dataDir, port });
    expect(again.started).toBe(false);
    expect(again.url).toBe(db.url);

    // Down: the API reports it as 503 and keeps serving.
    const api = await startApiServer({
      deps: {
        pool,
        config: loadConfig({ port: 0 }, {}),
        owner: 'x',
        generator: { generate: () => Promise.reject(new Error('not used')) },
        log: silentLogger,
        version: 'test',
      },
    });
    cleanup.push(() => api.close());
    const client = new TadsClient(api.url);
    expect((await client.health()).status).toBe('ok');
    await db.stop();
    // /health reuses a successful check for up to a second, then reports the database down.
    const healthError = async () =>
      client.health().then(
        () => null,
        (err: unknown) => err,
      );
    await expect.poll(healthError, { timeout: 5000, interval: 100 }).toMatchObject({
      status: 503,
      code: 'database_unavailable',
    });
    await expect(client.getDataset(id)).rejects.toMatchObject({ status: 503 });

    // Back up: same data, and the same pool recovers.
    db = await startEmbeddedPostgres({ dataDir, port });
    expect(db.started).toBe(true);
    expect((await getDataset(pool, id))?.name).toBe('kept');
    expect((await client.getDataset(id)).name).toBe('kept');
    expect((await migrate(pool)).applied).toEqual([]);
  });
});
