/**
 * A whole TADS server for integration tests, in this process: a fresh database on the run's
 * PostgreSQL, migrations, the reaper, the gRPC generator and the HTTP API, on ephemeral ports.
 *
 * @example
 * const srv = await startTestServer();
 * const ds = await srv.client.createDataset({ host_count: 2, duration_s: 600 });
 * await srv.close();
 */
import type { Logger } from '../../src/api/deps.js';
import type { RouteGroup } from '../../src/api/routes/index.js';
import { TadsClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/env.js';
import type { ReapAction } from '../../src/db/leases.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import type { GeneratorParts } from '../../src/server/generator-parts.js';
import { startSystem, type System } from '../../src/server/system.js';
import { createEmptyDatabase } from './db.js';

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** CORS origins (default none). */
  corsOrigins?: string[];
  /** Route groups (default all). */
  groups?: readonly RouteGroup[];
  /** Extra reap actions. */
  reapActions?: Record<string, ReapAction>;
  /** Reaper period in ms (default 1000, so expired leases are noticed quickly). */
  reapIntervalMs?: number;
  /** Replace the generator service (default: the real gRPC one). */
  generator?: GeneratorParts;
  /** Where the server logs (default: nowhere). */
  log?: Logger;
  /** Directory of the built dashboard (default `<package root>/web/dist`). */
  staticDir?: string;
}

/** A running test server. */
export interface TestServer {
  apiUrl: string;
  client: TadsClient;
  /** A pool on the server's database, for the test's own queries. */
  pool: Pool;
  /** The database's URL. */
  databaseUrl: string;
  generatorAddress: string;
  system: System;
  /** Stops the server and ends the pool. */
  close(): Promise<void>;
}

/** Starts a full server against a fresh, empty test database. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const databaseUrl = await createEmptyDatabase();
  const config = loadConfig(
    {
      host: '127.0.0.1',
      port: 0,
      generatorPort: 0,
      databaseUrl,
      bodyLimit: opts.bodyLimit,
      corsOrigins: opts.corsOrigins,
    },
    {},
  );
  const system = await startSystem({
    config,
    log: opts.log,
    groups: opts.groups,
    reapActions: opts.reapActions,
    reapIntervalMs: opts.reapIntervalMs ?? 1000,
    generator: opts.generator,
    staticDir: opts.staticDir,
  });
  const pool = createPool(databaseUrl, { max: 4 });
  return {
    apiUrl: system.apiUrl,
    client: new TadsClient(system.apiUrl),
    pool,
    databaseUrl,
    generatorAddress: system.generatorAddress,
    system,
    async close() {
      await system.close();
      await pool.end();
    },
  };
}
