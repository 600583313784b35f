/**
 * `tads serve` (what `npm start` runs): the embedded PostgreSQL unless a database URL is given,
 * migrations, the generator's gRPC service and the HTTP API, until SIGINT or SIGTERM.
 *
 * With `--live N` it also runs a live fleet of N hosts: the generator (in this process) streams
 * their telemetry in real time and one live scorer (shard 0 of 1) scores it and raises live
 * alerts (with the detector policy of `--live-policy`, default `default`), so the dashboard's
 * Alerts tab fills as it goes. It scores with `--model`, else the
 * newest completed model; while there is none it looks again every few seconds and starts once
 * one appears. It keeps the model it started with until the server stops.
 *
 * Shutdown (Ctrl-C, SIGTERM) goes in order so nothing is lost: the live scorer finishes the batch
 * in hand and saves its alerts (its open alerts resume at the next start); running jobs stop at
 * their next chunk and release their leases (they resume at the next start, here or on another
 * server); trainings under way stop and are marked failed ("interrupted", to be started again);
 * then the rest of the system stops (src/api/system.ts: API, event listener, generator, reaper,
 * pool, embedded database).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { stderrLogger, type Logger } from '../../api/deps.js';
import { startSystem, type System } from '../../api/system.js';
import { loadConfig } from '../../config/env.js';
import { GENERATOR_DEFAULTS, GENERATOR_LIMITS, type GenerateParamsInput } from '../../contract/generator.js';
import { POLICY_NAMES } from '../../contract/vocabulary.js';
import { Detector, type PolicyName } from '../../core/detector.js';
import { isTadsError } from '../../core/errors.js';
import { parseGenerateParams } from '../../core/generator.js';
import type { PcaModel } from '../../core/pca.js';
import { listModels } from '../../db/models.js';
import { GeneratorClient } from '../../generator/client.js';
import { DbLiveAlertSink } from '../../scorer/live-alert-store.js';
import { LiveScorer } from '../../scorer/live-scorer.js';
import { coalesceBatches } from '../../scorer/live-source.js';
import { loadCompletedModel } from '../../scorer/models.js';
import { UsageError, type CommandSpec } from '../args.js';
import { DATABASE_FLAGS } from '../database.js';
import { formatStats, livePolicy } from './scorer.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Seconds between two looks for a completed model, and before a failed live stream restarts. */
export const LIVE_RETRY_S = 5;
/** Sampling interval of the live fleet when `--live-interval` is not given, seconds. */
export const DEFAULT_LIVE_INTERVAL_S = 10;

/** Options of {@link startLive}. */
export interface LiveOptions {
  system: System;
  /** The live fleet (hosts, seed, interval, anomaly rate). */
  params: GenerateParamsInput;
  /** Score with this model (else the newest completed one). */
  modelId?: string;
  /** The detector policy of the live alerts; default `default`. */
  policy?: PolicyName;
  log: Logger;
  /** Seconds between status lines (0: none). */
  reportEveryS?: number;
}

/** A running live fleet and its scorer. */
export interface LiveHandle {
  /** Stops the scorer after the batch in hand, its alerts saved. Idempotent. */
  stop(): Promise<void>;
}

/** The model to score with: `modelId` once completed, else the newest completed model; or null. */
async function findModel(
  system: System,
  modelId: string | undefined,
): Promise<{ id: string; model: PcaModel } | null> {
  if (modelId !== undefined) {
    try {
      return { id: modelId, model: await loadCompletedModel(system.pool, modelId) };
    } catch (err) {
      // Not completed yet (pending or running): look again later. Unknown: the caller gives up.
      if (isTadsError(err) && err.code === 'conflict') return null;
      throw err;
    }
  }
  const page = await listModels(system.pool, { limit: 1, status: 'completed' });
  const newest = page.items[0];
  if (newest === undefined) return null;
  return { id: newest.id, model: await loadCompletedModel(system.pool, newest.id) };
}

/**
 * Starts the live fleet and its scorer in the background (see the module comment).
 *
 * @param options - see {@link LiveOptions}
 * @returns a handle to stop it
 */
