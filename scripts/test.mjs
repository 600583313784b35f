// The test command (`npm test`): brings the build up to date, makes sure the browser the
// end-to-end tests drive is present, then runs every test once with vitest. A JSON report of the
// run is written to test-results/ (its name from TADS_TEST_REPORT, default vitest.json).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', ...opts });

// Bring the build up to date (incremental: cheap when nothing changed)
run('npm', ['run', 'build', '--silent']);
if (existsSync('web/package.json')) run('npm', ['run', 'build', '--workspace', 'web', '--silent']);

// The browser for end-to-end tests: Debian's chromium, installed when missing and we may
if (!existsSync('/usr/bin/chromium') && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], { env });
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium'], { env });
}

mkdirSync('test-results', { recursive: true });
const report = `test-results/${process.env.TADS_TEST_REPORT ?? 'vitest.json'}`;
const res = spawnSync(
  process.execPath,
  [
    'node_modules/vitest/vitest.mjs',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
process.exit(res.status ?? 1);
