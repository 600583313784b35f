/**
 * The whole TADS server in one process: the database (embedded unless a URL is configured),
 * migrations, the lease reaper, the generator's gRPC service and the HTTP API. `tads serve`
 * (and `npm start`) runs this; tests start it on ephemeral ports.
 */
import { silentLogger, type ApiDeps, type Logger } from '../api/deps.js';
import type { RouteGroup } from '../api/routes/index.js';
import { HEALTH_CHECK_TIMEOUT_MS } from '../api/routes/health.js';
import { startApiServer, type ApiServer } from '../api/server.js';
import type { Config } from '../config/env.js';
import { packageVersion } from '../config/version.js';
import { reapExpiredDatasets } from '../db/datasets.js';
import { pruneInferenceRuns } from '../db/inference-runs.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../db/embedded.js';
import { listenEvents, type EventListener } from '../db/events.js';
import { createReaper, newOwnerId, type ReapAction, type Reaper } from '../db/leases.js';
import { migrate } from '../db/migrate.js';
import { reapExpiredModels } from '../db/models.js';
import { createPool, createProbePool, type Pool } from '../db/pool.js';
import { JobRunner } from '../jobs/job-runner.js';
import { createTrainingRunner, type TrainingRunner } from '../jobs/training-runner.js';
import { grpcGenerator, type GeneratorParts } from './generator-parts.js';

/** Options of {@link startSystem}. */
export interface SystemOptions {
  config: Config;
  /** The generator service and its client (default: the gRPC service, in this process). */
  generator?: GeneratorParts;
  log?: Logger;
  /** Use this pool (the caller ends it) instead of opening one from the configuration. */
  pool?: Pool;
  /** Reap actions besides the datasets' and models' ones, by name. */
  reapActions?: Record<string, ReapAction>;
  /** Route groups (default: all). */
  groups?: readonly RouteGroup[];
  /** Reaper period in ms (default: src/db/leases.ts's). */
  reapIntervalMs?: number;
  /** Directory of the built dashboard (default `<package root>/web/dist`). */
  staticDir?: string;
}

/** A running system. */
export interface System {
  readonly config: Config;
  readonly pool: Pool;
  /** This process's lease owner id. */
  readonly owner: string;
  readonly reaper: Reaper;
  /** This process's runner of dataset scoring jobs. */
  readonly jobs: JobRunner;
  /** This process's runner of trainings started through `POST /train`. */
  readonly trainer: TrainingRunner;
  readonly api: ApiServer;
  /** `http://host:port` of the API. */
  readonly apiUrl: string;
  /** `host:port` of the generator service. */
  readonly generatorAddress: string;
  /** The embedded database, when one was started. */
  readonly embedded: EmbeddedDatabase | undefined;
  /** The listener of live events (LISTEN/NOTIFY) feeding `/ws`; it reconnects by itself. */
  readonly events: EventListener;
  /** Stops everything, in reverse order of starting. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the system. On failure, whatever was already started is stopped again before the
 * error is rethrown.
 *
 * Stages: database, migrations, reaper (one pass, then on a timer), generator service, API.
 *
 * @throws DatabaseUnavailableError when the database cannot be reached; Error when a port
 *   cannot be bound or the embedded server cannot start
 */
export async function startSystem(options: SystemOptions): Promise<System> {
  const { config } = options;
  const log = options.log ?? silentLogger;
  const stack: (() => Promise<void>)[] = [];
  const unwind = async () => {
    while (stack.length > 0) {
      const step = stack.pop()!;
      await step().catch((err: unknown) => log.warn('shutdown step failed', { error: String(err) }));
    }
  };

  try {
    // Database
    let embedded: EmbeddedDatabase | undefined;
    let pool = options.pool;
    if (!pool) {
      let url = config.databaseUrl;
      if (url === undefined) {
        embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
        const db = embedded;
        stack.push(() => db.stop());
        log.info('embedded PostgreSQL ready', {
          port: db.port,
          data_dir: config.dataDir,
          started: db.started,
        });
        url = db.url;
      }
      const own = createPool(url, {
        max: config.pgPool,
        connectionTimeoutMillis: config.pgAcquireTimeoutMs,
        queryTimeoutMillis: config.pgQueryTimeoutMs,
      });
      stack.push(() => own.end());
      pool = own;
    }

    // Migrations
    const { applied } = await migrate(pool);
    if (applied.length > 0) log.info('migrations applied', { applied });

    // Reaper: work whose server died is failed (or resumed) before anything new starts.
    const owner = newOwnerId();
    const reaper = createReaper(pool, {
      owner,
      intervalMs: options.reapIntervalMs,
      onError: (name, err) => log.warn('reap action failed', { action: name, error: String(err) }),
    });
    reaper.register('datasets', reapExpiredDatasets);
    reaper.register('models', reapExpiredModels);
    // Retention of inference runs: the older ones are pruned on every pass.
    reaper.register('inference-runs', (p) => pruneInferenceRuns(p, config.inferenceRunsKeep));
    // Dataset scoring jobs run in this process; the reaper resumes those whose server died.
    const jobs = new JobRunner({ pool, owner });
    jobs.attach(reaper);
    for (const [name, action] of Object.entries(options.reapActions ?? {})) reaper.register(name, action);
    await reaper.runOnce();
    reaper.start();
    stack.push(() => reaper.stop());
    stack.push(() => jobs.stop());
    // Trainings started here are stopped on shutdown (their lease lapses; the reaper of the next
    // server marks them interrupted).
    const trainer = createTrainingRunner({ pool, owner, log });
    stack.push(() => trainer.stop());

    // Generator service and its client
    const parts = options.generator ?? grpcGenerator;
    const generatorService = await parts.start({
      pool,
      port: config.generatorPort,
      host: config.host,
      owner,
    });
    stack.push(() => generatorService.close());
    const generatorAddress =
      config.generatorPort === 0 ? `${config.host}:${generatorService.port}` : config.generatorAddress;
    const generator = parts.connect(generatorAddress);
    stack.push(() => Promise.resolve(generator.close?.()));

    // Live events from every process, for /ws (the listener keeps reconnecting on its own).
    const events = listenEvents(pool, {
      onError: (err) => log.warn('live events connection', { error: String(err) }),
    });
    stack.push(() => events.close());

    // API; /health checks the database on a probe connection of its own.
    const probe = createProbePool(pool, HEALTH_CHECK_TIMEOUT_MS);
    stack.push(() => probe.end());
    const deps: ApiDeps = {
      pool,
      probe,
      config,
      owner,
      generator,
      log,
      version: packageVersion(),
      jobs,
      trainer,
      events,
      staticDir: options.staticDir,
    };
    const api = await startApiServer({ deps, groups: options.groups });
    stack.push(() => api.close());
    log.info('API listening', { url: api.url, generator: generatorAddress });

    let closing: Promise<void> | undefined;
    return {
      config,
      pool,
      owner,
      reaper,
      jobs,
      trainer,
      api,
      apiUrl: api.url,
      generatorAddress,
      embedded,
      events,
      close() {
        closing ??= unwind();
        return closing;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
