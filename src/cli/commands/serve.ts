/**
 * `tads serve` (what `npm start` runs): the embedded PostgreSQL unless a database URL is given,
 * migrations, the generator's gRPC service and the HTTP API, until SIGINT or SIGTERM, which shut
 * everything down in order.
 */
import { stderrLogger } from '../../api/deps.js';
import { startSystem } from '../../api/system.js';
import { loadConfig } from '../../config/env.js';
import type { CommandSpec } from '../args.js';
import { DATABASE_FLAGS } from './migrate.js';

/** The `serve` command. */
export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'Run the API, the generator and (unless a database URL is given) the embedded PostgreSQL',
  flags: [
    {
      name: 'port',
      type: 'int',
      description: 'HTTP API port',
      min: 0,
      max: 65535,
      defaultText: 'PORT, else 8080',
    },
    { name: 'host', type: 'string', description: 'address to bind', defaultText: 'HOST, else 127.0.0.1' },
    {
      name: 'generator-port',
      type: 'int',
      description: 'generator gRPC port',
      min: 0,
      max: 65535,
      defaultText: 'GENERATOR_PORT, else 50051',
    },
    ...DATABASE_FLAGS,
  ],
  async run(flags, io) {
    const config = loadConfig(
      {
        port: flags.port as number | undefined,
        host: flags.host as string | undefined,
        generatorPort: flags['generator-port'] as number | undefined,
        databaseUrl: flags['db-conn'] as string | undefined,
        dataDir: flags['data-dir'] as string | undefined,
      },
      io.env,
    );
    const system = await startSystem({ config, log: stderrLogger });
    const summary = {
      api: system.apiUrl,
      generator: system.generatorAddress,
      database: system.embedded
        ? `embedded on port ${system.embedded.port} (${config.dataDir})`
        : 'DATABASE_URL',
    };
    if (io.json) io.out.write(JSON.stringify({ status: 'listening', ...summary }) + '\n');
    else
      io.out.write(`TADS API ${summary.api}\ngenerator ${summary.generator}\ndatabase ${summary.database}\n`);

    // Run until a signal, then shut down in order: API, generator, reaper, pool, database.
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      else io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    io.err.write('shutting down\n');
    await system.close();
    return 0;
  },
};
