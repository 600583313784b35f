/**
 * Global test setup: one PostgreSQL server for the whole run. With DATABASE_URL set, that server
 * is used; otherwise a throwaway embedded PostgreSQL is started (a temporary folder, a free port).
 * Test files get databases of their own on it (test/helpers/db.ts); all of this run's databases
 * are dropped at the end.
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startScratchPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
    pgRunId: string;
    pgEmbedded: boolean;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  let embedded: EmbeddedDatabase | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    embedded = await startScratchPostgres();
    serverUrl = embedded.url;
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
    await embedded?.stop();
  };
}
