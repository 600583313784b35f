/**
 * The CLI's argument parser, honouring DESIGN.md's conventions: `--flag value` and `--flag=value`,
 * the seed's underscore spellings (`--dataset_id` is `--dataset-id`), `--help` on every command,
 * `--json` for machine-readable output. Bad usage is a {@link UsageError} (exit code 2).
 */
import { POLICY_NAMES, type PolicyName } from '../contract/vocabulary.js';

/** Bad usage: an unknown flag, a missing or malformed value. The CLI exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The value of a detector-policy flag (`--policy`, `--live-policy`), checked.
 *
 * @param value - the flag's value (undefined: not given)
 * @param flag - the flag's name, for the message
 * @returns the policy name, or undefined when not given
 * @throws UsageError for a name that is not a policy
 */
export function policyFlag(value: unknown, flag: string): PolicyName | undefined {
  if (value === undefined) return undefined;
  if (!(POLICY_NAMES as readonly unknown[]).includes(value)) {
    throw new UsageError(`--${flag} must be one of ${POLICY_NAMES.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as PolicyName;
}

/** Kinds of flag values. */
export type FlagType = 'string' | 'int' | 'number' | 'boolean';

/** One flag of a command. */
export interface FlagSpec {
  /** Kebab-case name without dashes (`dataset-id`); `dataset_id` is accepted too. */
  name: string;
  type: FlagType;
  description: string;
  /** Placeholder in the help (default: the type). */
  placeholder?: string;
  /** Default value shown in the help (the command applies it). */
  defaultText?: string;
  /** Smallest and largest accepted values (int, number). */
  min?: number;
  max?: number;
}

/** Parsed flags: values by flag name, booleans as true when present. */
export type FlagValues = Record<string, string | number | boolean | undefined>;

/** A positional argument of a command (an integer, e.g. `tads scorer 0 2`). */
export interface PositionalSpec {
  name: string;
  description: string;
  /** Smallest and largest accepted values. */
  min?: number;
  max?: number;
}

/** A command of the CLI. */
export interface CommandSpec {
  /** Optional positional arguments, in order, stored in the flag values under their names. */
  positionals?: PositionalSpec[];
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line after `tads <name>`. */
  usage?: string;
  /** Extra help text (examples). */
  details?: string;
  flags: FlagSpec[];
  /** Runs the command; returns the exit code. */
  run(flags: FlagValues, io: CommandIo): Promise<number>;
}

/** Where a command writes: results to `out`, progress and errors to `err`. */
export interface CommandIo {
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean };
  /** True when `--json` was given. */
  json: boolean;
  /** Environment (for configuration). */
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/** Flags every command takes. */
export const COMMON_FLAGS: FlagSpec[] = [
  { name: 'help', type: 'boolean', description: 'show this help' },
  { name: 'json', type: 'boolean', description: 'machine-readable JSON output' },
];

/**
 * Parses a command's arguments.
 *
 * @param argv - the arguments after the command name
 * @param flags - the command's flags (the common ones are added)
 * @returns the values by flag name (kebab-case)
 * @throws UsageError for an unknown flag, a missing value, a value of the wrong type or out of
 *   range, or a positional argument
 * @example
 * parseFlags(['--hosts', '10', '--dataset_id=abc'], specs); // { hosts: 10, 'dataset-id': 'abc' }
 */
export function parseFlags(
  argv: readonly string[],
  flags: readonly FlagSpec[],
  positionals: readonly PositionalSpec[] = [],
): FlagValues {
  const all = [...COMMON_FLAGS, ...flags];
  const byName = new Map(all.map((f) => [f.name, f]));
  const values: FlagValues = {};
  let nextPositional = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      values.help = true;
      continue;
    }
    // A command's positional arguments, in order (integers, e.g. `tads scorer 0 2`).
    const pos = positionals[nextPositional];
    if (pos !== undefined && !arg.startsWith('--')) {
      values[pos.name] = convert({ ...pos, type: 'int' }, arg);
      nextPositional += 1;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)}; flags start with --`);
    }
    // Interpret: --name=value or --name value; underscores spell dashes.
    const eq = arg.indexOf('=');
    const rawName = arg.slice(2, eq === -1 ? undefined : eq);
    const name = rawName.replaceAll('_', '-');
    const spec = byName.get(name);
    if (!spec) {
      throw new UsageError(
        `unknown flag --${rawName}; expected one of ${all.map((f) => `--${f.name}`).join(', ')}`,
      );
    }
    if (spec.type === 'boolean') {
      if (eq !== -1) {
        const v = arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false')
          throw new UsageError(`--${name} takes no value or true/false; got ${JSON.stringify(v)}`);
        values[name] = v === 'true';
      } else values[name] = true;
      continue;
    }
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`--${name} needs a value (${spec.placeholder ?? spec.type})`);
      }
      raw = next;
      i += 1;
    }
    values[name] = convert(spec, raw);
  }
  return values;
}

function convert(spec: Pick<FlagSpec, 'name' | 'type' | 'min' | 'max'>, raw: string): string | number {
  if (spec.type === 'string') {
    if (raw.length === 0) throw new UsageError(`--${spec.name} must not be empty`);
    return raw;
  }
  const range =
    spec.min !== undefined && spec.max !== undefined
      ? ` in [${spec.min}, ${spec.max}]`
      : spec.min !== undefined
        ? ` ≥ ${spec.min}`
        : '';
  const what = spec.type === 'int' ? `an integer${range}` : `a number${range}`;
  const n = raw.trim() === '' ? NaN : Number(raw);
  const ok =
    Number.isFinite(n) &&
    (spec.type !== 'int' || Number.isSafeInteger(n)) &&
    (spec.min === undefined || n >= spec.min) &&
    (spec.max === undefined || n <= spec.max);
  if (!ok) throw new UsageError(`--${spec.name} must be ${what}; got ${JSON.stringify(raw)}`);
  return n;
}

/** The help text of a command. */
export function commandHelp(cmd: CommandSpec): string {
  const all = [...cmd.flags, ...COMMON_FLAGS];
  const left = all.map((f) =>
    f.type === 'boolean' ? `--${f.name}` : `--${f.name} <${f.placeholder ?? f.type}>`,
  );
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = [
    `Usage: tads ${cmd.name}${cmd.usage ? ` ${cmd.usage}` : ' [flags]'}`,
    '',
    cmd.summary,
    '',
    'Flags:',
    ...all.map(
      (f, i) =>
        `  ${left[i]!.padEnd(width)}${f.description}${f.defaultText !== undefined ? ` (default ${f.defaultText})` : ''}`,
    ),
    '',
    'Underscore spellings are accepted too (--dataset_id for --dataset-id).',
  ];
  if (cmd.details) lines.push('', cmd.details);
  return lines.join('\n') + '\n';
}

/** The top-level help: every command. */
export function mainHelp(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'Usage: tads <command> [flags]',
    '',
    'TADS — Telemetry Anomaly Detection System.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "Run 'tads <command> --help' for a command's flags. Exit codes: 0 success, 1 failure, 2 bad usage.",
    '',
  ].join('\n');
}
