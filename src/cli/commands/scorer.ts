/**
 * `tads scorer [SHARD COUNT]`: the live scorer of one shard. It loads a model (a stored model's
 * id, or a model.json file holding a stored model), asks the generator for the live stream of
 * its shard's hosts, scores it in batches, opens and closes alerts (`source` = `live`) with the
 * detector policy of `--policy` (any policy a dataset job takes) and reports records/s and lag. `tads scorer 0 2` beside `tads scorer 1 2` covers every host once.
 *
 * Both shards must ask for the same fleet (hosts, seed, interval, anomaly rate): the generator
 * builds the fleet from these and hands each shard its own hosts. Stopping (Ctrl-C, SIGTERM,
 * `--duration`) finishes the batch in hand and saves its alerts; a restart resumes the shard's
 * open alerts (see src/scorer/live-scorer.ts). The wiring is src/server/live.ts's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GENERATOR_DEFAULTS, GENERATOR_LIMITS, type GenerateParamsInput } from '../../contract/generator.js';
import { POLICY_NAMES } from '../../contract/vocabulary.js';
import { parseGenerateParams } from '../../core/generator.js';
import type { LiveScorerStats } from '../../scorer/live-scorer.js';
import { DEFAULT_MODEL_FILE } from '../../scorer/models.js';
import { runShardScorer } from '../../server/live.js';
import { policyFlag, UsageError, type CommandSpec } from '../args.js';
import { DATABASE_FLAGS, openCliDatabase } from '../database.js';

/** Most shards a fleet may be split into. */
const MAX_SHARDS = 1024;

/** One status line of a running scorer, for people. */
export function formatStats(s: LiveScorerStats): string {
  const lag = s.lagMs === null ? 'n/a' : `${(s.lagMs / 1000).toFixed(2)} s`;
  return (
    `shard ${s.shard.index}/${s.shard.count}  records ${s.records}  records/s ${Math.round(s.recordsPerS)}  ` +
    `lag ${lag}  open alerts ${s.openAlerts}  opened ${s.alertsOpened}  closed ${s.alertsClosed}` +
    (s.alertsSuppressed > 0 ? `  suppressed ${s.alertsSuppressed}` : '') +
    (s.invalid > 0 ? `  invalid ${s.invalid}` : '')
  );
}

/** The figures as a JSON line (snake_case, as every machine-readable output of TADS). */
export function statsJson(s: LiveScorerStats, modelId: string, final: boolean): string {
  return JSON.stringify({
    final,
    model_id: modelId,
    shard_index: s.shard.index,
    shard_count: s.shard.count,
    records: s.records,
    records_per_s: s.recordsPerS,
    lag_ms: s.lagMs,
    invalid: s.invalid,
    anomalous: s.anomalous,
    late: s.late,
    foreign: s.foreign,
    batches: s.batches,
    alerts_opened: s.alertsOpened,
    alerts_closed: s.alertsClosed,
    alerts_suppressed: s.alertsSuppressed,
    alerts_resumed: s.alertsResumed,
    open_alerts: s.openAlerts,
  });
}

