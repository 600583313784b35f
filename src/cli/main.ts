#!/usr/bin/env node
/**
 * The `tads` command: `tads <command> [flags]`. Exit codes: 0 success, 1 failure, 2 bad usage.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../client/index.js';
import { isTadsError } from '../core/errors.js';
import { commandHelp, mainHelp, parseFlags, UsageError, type CommandIo, type CommandSpec } from './args.js';
import { benchCommand } from './commands/bench.js';
import { generateCommand } from './commands/generate.js';
import { migrateCommand } from './commands/migrate.js';
import { scoreCommand } from './commands/score.js';
import { scorerCommand } from './commands/scorer.js';
import { serveCommand } from './commands/serve.js';
import { trainCommand } from './commands/train.js';
import { verifyCommand } from './commands/verify.js';

/** Every command, in help order. */
export const COMMANDS: readonly CommandSpec[] = [
  serveCommand,
  migrateCommand,
  generateCommand,
  trainCommand,
  scoreCommand,
  scorerCommand,
  benchCommand,
  verifyCommand,
];

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Runs the CLI with `argv` (the arguments after `tads`).
 *
 * @returns the exit code
 */
export async function runCli(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out.write(mainHelp(COMMANDS));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err.write(
      `tads: unknown command ${JSON.stringify(name)}; expected one of ${COMMANDS.map((c) => c.name).join(', ')}\n`,
    );
    return EXIT.usage;
  }
  // --json applies to errors too, even when the other flags fail to parse.
  const json = rest.includes('--json') || rest.includes('--json=true');
  try {
    const flags = parseFlags(rest, cmd.flags, cmd.positionals);
    if (flags.help) {
      io.out.write(commandHelp(cmd));
      return EXIT.ok;
    }
    return await cmd.run(flags, { ...io, json: flags.json === true });
  } catch (err) {
    return report(cmd.name, err, { ...io, json });
  }
}

function report(command: string, err: unknown, io: CommandIo): number {
  const message = err instanceof Error ? err.message : String(err);
  // Bad usage: our own checks, or input the API or configuration refused.
  const usage =
    err instanceof UsageError ||
    (err instanceof ApiError && err.status === 400) ||
    (isTadsError(err) && err.code === 'invalid_input');
  if (io.json) {
    const code = err instanceof ApiError || isTadsError(err) ? err.code : usage ? 'usage' : 'failure';
    io.out.write(JSON.stringify({ error: { code, message } }) + '\n');
  } else {
    io.err.write(`tads ${command}: ${message}\n`);
    if (err instanceof UsageError) io.err.write(`Run 'tads ${command} --help' for its flags.\n`);
  }
  return usage ? EXIT.usage : EXIT.failure;
}

/** Entry point: process arguments, signals and exit code. */
async function main(): Promise<void> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals += 1;
    // A second signal while shutting down stops at once.
    if (signals > 1) process.exit(EXIT.failure);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await runCli(process.argv.slice(2), {
    out: process.stdout,
    err: process.stderr,
    json: false,
    env: process.env,
    signal: controller.signal,
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.exitCode = code;
}

// Run when executed (also through the npm bin symlink), not when imported.
const self = fileURLToPath(import.meta.url);
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === self) await main();
