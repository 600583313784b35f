/**
 * In-process generation speed: rows per second of generateTelemetry into typed columns (target
 * ≥ 3 000 000), with and without anomalies, and the random streams underneath it.
 * TADS_BENCH_SCALE=small shrinks the inputs.
 */
import os from 'node:os';
import { generateTelemetry } from '../src/core/generator.js';
import { Random } from '../src/core/random.js';
import { heading, peakRssMb, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const REPEATS = small ? 3 : 5;

/**
 * Times `fn` REPEATS times after one warm-up; returns the best and median wall-clock seconds and
 * the best CPU seconds (user + system of this process: what the work costs when the machine is
 * shared and the wall clock includes waiting for a core).
 */
function time(fn: () => void): { best: number; median: number; cpu: number } {
  fn();
  const runs: number[] = [];
  let cpu = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    runs.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  runs.sort((a, b) => a - b);
  return { best: runs[0]!, median: runs[Math.floor(runs.length / 2)]!, cpu };
}

heading('Generation (in process, typed columns)');

const rows: Record<string, string | number>[] = [];
const cases = [
  {
    name: 'normal only (rate 0)',
    params: { hostCount: 1000, durationS: (small ? 6 : 24) * 3600, anomalyRate: 0 },
  },
  { name: 'default mix (rate 0.02)', params: { hostCount: 1000, durationS: (small ? 6 : 24) * 3600 } },
  { name: 'default mix, 10 hosts', params: { hostCount: 10, durationS: (small ? 14 : 100) * 86_400 } },
];
for (const c of cases) {
  const data = generateTelemetry(c.params);
  let check = 0;
  const t = time(() => {
    for (const chunk of data.chunks()) check += chunk.metrics[0]!;
  });
  if (!Number.isFinite(check)) throw new Error('generation produced a non-finite value');
  rows.push({
    case: c.name,
    rows: data.totalRows,
    'best rows/s': data.totalRows / t.best,
    'median rows/s': data.totalRows / t.median,
    'rows per CPU-second': data.totalRows / t.cpu,
    'target rows/s': 3_000_000,
  });
}
table(rows);

// The random streams: normals per second through fillNormal and nextNormal
const n = small ? 2_000_000 : 10_000_000;
const buf = new Float64Array(n);
const rng = new Random(1);
const fill = time(() => rng.fillNormal(buf, 0, n));
const one = time(() => {
  for (let i = 0; i < n; i++) buf[i] = rng.nextNormal();
});
table([
  { stream: 'fillNormal (Ziggurat)', 'normals/s': n / fill.best },
  { stream: 'nextNormal (Ziggurat)', 'normals/s': n / one.best },
]);
console.log(
  `peak RSS: ${peakRssMb().toFixed(0)} MB; ${REPEATS} timed runs after a warm-up; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores\n`,
);
