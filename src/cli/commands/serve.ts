/**
 * `tads serve` (what `npm start` runs): the embedded PostgreSQL unless a database URL is given,
 * migrations, the generator's gRPC service and the HTTP API, until SIGINT or SIGTERM.
 *
 * With `--live N` it also runs a live fleet of N hosts: the generator (in this process) streams
 * their telemetry in real time and one live scorer (shard 0 of 1) scores it and raises live
 * alerts (with the detector policy of `--live-policy`, default `default`), so the dashboard's
 * Alerts tab fills as it goes (src/server/live.ts). Shutdown (Ctrl-C, SIGTERM) goes in order so
 * nothing is lost (src/server/serve.ts).
 */
import { stderrLogger } from '../../api/deps.js';
import { loadConfig } from '../../config/env.js';
import { Id } from '../../contract/common.js';
import { POLICY_NAMES } from '../../contract/vocabulary.js';
import { GENERATOR_DEFAULTS, GENERATOR_LIMITS, type GenerateParamsInput } from '../../contract/generator.js';
import { parseGenerateParams } from '../../core/generator.js';
import { LIVE_RETRY_S } from '../../server/live.js';
import { startServer } from '../../server/serve.js';
import { policyFlag, UsageError, type CommandSpec } from '../args.js';
import { DATABASE_FLAGS } from '../database.js';
import { formatStats } from './scorer.js';

/** Sampling interval of the live fleet when `--live-interval` is not given, seconds. */
export const DEFAULT_LIVE_INTERVAL_S = 10;

/** The `serve` command. */
export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'Run the API, the generator and (unless a database URL is given) the embedded PostgreSQL',
  usage: '[--port <n>] [--live <hosts>] [--model <id>] [flags]',
  details: [
    'With --live N a live fleet of N hosts streams telemetry in real time and a live scorer raises',
    'alerts (the Alerts tab). It scores with --model, else the newest completed model; until one',
    `exists it looks again every ${LIVE_RETRY_S} s.`,
    '',
    'Examples:',
    '  tads serve                 the API on 8080, the generator on 50051',
    '  tads serve --live 20       and a live fleet of 20 hosts with its scorer',
  ].join('\n'),
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
    {
      name: 'live',
      type: 'int',
      description: 'hosts of a live fleet scored as it streams (0: none)',
      min: 0,
      max: GENERATOR_LIMITS.maxHostCount,
      placeholder: 'hosts',
      defaultText: '0',
    },
    {
      name: 'model',
      type: 'string',
      description: 'model of the live scorer',
      placeholder: 'uuid',
      defaultText: 'the newest completed model',
    },
    {
      name: 'live-interval',
      type: 'int',
      description: 'seconds between two records of a live host',
      min: 1,
      max: GENERATOR_LIMITS.maxIntervalS,
      placeholder: 'seconds',
      defaultText: String(DEFAULT_LIVE_INTERVAL_S),
    },
    {
      name: 'live-anomaly-rate',
      type: 'number',
      description: 'fraction of anomalous live records',
      min: 0,
      max: GENERATOR_LIMITS.maxAnomalyRate,
      defaultText: String(GENERATOR_DEFAULTS.anomalyRate),
    },
    {
      name: 'live-seed',
      type: 'int',
      description: 'seed of the live fleet',
      min: 0,
      defaultText: String(GENERATOR_DEFAULTS.seed),
    },
    {
      name: 'live-policy',
      type: 'string',
      description: `detector policy of the live alerts (${POLICY_NAMES.join(', ')})`,
      placeholder: 'name',
      defaultText: 'default',
    },
    {
      name: 'live-report-every',
      type: 'number',
      description: 'seconds between live status lines (0: none)',
      min: 0,
      placeholder: 'seconds',
      defaultText: '60',
    },
  ],
  async run(flags, io) {
    // Validate the live options before anything starts.
    const liveHosts = (flags.live as number | undefined) ?? 0;
    const modelFlag = flags.model as string | undefined;
    const modelId = modelFlag === undefined ? undefined : Id.safeParse(modelFlag).data;
    if (modelFlag !== undefined && modelId === undefined)
      throw new UsageError(`--model must be a model id (UUID); got ${JSON.stringify(modelFlag)}`);
    if (liveHosts === 0) {
      for (const f of [
        'model',
        'live-interval',
        'live-anomaly-rate',
        'live-seed',
        'live-policy',
        'live-report-every',
      ])
        if (flags[f] !== undefined) throw new UsageError(`--${f} goes with --live <hosts>`);
    }
    const livePolicyName = policyFlag(flags['live-policy'], 'live-policy') ?? 'default';
    const liveParams: GenerateParamsInput = {
      hostCount: Math.max(1, liveHosts),
      seed: (flags['live-seed'] as number | undefined) ?? GENERATOR_DEFAULTS.seed,
      intervalS: (flags['live-interval'] as number | undefined) ?? DEFAULT_LIVE_INTERVAL_S,
      anomalyRate: (flags['live-anomaly-rate'] as number | undefined) ?? GENERATOR_DEFAULTS.anomalyRate,
    };
    try {
      parseGenerateParams(liveParams);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }

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
    const server = await startServer({
      config,
      log: stderrLogger,
      ...(liveHosts > 0
        ? {
            live: {
              params: liveParams,
              ...(modelId !== undefined ? { modelId } : {}),
              policy: livePolicyName,
              reportEveryS: (flags['live-report-every'] as number | undefined) ?? 60,
              report: (stats) => stderrLogger.info(`live: ${formatStats(stats)}`),
            },
          }
        : {}),
    });
    const { system } = server;
    const summary = {
      api: system.apiUrl,
      dashboard: `${system.apiUrl}/app/`,
      generator: system.generatorAddress,
      database: system.embedded
        ? `embedded on port ${system.embedded.port} (${config.dataDir})`
        : 'DATABASE_URL',
      live_hosts: liveHosts,
    };
    if (io.json) io.out.write(JSON.stringify({ status: 'listening', ...summary }) + '\n');
    else
      io.out.write(
        `TADS API ${summary.api}\ndashboard ${summary.dashboard}\ngenerator ${summary.generator}\n` +
          `database ${summary.database}\n` +
          (liveHosts > 0 ? `live fleet ${liveHosts} hosts\n` : ''),
      );

    // Run until a signal, then shut down in order: live scorer, jobs and trainings, the system.
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      else io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    io.err.write('shutting down\n');
    await server.close();
    io.err.write('stopped\n');
    return 0;
  },
};
