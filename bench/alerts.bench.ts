/**
 * Alert manager and evaluation throughput (pure TypeScript; there is no native counterpart).
 *
 * - AlertManager.processBatch over 5,000,000 scored records: 1,000 hosts × 5,000 time steps at
 *   60 s, in (ts, host_id) order, fed in chunks of 100,000 rows as a job replay does; 2 % of records
 *   anomalous in episodes of 5–60 records (fused 1–5 inside, 0–0.9 outside with rare isolated
 *   spikes), 0.1 % invalid.
 * - rocAuc and averagePrecision (each sorting on its own) and rankingMetrics (both from one sort)
 *   over 10,000,000 scores with 2 % positives and 0.1 % NaN.
 *
 * TADS_BENCH_SCALE=small divides the sizes by 10.
 */
import { AlertManager } from '../src/core/alerts.js';
import { averagePrecision, rankingMetrics, rocAuc } from '../src/core/evaluation.js';
import { Random } from '../src/core/random.js';
import { heading, peakRssMb, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const HOSTS = 1000;
const STEPS = small ? 500 : 5000;
const SCORES = small ? 1_000_000 : 10_000_000;
const CHUNK = 100_000;
const RUNS = 3;
const T0 = Date.UTC(2024, 0, 1);

/** Scored records as a job replay reads them: time-major, hosts in id order within a step. */
function makeRecords() {
  const rng = Random.fromSeed(42);
  const n = HOSTS * STEPS;
  const ts = new Float64Array(n);
  const fused = new Float64Array(n);
  const topMetric = new Int32Array(n);
  const hostIds = Array.from({ length: HOSTS }, (_, h) => `host-${String(h).padStart(4, '0')}`);
  // Episode starts with probability p per record so that ~2 % of records are anomalous:
  // mean episode length 32.5 → p ≈ 0.02 / 32.5.
  const startP = 0.02 / 32.5;
  const left = new Int32Array(HOSTS);
  let anomalous = 0;
  for (let s = 0; s < STEPS; s++) {
    for (let h = 0; h < HOSTS; h++) {
      const i = s * HOSTS + h;
      ts[i] = T0 + s * 60_000;
      if (left[h] === 0 && rng.nextFloat() < startP) left[h] = 5 + Math.floor(rng.nextFloat() * 56);
      if (left[h]! > 0) {
        left[h]! -= 1;
        anomalous++;
        fused[i] = 1 + 4 * rng.nextFloat();
      } else {
        // Normal records, with an occasional isolated false spike.
        fused[i] = rng.nextFloat() < 0.002 ? 1 + rng.nextFloat() : 0.9 * rng.nextFloat();
      }
      if (rng.nextFloat() < 0.001) fused[i] = NaN;
      topMetric[i] = Number.isNaN(fused[i]) ? -1 : Math.floor(rng.nextFloat() * 8);
    }
  }
  return { n, ts, fused, topMetric, hostAt: (i: number) => hostIds[i % HOSTS]!, anomalous };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function benchAlerts(): Record<string, string | number>[] {
  const rec = makeRecords();
  const times: number[] = [];
  let opened = 0;
  let suppressed = 0;
  for (let run = 0; run < RUNS; run++) {
    let events = 0;
    let quiet = 0;
    const m = new AlertManager({
      intervalS: 60,
      onEvent: (e) => {
        if (e.kind !== 'opened') return;
        events++;
        if (e.alert.suppressed) quiet++;
      },
    });
    const start = performance.now();
    for (let off = 0; off < rec.n; off += CHUNK) {
      const len = Math.min(CHUNK, rec.n - off);
      m.processBatch(
        {
          ts: rec.ts.subarray(off, off + len),
          hostIds: (i) => rec.hostAt(off + i),
          fused: rec.fused.subarray(off, off + len),
          topMetric: rec.topMetric.subarray(off, off + len),
        },
        len,
      );
    }
    times.push(performance.now() - start);
    opened = events;
    suppressed = quiet;
  }
  const ms = median(times);
  return [
    {
      operation: 'AlertManager.processBatch',
      records: rec.n,
      hosts: HOSTS,
      'anomalous %': (100 * rec.anomalous) / rec.n,
      'alerts opened': opened,
      suppressed,
      'median ms': ms,
      'records/s': rec.n / (ms / 1000),
    },
  ];
}

function benchEvaluation(): Record<string, string | number>[] {
  const rng = Random.fromSeed(7);
  const labels = new Uint8Array(SCORES);
  const scores = new Float64Array(SCORES);
  for (let i = 0; i < SCORES; i++) {
    labels[i] = rng.nextFloat() < 0.02 ? 1 : 0;
    // Overlapping score distributions, rounded to 1e-4 so that ties occur as in real scores.
    const s = rng.nextFloat() * 2 + (labels[i] ? 0.8 : 0);
    scores[i] = rng.nextFloat() < 0.001 ? NaN : Math.round(s * 1e4) / 1e4;
  }
  const rows: Record<string, string | number>[] = [];
  const cases: [string, () => unknown][] = [
    ['rocAuc', () => rocAuc(labels, scores)],
    ['averagePrecision', () => averagePrecision(labels, scores)],
    ['rankingMetrics (both, one sort)', () => rankingMetrics(labels, scores)],
  ];
  for (const [name, fn] of cases) {
    const times: number[] = [];
    let value = '';
    for (let run = 0; run < RUNS; run++) {
      const start = performance.now();
      const out = fn();
      times.push(performance.now() - start);
      value = JSON.stringify(out, (_k, v: unknown) =>
        typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(4)) : v,
      );
    }
    const ms = median(times);
    rows.push({
      operation: name,
      scores: SCORES,
      'median ms': ms,
      'scores/s': SCORES / (ms / 1000),
      result: value,
    });
  }
  return rows;
}

heading('Alerts and evaluation');
console.log(`runs: median of ${RUNS}${small ? ' (TADS_BENCH_SCALE=small)' : ''}\n`);
table(benchAlerts());
table(benchEvaluation());
console.log(`peak RSS: ${peakRssMb().toFixed(0)} MB\n`);
