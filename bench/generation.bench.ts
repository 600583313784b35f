/**
 * In-process generation speed: rows per second of generateTelemetry into typed columns (target
 * ≥ 3 000 000), with and without anomalies, and the random streams underneath it.
 * TADS_BENCH_SCALE=small shrinks the inputs.
 */
import { generateTelemetry } from '../src/core/generator.js';
import { Random } from '../src/core/random.js';
import { heading, peakRssMb, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const REPEATS = small ? 3 : 5;

/** Times `fn` REPEATS times after one warm-up; returns the best and the median seconds. */
function time(fn: () => void): { best: number; median: number } {
  fn();
  const runs: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    fn();
    runs.push((performance.now() - t0) / 1000);
  }
  runs.sort((a, b) => a - b);
  return { best: runs[0]!, median: runs[Math.floor(runs.length / 2)]! };
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
  `peak RSS: ${peakRssMb().toFixed(0)} MB; ${REPEATS} timed runs after a warm-up, best and median shown\n`,
);
