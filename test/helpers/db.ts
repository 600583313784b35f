/**
 * Databases for tests: each call makes a new, empty database on the run's server (see
 * test/setup/global-db.ts), named after the run so that the run's teardown drops it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

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

/** True when the run's server is the embedded one (tests that stop and start a server need it). */
export function usingEmbeddedServer(): boolean {
  return inject('pgEmbedded');
}
