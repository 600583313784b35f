/**
 * The README tells the truth about how TADS is started and tested: its two commands are the ones
 * `.ci/run` runs and the `start` script runs `tads serve` with the flags the README names; every
 * CLI command is in the README's table and has a section in docs/CLI.md; every configuration
 * variable of src/config/env.ts is in the README's table; the README's links resolve.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFlags } from '../../src/cli/args.js';
import { serveCommand } from '../../src/cli/commands/serve.js';
import { COMMANDS } from '../../src/cli/main.js';

const readme = readFileSync('README.md', 'utf8');
const ci = readFileSync('.ci/run', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

/** The text of a `## ` section (up to the next `## ` heading). */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  expect(start, `section "## ${heading}"`).toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + heading.length + 5);
  const end = rest.search(/\n## /);
  return end === -1 ? rest : rest.slice(0, end);
}

/** The contents of the fenced code blocks of a text, with their language. */
function codeBlocks(text: string): { lang: string; code: string }[] {
  return [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]!.trim() }));
}

describe('README: the two commands', () => {
  const blocks = codeBlocks(section(readme, 'Two commands')).filter((b) => b.lang === 'sh');

  it('are `npm install && npm start` and `npm install && npm test`, in that order', () => {
    expect(blocks.map((b) => b.code)).toEqual(['npm install && npm start', 'npm install && npm test']);
  });

  it('the test command is what .ci/run runs (install, then the test command, on both databases)', () => {
    const lines = ci.split('\n').map((l) => l.trim());
    expect(lines.some((l) => /^npm install( |$)/.test(l))).toBe(true);
    const testRuns = lines.filter((l) => /^(\w+=\S+ )*npm test$/.test(l));
    expect(testRuns).toHaveLength(2);
    expect(testRuns.filter((l) => l.includes('DATABASE_URL='))).toHaveLength(1);
    // And `npm test` is the test script.
    expect(pkg.scripts.test).toBe('node scripts/test.mjs');
  });

  it('the start script runs `tads serve` (the bin) with flags serve accepts, as the README says', () => {
    const m = /^node (\S+) serve(?: (.*))?$/.exec(pkg.scripts.start!);
    expect(m, pkg.scripts.start).not.toBeNull();
    expect(m![1]).toBe(pkg.bin.tads);
    const args = (m![2] ?? '').split(' ').filter((a) => a.length > 0);
    const flags = parseFlags(args, serveCommand.flags, serveCommand.positionals);
    // It turns the live fleet on.
    expect(flags.live).toBeGreaterThan(0);
    expect(readme).toContain(`\`npm start\` runs \`tads serve ${args.join(' ')}\``);
  });

  it('names the port the start command opens', () => {
    expect(section(readme, 'Two commands')).toContain('<http://localhost:8080/>');
  });
});

describe('README and docs/CLI.md: every command', () => {
  const table = section(readme, 'The `tads` command');
  const cliDoc = readFileSync('docs/CLI.md', 'utf8');

  it.each(COMMANDS.map((c) => c.name))(
    'tads %s is in the README table and has a docs/CLI.md section',
    (name) => {
      expect(table).toMatch(new RegExp(`^\\| \`tads ${name}( |\`)`, 'm'));
      expect(cliDoc).toContain(`\n## tads ${name}\n`);
    },
  );

  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    'docs/CLI.md names every flag of tads %s',
    (name, cmd) => {
      const start = cliDoc.indexOf(`\n## tads ${name}\n`);
      const rest = cliDoc.slice(start + 1);
      const end = rest.indexOf('\n## ', 1);
      const text = end === -1 ? rest : rest.slice(0, end);
      for (const f of cmd.flags) expect(text, `--${f.name}`).toMatch(new RegExp(`--${f.name}(?![\\w-])`));
    },
  );

  it('lists no command that does not exist', () => {
    const listed = [...table.matchAll(/^\| `tads (\w+)/gm)].map((m) => m[1]!);
    const documented = [...cliDoc.matchAll(/^## tads (\w+)$/gm)].map((m) => m[1]!);
    const names = COMMANDS.map((c) => c.name);
    for (const n of [...listed, ...documented]) expect(names).toContain(n);
  });
});

describe('README: configuration and links', () => {
  it('lists every variable of src/config/env.ts', () => {
    const env = readFileSync('src/config/env.ts', 'utf8');
    const vars = [...env.matchAll(/^ \* \| `([A-Z_]+)`/gm)].map((m) => m[1]!);
    expect(vars.length).toBeGreaterThanOrEqual(9);
    const config = section(readme, 'Configuration');
    for (const v of vars) expect(config).toContain(`| \`${v}\` |`);
  });

  it('links only to files that exist', () => {
    const links = [...readme.matchAll(/\]\(([^)#]+)\)/g)]
      .map((m) => m[1]!)
      .filter((l) => !/^https?:/.test(l));
    expect(links.length).toBeGreaterThan(0);
    for (const l of links) expect(existsSync(l), l).toBe(true);
  });
});
