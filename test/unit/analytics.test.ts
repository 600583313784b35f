/**
 * The analytics query schemas (fixed lists only, injection attempts refused) and the in-memory
 * numerics of the precompute (selection, percentile_cont, histogram edges, bins counted by the
 * ranks of the edges in sorted chunks) against plain sorting and counting.
 */
import { describe, expect, it } from 'vitest';
import {
  HistogramQuerySchema,
  parseHistogramRange,
  TimeseriesQuerySchema,
  TopKQuerySchema,
} from '../../src/contract/analytics.js';
import { histogramEdges, percentileContInPlace, selectInPlace } from '../../src/core/stats/summary.js';
import { isoTimes } from '../../src/jobs/analytics.js';
import { histogramOfSorted, sortedColumnOf } from '../../src/core/stats/sorted.js';
import { Random } from '../../src/core/random.js';

describe('query schemas', () => {
  it.each([
    [TopKQuerySchema, { column: 'region;DROP TABLE datasets' }],
    [TopKQuerySchema, { column: 'region', k: '10 OR 1=1' }],
    [TopKQuerySchema, { column: 'region', k: '1001' }],
    [TopKQuerySchema, { column: 'region', extra: '1' }],
    [HistogramQuerySchema, { metric: 'cpu_usage)' }],
    [HistogramQuerySchema, { metric: 'cpu_usage', range: '1,2);--' }],
    [HistogramQuerySchema, { metric: 'cpu_usage', range: '3,1' }],
    [HistogramQuerySchema, { metric: 'cpu_usage', range: 'NaN,1' }],
    [HistogramQuerySchema, { metric: 'cpu_usage', range: '1e999,2e999' }],
    [HistogramQuerySchema, { metric: 'cpu_usage', bins: '0' }],
    [HistogramQuerySchema, { metric: 'cpu_usage', host_id: "a' OR 'b'='b" }],
    [TimeseriesQuerySchema, { metrics: 'cpu_usage', aggs: 'mean', bucket: "1m' --" }],
    [TimeseriesQuerySchema, { metrics: 'cpu_usage,', aggs: 'mean', bucket: '1m' }],
    [TimeseriesQuerySchema, { metrics: 'cpu_usage', aggs: 'mean,median', bucket: '1m' }],
    [TimeseriesQuerySchema, { metrics: 'cpu_usage', aggs: 'mean', bucket: '2m' }],
    [TimeseriesQuerySchema, { metrics: 'cpu_usage', aggs: 'mean', bucket: '1h', to: "now'" }],
  ] as const)('refuses %#', (schema, q) => {
    expect(schema.safeParse(q).success).toBe(false);
  });

  it('parses what is allowed, with defaults', () => {
    expect(TopKQuerySchema.parse({ column: 'anomaly_type' })).toEqual({ column: 'anomaly_type', k: 10 });
    expect(HistogramQuerySchema.parse({ metric: 'load_avg', range: '-1.5,2e3' })).toEqual({
      metric: 'load_avg',
      bins: 40,
      range: { kind: 'explicit', lo: -1.5, hi: 2000 },
      hostId: undefined,
    });
    const t = TimeseriesQuerySchema.parse({
      metrics: 'error_rate,cpu_usage',
      aggs: 'p95,count',
      bucket: '1d',
      from: '2024-01-01T02:00:00+02:00',
    });
    expect(t.metrics).toEqual(['error_rate', 'cpu_usage']);
    expect(t.from?.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    expect(parseHistogramRange('2,2')).toEqual({ kind: 'explicit', lo: 2, hi: 2 });
    expect(parseHistogramRange('p1p99')).toEqual({ kind: 'p1p99' });
  });
});

describe('numerics', () => {
  /** percentile_cont over a sorted copy, the textbook way. */
  function reference(values: number[], p: number): number {
    const s = [...values].sort((a, b) => a - b);
    const h = p * (s.length - 1);
    const lo = Math.floor(h);
    return s[lo]! + (h - lo) * (s[Math.ceil(h)]! - s[lo]!);
  }

  it('selects and interpolates like a sort, with ties and sorted input', () => {
    const rng = Random.fromSeed(3);
    for (const n of [1, 2, 3, 17, 100, 1001]) {
      for (const kind of ['random', 'ties', 'sorted', 'reversed'] as const) {
        const values = Array.from({ length: n }, (_, i) =>
          kind === 'random'
            ? rng.nextFloat()
            : kind === 'ties'
              ? Math.floor(rng.nextFloat() * 4)
              : kind === 'sorted'
                ? i
                : n - i,
        );
        for (const p of [0, 0.01, 0.5, 0.95, 0.99, 1]) {
          const a = Float64Array.from(values);
          expect(percentileContInPlace(a, 0, n, p)).toBe(reference(values, p));
        }
        const a = Float64Array.from(values);
        const k = Math.floor(n / 3);
        selectInPlace(a, 0, n, k);
        const sorted = [...values].sort((x, y) => x - y);
        expect(a[k]).toBe(sorted[k]);
        for (let i = 0; i < k; i++) expect(a[i]).toBeLessThanOrEqual(a[k]!);
        for (let i = k + 1; i < n; i++) expect(a[i]).toBeGreaterThanOrEqual(a[k]!);
      }
    }
    expect(Number.isNaN(percentileContInPlace(new Float64Array(0), 0, 0, 0.5))).toBe(true);
  });

  /** The plain definition: the largest i < bins with edges[i] ≤ v; below lo and above hi (NaN) apart. */
  function plainHistogram(values: readonly number[], edges: readonly number[]) {
    const bins = edges.length - 1;
    const counts = new Array<number>(bins).fill(0);
    let below = 0;
    let above = 0;
    for (const v of values) {
      if (v < edges[0]!) below++;
      else if (!(v <= edges[bins]!)) above++;
      else {
        let bin = 0;
        for (let i = 0; i < bins; i++) if (edges[i]! <= v) bin = i;
        counts[bin]!++;
      }
    }
    return { counts, below, above };
  }

  it('bins by the ranks of the edges as by the plain definition, in one chunk or many', () => {
    expect(histogramEdges(0, 1, 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(histogramEdges(3, 3, 40)).toEqual([3, 3]);
    const edges = histogramEdges(0.1, 0.7, 3);
    expect(edges[0]).toBe(0.1);
    expect(edges[3]).toBe(0.7);
    const rng = Random.fromSeed(5);
    const spread = [
      ...edges,
      0.05,
      0.75,
      NaN,
      ...Array.from({ length: 500 }, () => 0.1 + rng.nextFloat() * 0.6),
    ];
    // Ties on the edges and runs of one value longer than a chunk.
    const ties = Array.from({ length: 400 }, () => Math.floor(rng.nextFloat() * 9) * 0.125);
    for (const values of [spread, ties, [], [3, 3, 3]]) {
      const sorted = Float64Array.from(values).sort();
      for (const chunk of [1, 2, 7, 64, Math.max(1, sorted.length)]) {
        const col = sortedColumnOf(sorted, chunk);
        for (const e of [edges, histogramEdges(0, 1, 8), histogramEdges(0.25, 0.75, 5), [3, 3], [-1, 2]]) {
          expect(histogramOfSorted(col, e), `chunk ${chunk}, edges ${e.join(' ')}`).toEqual(
            plainHistogram(values, e),
          );
        }
      }
    }
  });

  it('writes bucket starts as toISOString does', () => {
    const starts = [
      0, 59, 60, 3599, 86_399, 86_400, -1, -86_401, 951_782_400, 1_709_251_200, 1_709_337_599,
      253_402_300_799, 253_402_300_800, 1.5, -62_167_219_200, -62_167_219_201,
    ];
    for (let s = 1_709_240_000; s < 1_709_420_000; s += 997) starts.push(s);
    expect(isoTimes(starts)).toEqual(starts.map((s) => new Date(s * 1000).toISOString()));
  });
});
