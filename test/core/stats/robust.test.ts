/**
 * Exact streaming robust statistics (src/core/stats/robust.ts) against the plain in-memory
 * reference (full sort), on data built to reach every path: the fast second pass, the MAD bracket
 * failing its check, refinement passes down to the last key level, ties, constant columns,
 * negative values, odd and even counts, and any chunking. Needs no database.
 */
import { describe, expect, it } from 'vitest';
import { exactRobustStats, RobustStatsBuilder } from '../../../src/core/stats/robust.js';
import type { Matrix } from '../../../src/core/types.js';
import { referenceRobust } from '../../helpers/reference-pca.js';
import { mulberry32 } from '../../../scripts/make-pca-fixture.mjs';

function chunksOf(m: Matrix, chunkRows: number): () => AsyncIterable<Matrix> {
  return async function* () {
    for (let r = 0; r < m.rows; r += chunkRows) {
      const rows = Math.min(chunkRows, m.rows - r);
      // A copy with an offset inside a larger buffer, as a COPY parser might hand out.
      const buf = new Float64Array(rows * m.cols + 3);
      buf.set(m.data.subarray(r * m.cols, (r + rows) * m.cols), 3);
      yield { rows, cols: m.cols, data: buf.subarray(3) };
      await Promise.resolve();
    }
  };
}

/** Columns: normal-ish, exponential, heavy ties, constant, mixed-sign, mostly one value. */
function mixedMatrix(rows: number, seed: number): Matrix {
  const r = mulberry32(seed);
  const cols = 6;
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const g = r() + r() + r() + r() - 2;
    data[i * cols + 0] = 50 + 15 * g;
    data[i * cols + 1] = -Math.log(1 - r()) * 0.01;
    data[i * cols + 2] = Math.floor(r() * 5);
    data[i * cols + 3] = 7.25;
    data[i * cols + 4] = (r() - 0.5) * 1e-3 - (i % 3 === 0 ? 1e6 : -1e6);
    data[i * cols + 5] = r() < 0.7 ? 3 : 3 + r();
  }
  return { rows, cols, data };
}

async function check(m: Matrix, chunkRows: number, collectCap?: number): Promise<number> {
  const { stats, passes } = await exactRobustStats(
    chunksOf(m, chunkRows),
    m.cols,
    collectCap ? { collectCap } : {},
  );
  const ref = referenceRobust(m);
  for (let j = 0; j < m.cols; j++) {
    // Median and MAD are order statistics (or midpoints of two): exactly equal.
    expect(stats.median[j], `median of column ${j}`).toBe(ref.median[j]);
    expect(stats.mad[j], `MAD of column ${j}`).toBe(ref.mad[j]);
    const scale = Math.max(Math.abs(ref.meanAbsDevFromMedian[j]!), 1e-300);
    expect(Math.abs(stats.meanAbsDevFromMedian[j]! - ref.meanAbsDevFromMedian[j]!) / scale).toBeLessThan(
      1e-12,
    );
  }
  return passes;
}

describe('RobustStatsBuilder: bad input', () => {
  it('rejects a feature count out of range, naming it', () => {
    expect(() => new RobustStatsBuilder(0)).toThrow('nFeatures must be an integer in [1, 64]; got 0');
    expect(() => new RobustStatsBuilder(2.5)).toThrow('nFeatures must be an integer in [1, 64]; got 2.5');
  });
  it('rejects a memory cap out of range, naming it', () => {
    expect(() => new RobustStatsBuilder(2, { collectCap: 1 })).toThrow(
      'collectCap must be an integer in [2, 67108864]; got 1',
    );
  });
  it('rejects a chunk of the wrong width', () => {
    const b = new RobustStatsBuilder(3);
    expect(() => b.observe({ rows: 1, cols: 2, data: new Float64Array(2) })).toThrow(
      'chunk must have 3 columns; got 2',
    );
  });
  it('rejects an empty dataset', () => {
    const b = new RobustStatsBuilder(2);
    expect(() => b.needsPass()).toThrow('robust statistics need at least 1 row; got 0');
  });
  it('notices rows that changed between passes', async () => {
    const m = mixedMatrix(101, 1);
    const b = new RobustStatsBuilder(m.cols);
    for await (const c of chunksOf(m, 50)()) b.observe(c);
    expect(b.needsPass()).toBe(true);
    b.beginPass();
    for await (const c of chunksOf({ ...m, rows: 100 }, 50)()) b.feed(c);
    expect(() => b.endPass()).toThrow('pass 2 read 100 rows but the first pass read 101');
  });
});

describe('exact streaming robust statistics', () => {
  it('equals the in-memory reference for odd and even counts, any chunking, one extra pass', async () => {
    for (const rows of [1, 2, 3, 10, 999, 1000, 5001]) {
      for (const chunk of [1, 7, 4096]) {
        if (rows > 10 && chunk === 1) continue;
        const passes = await check(mixedMatrix(rows, rows * 31 + chunk), chunk);
        expect(passes).toBeGreaterThanOrEqual(2);
      }
    }
    // The usual case (bins small against the cap) needs exactly one pass beyond the first.
    expect(await check(mixedMatrix(20_000, 5), 4096)).toBe(2);
  });

  it('stays exact when a tiny memory cap forces refinement passes down to the last key level', async () => {
    const m = mixedMatrix(3001, 9);
    const passes = await check(m, 500, 2);
    expect(passes).toBeGreaterThan(2);
  });

  it('takes two passes when the median and MAD fall in heavy bins, thanks to their sub-histograms', async () => {
    // Narrow distributions: the median's level-1 bin alone holds far more values than the cap, so
    // only the first pass's sub-histograms can keep the second pass under it. The last column
    // drifts (its early values sit in the heavy bins' uncounted heads), the fourth is all negative.
    const rows = 60_000;
    const r = mulberry32(77);
    const cols = 5;
    const data = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const g = r() + r() + r() + r() - 2;
      data[i * cols + 0] = 50 + 0.5 * g;
      data[i * cols + 1] = 2 * Math.exp(0.3 * g);
      data[i * cols + 2] = 1e-3 * (1 + 0.1 * g);
      data[i * cols + 3] = -300 - 5 * g;
      data[i * cols + 4] = 10 + 0.2 * g + (i / rows) * 0.5;
    }
    expect(await check({ rows, cols, data }, 4096, 4096)).toBe(2);
    expect(await check({ rows: rows - 1, cols, data }, 1000, 4096)).toBe(2);
  });

  it('stays exact when a metric has more heavy bins than sub-histograms', async () => {
    // A cap of 32 makes every bin with 2 values heavy; thousands of such bins spend the budget.
    const rows = 40_000;
    const r = mulberry32(5);
    const data = new Float64Array(rows);
    for (let i = 0; i < rows; i++) data[i] = Math.floor(r() * 8000) + (i % 2) * 0.25;
    await check({ rows, cols: 1, data }, 4096, 32);
  });

  it('is exact on a single column of identical values and on two values only', async () => {
    const same: Matrix = { rows: 1000, cols: 1, data: new Float64Array(1000).fill(-3.5) };
    await check(same, 64, 8);
    const two: Matrix = { rows: 6, cols: 1, data: Float64Array.from([1, 2, 1, 2, 1, 2]) };
    await check(two, 4);
  });
});
