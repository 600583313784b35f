/**
 * `tads generate`: asks the API to generate a dataset, follows it to the end, and prints its id,
 * rows and rows/s.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TadsClient } from '../../client/index.js';
import type { Dataset } from '../../contract/datasets.js';
import {
  GENERATOR_ANOMALY_TYPES,
  GENERATOR_DEFAULTS,
  GENERATOR_LIMITS,
  GenerateParamsWireSchema,
  type GenerateParamsWire,
} from '../../contract/generator.js';
import { UsageError, type CommandSpec, type FlagValues } from '../args.js';
import { createProgress } from '../progress.js';

/** Default API address of the CLI. */
export const DEFAULT_API = 'http://127.0.0.1:8080';

/** Builds the wire parameters from the flags and checks them with the contract (bad: exit 2). */
export function generateParamsFromFlags(f: FlagValues): GenerateParamsWire {
  const wire: GenerateParamsWire = {
    host_count: f.hosts as number | undefined,
    duration_s: f.duration as number | undefined,
    interval_s: f.interval as number | undefined,
    seed: f.seed as number | undefined,
    name: f.name as string | undefined,
    anomaly_rate: f['anomaly-rate'] as number | undefined,
    start: f.start as string | undefined,
    anomaly_types:
      typeof f['anomaly-types'] === 'string'
        ? (f['anomaly-types'].split(',').map((s) => s.trim()) as GenerateParamsWire['anomaly_types'])
        : undefined,
  };
  for (const k of Object.keys(wire) as (keyof GenerateParamsWire)[])
    if (wire[k] === undefined) delete wire[k];
  const checked = GenerateParamsWireSchema.safeParse(wire);
  if (!checked.success) {
    const flagOf: Record<string, string> = {
      host_count: '--hosts',
      duration_s: '--duration',
      interval_s: '--interval',
      anomaly_rate: '--anomaly-rate',
      anomaly_types: '--anomaly-types',
    };
    throw new UsageError(
      checked.error.issues
        .map((i) => {
          const field = String(i.path[0] ?? '');
          return flagOf[field] ? `${flagOf[field]}: ${i.message}` : i.message;
        })
        .join('; '),
    );
  }
  return wire;
}

/** Rows per second of a finished generation, from the server's timestamps. */
export function rowsPerSecond(d: Dataset): number | null {
  const from = Date.parse(d.started_at ?? d.created_at);
  const to = d.finished_at ? Date.parse(d.finished_at) : NaN;
  const seconds = (to - from) / 1000;
  return Number.isFinite(seconds) && seconds > 0 ? d.row_count / seconds : null;
}

/** The `generate` command. */
export const generateCommand: CommandSpec = {
  name: 'generate',
  summary: 'Generate a dataset through the API and wait for it',
  usage: '--hosts <n> --duration <s> [--interval <s>] [--seed <n>] [flags]',
  details: 'Example: tads generate --hosts 10 --duration 3600 --interval 10 --seed 42',
  flags: [
    {
      name: 'hosts',
      type: 'int',
      description: 'hosts in the fleet',
      min: 1,
      max: GENERATOR_LIMITS.maxHostCount,
      defaultText: String(GENERATOR_DEFAULTS.hostCount),
    },
    {
      name: 'duration',
      type: 'int',
      description: 'length in seconds',
      min: 1,
      placeholder: 'seconds',
      defaultText: String(GENERATOR_DEFAULTS.durationS),
    },
    {
      name: 'interval',
      type: 'int',
      description: 'seconds between two records of a host',
      min: 1,
      placeholder: 'seconds',
      defaultText: String(GENERATOR_DEFAULTS.intervalS),
    },
    {
      name: 'seed',
      type: 'int',
      description: 'random seed',
      min: 0,
      defaultText: String(GENERATOR_DEFAULTS.seed),
    },
    { name: 'name', type: 'string', description: 'dataset name' },
    {
      name: 'start',
      type: 'string',
      description: 'first timestamp (RFC 3339)',
      placeholder: 'time',
      defaultText: GENERATOR_DEFAULTS.start,
    },
    {
      name: 'anomaly-rate',
      type: 'number',
      description: 'fraction of anomalous records (0 for normal-only data)',
      min: 0,
      max: GENERATOR_LIMITS.maxAnomalyRate,
      defaultText: String(GENERATOR_DEFAULTS.anomalyRate),
    },
    {
      name: 'anomaly-types',
      type: 'string',
      description: `comma-separated anomaly types (${GENERATOR_ANOMALY_TYPES.join(', ')})`,
      placeholder: 'list',
      defaultText: 'all',
    },
    {
      name: 'api',
      type: 'string',
      description: 'TADS API address',
      placeholder: 'url',
      defaultText: DEFAULT_API,
    },
  ],
  async run(flags, io) {
    const params = generateParamsFromFlags(flags);
    const client = new TadsClient((flags.api as string | undefined) ?? io.env.TADS_API ?? DEFAULT_API);

    // Start, then follow the dataset until it is done.
    let d = await client.createDataset(params);
    const progress = createProgress({ stream: io.err, unit: 'rows', quiet: io.json });
    let wait = 100;
    try {
      while (d.status === 'pending' || d.status === 'running') {
        progress.update(d.row_count, d.rows_total);
        try {
          await sleep(wait, undefined, { signal: io.signal });
        } catch {
          // Interrupted: the generation itself goes on in the server.
          progress.end();
          io.err.write(
            `tads generate: stopped following dataset ${d.id}; its generation goes on in the server\n`,
          );
          return 1;
        }
        wait = Math.min(1000, wait * 2);
        d = await client.getDataset(d.id);
      }
      progress.update(d.row_count, d.rows_total);
    } finally {
      progress.end();
    }

    // Report
    const rate = rowsPerSecond(d);
    if (io.json) {
      io.out.write(
        JSON.stringify({ id: d.id, status: d.status, rows: d.row_count, rows_per_s: rate, error: d.error }) +
          '\n',
      );
    } else if (d.status === 'completed') {
      io.out.write(
        `dataset ${d.id}\nrows    ${d.row_count}\nrows/s  ${rate === null ? 'n/a' : Math.round(rate)}\n`,
      );
    }
    if (d.status === 'failed') {
      io.err.write(`tads generate: dataset ${d.id} failed: ${d.error ?? 'unknown error'}\n`);
      return 1;
    }
    return 0;
  },
};
