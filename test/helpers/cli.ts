/**
 * Running TADS's CLI in the test process: streams for `runCli` that keep what a command writes.
 *
 * @example
 * const c = captureIo();
 * expect(await runCli(['bench', '0'], c.io)).toBe(2);
 * expect(c.text.err).toContain('--records must be');
 */
import { PassThrough } from 'node:stream';
import type { CommandIo } from '../../src/cli/args.js';

/** What {@link captureIo} returns. */
export interface CapturedIo {
  /** The streams to hand to `runCli` (no `--json` default, an empty environment). */
  io: CommandIo;
  /** Everything written so far to `out` and to `err`. */
  text: { out: string; err: string };
}

/**
 * Streams for one CLI run that keep its output as text.
 *
 * @param signal - the run's interrupt signal (default: one that never fires)
 */
export function captureIo(signal: AbortSignal = new AbortController().signal): CapturedIo {
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { out: '', err: '' };
  out.on('data', (c: Buffer) => (text.out += c.toString()));
  err.on('data', (c: Buffer) => (text.err += c.toString()));
  return { io: { out, err, json: false, env: {}, signal }, text };
}
