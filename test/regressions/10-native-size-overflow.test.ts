import { describe, expect, it } from 'vitest';
import { fitPca, fitPcaAsync, PcaAccumulator, robustStats } from '../../src/index.js';
import { native } from '../../src/native/binding.js';

const opts = {
  variance: 0.95,
  nComponents: 0,
  alpha: 0.001,
  zLimit: 6,
  speRule: 'jackson_mudholkar' as const,
  speQuantile: 0,
};
const empty = new Float64Array(0);
// 2^50 × 2^14 = 2^64 wrapped to 0 in a 64-bit product; 2^50 × 10,000 overflows a signed one.
const huge = 2 ** 50;
const product = '11258999068426240000';

describe('fault 10: rows × cols is checked without overflow', () => {
  it('raw addon: a product that wraps to the array length is refused, not read', () => {
    expect(() => native.robustStats(empty, huge, 2 ** 14)).toThrow(RangeError);
    expect(() => native.fit(empty, huge, 2 ** 14, opts)).toThrow(RangeError);
    expect(() => native.fitAsync(empty, huge, 2 ** 14, opts)).toThrow(RangeError);
    const acc = new native.Accumulator(8);
    expect(() => acc.push(empty, huge, 2 ** 14)).toThrow(RangeError);
    expect(acc.rows()).toBe(0);
  });

  it('raw addon: the message carries the true product', () => {
    const message = `data.length must equal rows * cols = ${product}; got 0`;
    expect(() => native.robustStats(empty, huge, 10_000)).toThrow(new RangeError(message));
    expect(() => native.fit(empty, huge, 10_000, opts)).toThrow(new RangeError(message));
    expect(() => native.fitAsync(empty, huge, 10_000, opts)).toThrow(new RangeError(message));
    const acc = new native.Accumulator(8);
    expect(() => acc.push(empty, huge, 10_000)).toThrow(
      new RangeError(`chunk.data.length must equal rows * cols = ${product}; got 0`),
    );
    const d = 10_000;
    const scorer = new native.Scorer({
      nFeatures: d,
      nComponents: 1,
      mean: new Float64Array(d),
      scale: new Float64Array(d).fill(1),
      components: new Float64Array(d).fill(1 / 100),
      eigenvalues: new Float64Array(d).fill(1),
      median: new Float64Array(d),
      zScale: new Float64Array(d).fill(1),
      speLimit: 1,
      zLimit: 6,
    });
    const f = new Float64Array(0);
    expect(() => scorer.score(empty, huge, f, f, f, f, new Int32Array(0), new Uint8Array(0), null)).toThrow(
      new RangeError(`data.length must equal rows * nFeatures = ${product}; got 0`),
    );
  });

  it('typed library: the same shapes are a RangeError naming the parameter', async () => {
    const wide = { rows: huge, cols: 2 ** 14, data: empty };
    const tooWide = new RangeError(
      'm.cols must be at most 10000 (the most metrics a model can have); got 16384',
    );
    expect(() => fitPca(wide)).toThrow(tooWide);
    await expect(fitPcaAsync(wide)).rejects.toThrow(tooWide);
    expect(() => robustStats(wide)).toThrow(tooWide);
    expect(() => new PcaAccumulator(8).push({ ...wide, cols: 8 })).toThrow(
      new RangeError(`chunk.data.length must equal rows × cols = ${2 ** 53}; got 0`),
    );
    expect(() => fitPca({ rows: huge, cols: 10_000, data: empty })).toThrow(
      new RangeError(`m.data.length must equal rows × cols = ${product}; got 0`),
    );
  });
});
