/**
 * What route groups are given: the database, the configuration, this process's lease owner id,
 * the services they call (the generator's client, the job and training runners, the live
 * events), and a logger. The composition root (src/server/system.ts) builds it.
 */
import type { Config } from '../config/env.js';
import type { GenerateParams } from '../contract/generator.js';
import type { EventFeed } from '../db/events.js';
import type { Pool, Queryable } from '../db/pool.js';
import type { JobRunner } from '../jobs/job-runner.js';
import type { TrainingRunner } from '../jobs/training-runner.js';

/** Starts dataset generations (the generator service's client). */
export interface DatasetGenerator {
  /**
   * Starts generating a dataset; resolves once its row exists (generation goes on in the
   * generator service).
   */
  generate(params: GenerateParams): Promise<{ datasetId: string }>;
}

/** A structured logger. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Logs JSON lines to stderr. */
export const stderrLogger: Logger = {
  info: (message, fields) => console.error(JSON.stringify({ level: 'info', message, ...fields })),
  warn: (message, fields) => console.error(JSON.stringify({ level: 'warn', message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })),
};

/** Logs nothing (tests). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** Dependencies of the route groups. */
export interface ApiDeps {
  pool: Pool;
  config: Config;
  /** This server process's lease owner id. */
  owner: string;
  generator: DatasetGenerator;
  log: Logger;
  /** The package version (for /health). */
  version: string;
  /**
   * This process's runner of dataset scoring jobs; when absent, submitted jobs are left pending
   * for any server's runner to pick up.
   */
  jobs?: JobRunner;
  /**
   * This process's runner of background trainings (`POST /train`); when absent, the models
   * route group makes its own.
   */
  trainer?: TrainingRunner;
  /** Live events of every TADS process (src/db/events.ts), for `/ws`; none: `/ws` stays quiet. */
  events?: EventFeed;
  /**
   * What `/health` checks the database on: a probe pool of its own (src/db/pool.ts
   * `createProbePool`), so that a busy pool does not fail the check; absent: {@link pool}.
   */
  probe?: Queryable;
  /** Directory of the built dashboard served under `/app/` (default `<package root>/web/dist`). */
  staticDir?: string;
}