/** The `scorer` command. */
export const scorerCommand: CommandSpec = {
  name: 'scorer',
  summary: 'Score the live telemetry stream of one shard and raise alerts',
  usage: '[SHARD COUNT] [--model <id|file>] [--generator <host:port>] [flags]',
  details: [
    'Examples:',
    '  tads scorer                      one scorer for the whole fleet',
    '  tads scorer 0 2 & tads scorer 1 2   two scorers, each host in exactly one of them',
    '',
    'Every scorer of a fleet must be given the same --hosts, --seed, --interval and --anomaly-rate.',
    'A restarted scorer resumes the open alerts of its shard.',
  ].join('\n'),
  positionals: [
    { name: 'shard', description: 'this scorer’s shard index', min: 0, max: MAX_SHARDS - 1 },
    { name: 'count', description: 'number of shards', min: 1, max: MAX_SHARDS },
  ],
  flags: [
    {
      name: 'shard',
      type: 'int',
      description: 'this scorer’s shard index (or the first argument)',
      min: 0,
      max: MAX_SHARDS - 1,
      defaultText: '0',
    },
    {
      name: 'count',
      type: 'int',
      description: 'number of shards (or the second argument)',
      min: 1,
      max: MAX_SHARDS,
      defaultText: '1',
    },
    {
      name: 'model',
      type: 'string',
      description: 'model id, or a model.json file of a stored model',
      placeholder: 'id|file',
      defaultText: DEFAULT_MODEL_FILE,
    },
    {
      name: 'policy',
      type: 'string',
      description: `detector policy of the alerts (${POLICY_NAMES.join(', ')})`,
      placeholder: 'name',
      defaultText: 'default',
    },
    {
      name: 'generator',
      type: 'string',
      description: 'generator address',
      placeholder: 'host:port',
      defaultText: 'GENERATOR_ADDRESS, else 127.0.0.1:50051',
    },
    ...DATABASE_FLAGS,
    {
      name: 'hosts',
      type: 'int',
      description: 'hosts in the live fleet',
      min: 1,
      max: GENERATOR_LIMITS.maxHostCount,
      defaultText: String(GENERATOR_DEFAULTS.hostCount),
    },
    {
      name: 'seed',
      type: 'int',
      description: 'seed of the live fleet',
      min: 0,
      defaultText: String(GENERATOR_DEFAULTS.seed),
    },
    {
      name: 'interval',
      type: 'int',
      description: 'seconds between two records of a host',
      min: 1,
      max: GENERATOR_LIMITS.maxIntervalS,
      placeholder: 'seconds',
      defaultText: String(GENERATOR_DEFAULTS.intervalS),
    },
    {
      name: 'anomaly-rate',
      type: 'number',
      description: 'fraction of anomalous records',
      min: 0,
      max: GENERATOR_LIMITS.maxAnomalyRate,
      defaultText: String(GENERATOR_DEFAULTS.anomalyRate),
    },
    {
      name: 'rate',
      type: 'number',
      description: 'records per second of the whole stream (0: real time)',
      min: 0,
      max: 1_000_000,
      defaultText: '0',
    },
    {
      name: 'batch-size',
      type: 'int',
      description: 'most records scored at once',
      min: 1,
      max: 1_000_000,
      defaultText: '10000',
    },
    {
      name: 'duration',
      type: 'number',
      description: 'stop after this many seconds (0: run until stopped)',
      min: 0,
      placeholder: 'seconds',
      defaultText: '0',
    },
    {
      name: 'report-every',
      type: 'number',
      description: 'seconds between status lines',
      min: 0.1,
      placeholder: 'seconds',
      defaultText: '5',
    },
  ],
  async run(flags, io) {
    // Interpret the shard: positional arguments or flags, which must agree.
    const index = (flags.shard as number | undefined) ?? 0;
    const count = (flags.count as number | undefined) ?? 1;
    if (index >= count)
      throw new UsageError(`SHARD must be an integer in [0, ${count - 1}] for COUNT ${count}; got ${index}`);
    const live: GenerateParamsInput = {
      hostCount: (flags.hosts as number | undefined) ?? GENERATOR_DEFAULTS.hostCount,
      seed: (flags.seed as number | undefined) ?? GENERATOR_DEFAULTS.seed,
      intervalS: (flags.interval as number | undefined) ?? GENERATOR_DEFAULTS.intervalS,
      anomalyRate: (flags['anomaly-rate'] as number | undefined) ?? GENERATOR_DEFAULTS.anomalyRate,
    };
    try {
      parseGenerateParams(live);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const policy = policyFlag(flags.policy, 'policy') ?? 'default';
    const durationS = (flags.duration as number | undefined) ?? 0;
    const reportMs = ((flags['report-every'] as number | undefined) ?? 5) * 1000;

    // Open the database and the model.
    const db = await openCliDatabase(flags, io, {
      max: 2,
      applicationName: `tads-scorer-${index}-of-${count}`,
    });
    const address = (flags.generator as string | undefined) ?? db.config.generatorAddress;
    const batchSize = (flags['batch-size'] as number | undefined) ?? 10_000;
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    io.signal.addEventListener('abort', onAbort, { once: true });
    let report: NodeJS.Timeout | undefined;
    try {
      const { modelId, stats: final } = await runShardScorer({
        pool: db.pool,
        generatorAddress: address,
        model: (flags.model as string | undefined) ?? DEFAULT_MODEL_FILE,
        shard: { index, count },
        policy,
        fleet: live,
        rate: (flags.rate as number | undefined) ?? 0,
        batchSize,
        signal: stop.signal,
        onStarted: (scorer, modelId) => {
          const started = scorer.stats();
          if (!io.json) {
            io.err.write(
              `scoring shard ${index} of ${count} with model ${modelId} from ${address}` +
                (policy !== 'default' ? ` (policy ${policy})` : '') +
                (started.alertsResumed > 0 ? ` (resumed ${started.alertsResumed} open alerts)` : '') +
                '\n',
            );
          }
          // Report every few seconds while running; stop after --duration.
          report = setInterval(() => {
            const s = scorer.stats();
            io.err.write((io.json ? statsJson(s, modelId, false) : formatStats(s)) + '\n');
          }, reportMs);
          report.unref();
          if (durationS > 0)
            void sleep(durationS * 1000, undefined, { signal: stop.signal, ref: false }).then(
              onAbort,
              () => {},
            );
        },
      });
      io.out.write((io.json ? statsJson(final, modelId, true) : formatStats(final)) + '\n');
      return 0;
    } finally {
      clearInterval(report);
      io.signal.removeEventListener('abort', onAbort);
      stop.abort();
      await db.close();
    }
  },
};