export function startLive(options: LiveOptions): LiveHandle {
  const { system, log } = options;
  const params = parseGenerateParams(options.params);
  const stop = new AbortController();
  const generator = new GeneratorClient(system.generatorAddress);
  const pause = (s: number) => sleep(s * 1000, undefined, { signal: stop.signal }).catch(() => {});

  const loop = async () => {
    // Wait for a model.
    let waiting = false;
    let found: { id: string; model: PcaModel } | null = null;
    while (!stop.signal.aborted && found === null) {
      try {
        found = await findModel(system, options.modelId);
      } catch (err) {
        log.error('live scoring off: its model cannot be loaded', {
          model_id: options.modelId,
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      if (found === null) {
        if (!waiting) {
          log.info('live scoring waits for a completed model', {
            model_id: options.modelId ?? null,
            hint: 'train one in the dashboard (Control tab), with POST /train or tads train',
            retry_s: LIVE_RETRY_S,
          });
          waiting = true;
        }
        await pause(LIVE_RETRY_S);
      }
    }
    if (found === null) return;
    const { id: modelId, model } = found;

    // Score the fleet's stream until stopped; a failed stream restarts and resumes its alerts.
    while (!stop.signal.aborted) {
      const alerts = { intervalS: params.intervalS };
      const policy = options.policy ?? 'default';
      const scorer = new LiveScorer({
        model,
        shard: { index: 0, count: 1 },
        batchSize: 10_000,
        policy,
        alerts,
        sink: new DbLiveAlertSink(system.pool, {
          modelId,
          metrics: model.metrics,
          cooldownMs: new Detector({ policy, alerts }).options.cooldownMs,
        }),
      });
      const report =
        (options.reportEveryS ?? 0) > 0
          ? setInterval(() => log.info(`live: ${formatStats(scorer.stats())}`), options.reportEveryS! * 1000)
          : undefined;
      report?.unref();
      try {
        await scorer.start();
        log.info('live scoring started', {
          model_id: modelId,
          policy,
          hosts: params.hostCount,
          interval_s: params.intervalS,
          anomaly_rate: params.anomalyRate,
          resumed_alerts: scorer.stats().alertsResumed,
        });
        const stream = generator.streamTelemetry({
          params: options.params,
          rate: 0,
          shardIndex: 0,
          shardCount: 1,
        });
        const final = await scorer.run(coalesceBatches(stream, { maxRecords: 10_000 }), stop.signal);
        log.info('live scoring stopped', {
          model_id: modelId,
          records: final.records,
          alerts_opened: final.alertsOpened,
          open_alerts: final.openAlerts,
        });
      } catch (err) {
        if (stop.signal.aborted) break;
        log.warn('live scoring failed; restarting', {
          error: err instanceof Error ? err.message : String(err),
          retry_s: LIVE_RETRY_S,
        });
        await pause(LIVE_RETRY_S);
      } finally {
        if (report) clearInterval(report);
      }
    }
  };

  const running = loop().catch((err: unknown) =>
    log.error('live scoring ended', { error: err instanceof Error ? err.message : String(err) }),
  );
  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        stop.abort();
        await running;
        generator.close();
      })();
      return stopping;
    },
  };
}

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
    const modelId = flags.model as string | undefined;
    if (modelId !== undefined && !UUID.test(modelId))
      throw new UsageError(`--model must be a model id (UUID); got ${JSON.stringify(modelId)}`);
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
    const livePolicyName = livePolicy(flags['live-policy'], 'live-policy');
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
    const system = await startSystem({ config, log: stderrLogger });
    const live =
      liveHosts > 0
        ? startLive({
            system,
            params: liveParams,
            ...(modelId !== undefined ? { modelId } : {}),
            policy: livePolicyName,
            log: stderrLogger,
            reportEveryS: (flags['live-report-every'] as number | undefined) ?? 60,
          })
        : undefined;
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
    await live?.stop();
    await Promise.all([system.jobs.stop(), system.trainer.stop()]);
    await system.close();
    io.err.write('stopped\n');
    return 0;
  },
};
