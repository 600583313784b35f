import { describe, expect, it } from 'vitest';
import { commandHelp, parseFlags, UsageError, type FlagSpec } from '../../src/cli/args.js';
import { generateParamsFromFlags } from '../../src/cli/commands/generate.js';
import { COMMANDS, runCli } from '../../src/cli/main.js';
import { captureIo } from '../helpers/cli.js';

const FLAGS: FlagSpec[] = [
  { name: 'hosts', type: 'int', description: 'hosts', min: 1, max: 10 },
  { name: 'rate', type: 'number', description: 'rate', min: 0, max: 0.5 },
  { name: 'dataset-id', type: 'string', description: 'id' },
  { name: 'verbose', type: 'boolean', description: 'talk' },
];

describe('parseFlags: bad usage', () => {
  it('rejects unknown flags, naming the valid ones', () => {
    expect(() => parseFlags(['--colour', 'red'], FLAGS)).toThrow(UsageError);
    expect(() => parseFlags(['--colour', 'red'], FLAGS)).toThrow(
      /^unknown flag --colour; expected one of --help, --json, --hosts/,
    );
  });

  it('rejects missing values, wrong types and out-of-range values, saying what arrived', () => {
    expect(() => parseFlags(['--hosts'], FLAGS)).toThrow('--hosts needs a value (int)');
    expect(() => parseFlags(['--hosts', '--verbose'], FLAGS)).toThrow('--hosts needs a value (int)');
    expect(() => parseFlags(['--hosts', 'ten'], FLAGS)).toThrow(
      '--hosts must be an integer in [1, 10]; got "ten"',
    );
    expect(() => parseFlags(['--hosts', '2.5'], FLAGS)).toThrow(
      '--hosts must be an integer in [1, 10]; got "2.5"',
    );
    expect(() => parseFlags(['--hosts=-1'], FLAGS)).toThrow(
      '--hosts must be an integer in [1, 10]; got "-1"',
    );
    expect(() => parseFlags(['--rate', '0.9'], FLAGS)).toThrow(
      '--rate must be a number in [0, 0.5]; got "0.9"',
    );
    expect(() => parseFlags(['stray'], FLAGS)).toThrow('unexpected argument "stray"; flags start with --');
    expect(() => parseFlags(['--verbose=maybe'], FLAGS)).toThrow(/--verbose takes no value or true\/false/);
  });
});

describe('parseFlags', () => {
  it('reads --flag value, --flag=value, booleans and the underscore spellings', () => {
    expect(
      parseFlags(['--hosts', '3', '--rate=0.25', '--dataset_id', 'abc', '--verbose', '--json'], FLAGS),
    ).toEqual({
      hosts: 3,
      rate: 0.25,
      'dataset-id': 'abc',
      verbose: true,
      json: true,
    });
    expect(parseFlags(['-h'], FLAGS)).toEqual({ help: true });
  });

  it('writes a help listing every flag', () => {
    const help = commandHelp(COMMANDS.find((c) => c.name === 'generate')!);
    expect(help).toMatch(/^Usage: tads generate --hosts <n> --duration <s>/);
    for (const f of ['--hosts', '--duration', '--interval', '--seed', '--api', '--json', '--help'])
      expect(help).toContain(f);
  });
});

describe('generate flags', () => {
  it('map to wire parameters, checked by the contract', () => {
    expect(generateParamsFromFlags({ hosts: 10, duration: 3600, interval: 10, seed: 42 })).toEqual({
      host_count: 10,
      duration_s: 3600,
      interval_s: 10,
      seed: 42,
    });
    expect(generateParamsFromFlags({ 'anomaly-types': 'spike, drift' })).toEqual({
      anomaly_types: ['spike', 'drift'],
    });
    expect(() => generateParamsFromFlags({ 'anomaly-types': 'spike,meteor' })).toThrow(
      /--anomaly-types: .*meteor/,
    );
    expect(() => generateParamsFromFlags({ duration: 5, interval: 10 })).toThrow(UsageError);
  });
});

describe('runCli exit codes', () => {
  it('2 for an unknown command or flag, 0 for help', async () => {
    const a = captureIo();
    expect(await runCli(['frobnicate'], a.io)).toBe(2);
    expect(a.text.err).toContain('unknown command "frobnicate"');
    const b = captureIo();
    expect(await runCli(['generate', '--hosts', '0'], b.io)).toBe(2);
    expect(b.text.err).toContain('tads generate: --hosts must be an integer in [1, 10000]; got "0"');
    const c = captureIo();
    expect(await runCli(['migrate', '--help'], c.io)).toBe(0);
    expect(c.text.out).toContain('Usage: tads migrate');
    expect(c.text.out).toContain('--db-conn');
  });

  it('1 when the API cannot be reached, with a JSON error under --json', async () => {
    const a = captureIo();
    const code = await runCli(['generate', '--hosts', '1', '--api', 'http://127.0.0.1:1', '--json'], a.io);
    expect(code).toBe(1);
    const body = JSON.parse(a.text.out) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unreachable');
    expect(body.error.message).toContain('cannot reach the TADS API at http://127.0.0.1:1');
  });
});
