/**
 * The live scorer's policy flags: `tads scorer --policy NAME` and `tads serve --live-policy NAME`
 * take every policy a dataset job takes, and refuse anything else (exit 2) before opening
 * anything.
 */
import { describe, expect, it } from 'vitest';
import { commandHelp, policyFlag } from '../../src/cli/args.js';
import { COMMANDS, runCli } from '../../src/cli/main.js';
import { POLICY_NAMES } from '../../src/contract/vocabulary.js';
import { captureIo } from '../helpers/cli.js';

describe('live policy flags', () => {
  it("take every policy name (none given: undefined, the caller's default)", () => {
    expect(policyFlag(undefined, 'policy')).toBeUndefined();
    for (const name of POLICY_NAMES) expect(policyFlag(name, 'policy')).toBe(name);
    expect(() => policyFlag('strict', 'live-policy')).toThrow(
      '--live-policy must be one of default, smoothed; got "strict"',
    );
  });

  it('exit 2 for an unknown policy, or a live policy without a live fleet', async () => {
    for (const [argv, message] of [
      [['scorer', '--policy', 'strict'], '--policy must be one of default, smoothed; got "strict"'],
      [
        ['serve', '--live', '3', '--live-policy', 'strict'],
        '--live-policy must be one of default, smoothed; got "strict"',
      ],
      [['serve', '--live-policy', 'smoothed'], '--live-policy goes with --live <hosts>'],
    ] as const) {
      const c = captureIo();
      expect(await runCli([...argv], c.io), argv.join(' ')).toBe(2);
      expect(c.text.err).toContain(message);
    }
  });

  it('are in the help of tads scorer and tads serve', () => {
    const help = (name: string) => commandHelp(COMMANDS.find((c) => c.name === name)!);
    expect(help('scorer')).toMatch(/--policy <name>.*default, smoothed/);
    expect(help('serve')).toMatch(/--live-policy <name>.*default, smoothed/);
  });
});
