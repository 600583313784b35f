/**
 * Databases for tests: each call makes a new, empty database on the run's server (see
 * test/setup/global-db.ts), named after the run so that the run's teardown drops it.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';

/** Creates an empty database for this test file and returns its connection URL. */
export async function createEmptyDatabase(): Promise<string> {
  const serverUrl = inject('pgServerUrl');
  const name = `tads_t_${inject('pgRunId')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database with TADS's schema applied, and a pool on it (end it in `afterAll`). */
export async function createMigratedDatabase(): Promise<{ url: string; pool: Pool }> {
  const url = await createEmptyDatabase();
  const pool = createPool(url, { max: 5 });
  await migrate(pool);
  return { url, pool };
}

/** True when the run's server is the embedded one (tests that stop and start a server need it). */
export function usingEmbeddedServer(): boolean {
  return inject('pgEmbedded');
}

/**
 * A database URL on a local port where nothing listens (a port just freed), for "database down"
 * tests that must not disturb the run's shared server.
 */
export async function unreachableDatabaseUrl(): Promise<string> {
  const port = await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(p));
    });
  });
  return `postgres://postgres@127.0.0.1:${port}/tads`;
}
