/**
 * The database of the commands that open one themselves (`migrate`, `train`, `scorer`): the
 * flags that name it and how it is opened — `--db-conn` or `DATABASE_URL`, else the embedded
 * server in `--data-dir`.
 */
import { loadConfig, type Config } from '../config/env.js';
import { startEmbeddedPostgres } from '../db/embedded.js';
import { createPool, type Pool, type PoolOptions } from '../db/pool.js';
import type { CommandIo } from './args.js';

/** Flags naming the database, shared by the commands that open it. */
export const DATABASE_FLAGS = [
  {
    name: 'db-conn',
    type: 'string' as const,
    description: 'PostgreSQL URL',
    placeholder: 'url',
    defaultText: 'DATABASE_URL, else the embedded server',
  },
  {
    name: 'data-dir',
    type: 'string' as const,
    description: "embedded server's data folder",
    placeholder: 'dir',
    defaultText: '.tads',
  },
];

/** An open database and the configuration it came from. */
export interface CliDatabase {
  config: Config;
  pool: Pool;
  /** Ends the pool, then stops the embedded server when one was started. */
  close(): Promise<void>;
}

/**
 * Reads the configuration (the database flags over the environment) and opens the database:
 * the given URL, or an embedded server started for the command.
 *
 * @param flags - the parsed flags, with `db-conn` and `data-dir` among them
 * @param io - the command's environment
 * @param poolOptions - pool size and name (the timeouts come from the configuration unless given)
 * @throws ValidationError for a malformed configuration; whatever starting the embedded server
 *   throws
 */
export async function openCliDatabase(
  flags: Record<string, unknown>,
  io: Pick<CommandIo, 'env'>,
  poolOptions: PoolOptions = {},
): Promise<CliDatabase> {
  const config = loadConfig(
    {
      databaseUrl: flags['db-conn'] as string | undefined,
      dataDir: flags['data-dir'] as string | undefined,
    },
    io.env,
  );
  const embedded =
    config.databaseUrl === undefined
      ? await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort })
      : undefined;
  const pool = createPool(config.databaseUrl ?? embedded!.url, {
    connectionTimeoutMillis: config.pgAcquireTimeoutMs,
    queryTimeoutMillis: config.pgQueryTimeoutMs,
    ...poolOptions,
  });
  return {
    config,
    pool,
    async close() {
      await pool.end();
      await embedded?.stop();
    },
  };
}
