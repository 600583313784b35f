/** `tads migrate`: brings the database's schema up to date and says what it applied. */
import { loadConfig } from '../../config/env.js';
import { startEmbeddedPostgres } from '../../db/embedded.js';
import { migrate } from '../../db/migrate.js';
import { createPool } from '../../db/pool.js';
import type { CommandSpec } from '../args.js';

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

/** The `migrate` command. */
export const migrateCommand: CommandSpec = {
  name: 'migrate',
  summary: 'Apply pending database migrations',
  flags: DATABASE_FLAGS,
  async run(flags, io) {
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
    const pool = createPool(config.databaseUrl ?? embedded!.url);
    try {
      const result = await migrate(pool);
      if (io.json)
        io.out.write(
          JSON.stringify({ applied: result.applied, already_applied: result.alreadyApplied }) + '\n',
        );
      else if (result.applied.length === 0)
        io.out.write(`schema up to date (${result.alreadyApplied} migrations)\n`);
      else for (const m of result.applied) io.out.write(`applied ${m}\n`);
      return 0;
    } finally {
      await pool.end();
      await embedded?.stop();
    }
  },
};
