// `npm run bench [-- name ...]`: builds, then runs each benchmark file in bench/ (compiled to
// dist/bench/) in its own process, in a fixed order, so one run prints every figure side by side.
// Names select files: `npm run bench -- scoring` runs bench/scoring.bench.ts only.
// TADS_BENCH_SCALE=small shrinks the largest inputs for a quick look.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
const order = [
  'scoring',
  'generation',
  'ingest',
  'import-parse',
  'training',
  'inference',
  'alerts',
  'jobs',
  'analytics',
  'sorted-chunks',
  'layout',
  'http',
];
const files = readdirSync('dist/bench')
  .filter((f) => f.endsWith('.bench.js'))
  .map((f) => f.replace(/\.bench\.js$/, ''))
  .sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b));
const wanted = process.argv.slice(2);
let failed = 0;
console.log(`# TADS benchmarks (${new Date().toISOString()})`);
for (const name of files) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const res = spawnSync(process.execPath, ['--expose-gc', `dist/bench/${name}.bench.js`], {
    stdio: 'inherit',
  });
  if (res.status !== 0) {
    failed += 1;
    console.error(`bench ${name} failed (exit ${res.status})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
