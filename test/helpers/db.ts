/**
 * Databases for tests: each call makes a new, empty database on the run's server (see
 * test/setup/global-db.ts), named after the run so that the run's teardown drops it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { GENERATOR_LABELS, METRICS } from '../../src/contract/vocabulary.js';
import { freePort } from '../../src/db/embedded.js';
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

/** Where {@link embeddedPostgresPlace} puts an embedded PostgreSQL. */
export interface EmbeddedPostgresPlace {
  /** A new, empty data folder. */
  dataDir: string;
  /** A free port on loopback. */
  port: number;
  /** Deletes the data folder (stop the server first). */
  remove: () => Promise<void>;
}

/**
 * A data folder and a port for an embedded PostgreSQL that a test stops and starts again on the
 * same data (a scratch server's `stop()` deletes its folder, so it cannot start again).
 *
 * @param prefix - the start of the folder's name in the temporary folder
 */
export async function embeddedPostgresPlace(prefix: string): Promise<EmbeddedPostgresPlace> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const remove = () => rm(dataDir, { recursive: true, force: true });
  try {
    // mkdtemp makes a private folder; the server may run as another user (root runs it as postgres).
    await chmod(dataDir, 0o755);
    return { dataDir, port: await freePort(), remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/**
 * A database URL on a local port where nothing listens (a port just freed), for "database down"
 * tests that must not disturb the run's shared server.
 */
export async function unreachableDatabaseUrl(): Promise<string> {
  return `postgres://postgres@127.0.0.1:${await freePort()}/tads`;
}

/**
 * The generator's metric set as SQL, for tests that insert a `datasets` row by hand:
 * `INSERT INTO datasets (…, ${GENERATOR_SET_SQL.columns}) VALUES (…, ${GENERATOR_SET_SQL.values})`.
 */
export const GENERATOR_SET_SQL = {
  columns: 'source, metrics, labels',
  values: `'generator', ARRAY[${METRICS.map((m) => `'${m}'`).join(', ')}], ARRAY[${GENERATOR_LABELS.map((l) => `'${l}'`).join(', ')}]`,
};
