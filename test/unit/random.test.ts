import { describe, expect, it } from 'vitest';
import { fmix32, MAX_SEED, Random } from '../../src/core/random.js';

describe('Random: bad input', () => {
  it('rejects seeds that are not non-negative safe integers, naming the parameter', () => {
    expect(() => Random.fromSeed(-1)).toThrow(`seed must be an integer in [0, ${MAX_SEED}]; got -1`);
    expect(() => Random.fromSeed(1.5)).toThrow('got 1.5');
    expect(() => Random.fromSeed(2 ** 53)).toThrow(RangeError);
    expect(() => Random.fromSeed('7' as unknown as number)).toThrow('got "7"');
  });

  it('rejects non-integer stream words and malformed states', () => {
    expect(() => Random.fromSeed(1, 0.5)).toThrow('stream[0] must be an integer; got 0.5');
    expect(() => Random.fromState([1, 2, 3])).toThrow('words must be four integers');
    expect(() => Random.fromState([0, 0, 0, 0])).toThrow('must not all be zero');
    expect(() => Random.fromState([1, 2, 3, 2 ** 32])).toThrow(RangeError);
  });

  it('rejects bad ranges and spans', () => {
    const r = Random.fromSeed(1);
    expect(() => r.nextIntInclusive(3, 2)).toThrow('nextIntInclusive needs integers lo ≤ hi; got lo=3, hi=2');
    expect(() => r.nextRange(0, Infinity)).toThrow(RangeError);
    expect(() => r.fillNormal(new Float64Array(4), 2, 3)).toThrow(
      'offset + count ≤ 4; got offset=2, count=3',
    );
  });
});

describe('Random: algorithms', () => {
  it('reproduces the published xoshiro128** sequence from state (1, 2, 3, 4)', () => {
    const r = Random.fromState([1, 2, 3, 4]);
    const out = Array.from({ length: 6 }, () => r.nextUint32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('fmix32 is MurmurHash3’s finaliser', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    // bijective on a sample: no collisions among 10 000 consecutive inputs
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(fmix32(i));
    expect(seen.size).toBe(10_000);
  });

  it('same seed and stream give the same numbers; other streams differ', () => {
    const a = Random.fromSeed(42, 1, 7);
    const b = Random.fromSeed(42, 1, 7);
    const c = Random.fromSeed(42, 1, 8);
    const d = Random.fromSeed(43, 1, 7);
    const e = Random.fromSeed(42, 17);
    const xs = (r: Random) => Array.from({ length: 8 }, () => r.nextUint32());
    const ax = xs(a);
    expect(xs(b)).toEqual(ax);
    expect(xs(c)).not.toEqual(ax);
    expect(xs(d)).not.toEqual(ax);
    expect(xs(e)).not.toEqual(ax);
    // seeds beyond 32 bits use their high word too
    expect(xs(Random.fromSeed(2 ** 32))).not.toEqual(xs(Random.fromSeed(0)));
  });

  it('uniform doubles lie in [0, 1) with the right mean and variance', () => {
    const r = Random.fromSeed(3);
    let s = 0;
    let s2 = 0;
    let outside = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const u = r.nextFloat();
      if (!(u >= 0 && u < 1)) outside++;
      s += u;
      s2 += u * u;
    }
    expect(outside).toBe(0);
    expect(s / n).toBeCloseTo(0.5, 2);
    expect(s2 / n - (s / n) ** 2).toBeCloseTo(1 / 12, 2);
  });

  it('integers are uniform over an inclusive range (chi-square)', () => {
    const r = Random.fromSeed(5);
    const counts = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) counts[r.nextIntInclusive(1, 10) - 1]! += 1;
    const expected = n / 10;
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: the 99.9 % point is 27.9
    expect(chi2).toBeLessThan(27.9);
  });

  it('normal deviates have the moments and tails of N(0, 1)', () => {
    const r = Random.fromSeed(11);
    const n = 1_000_000;
    const buf = new Float64Array(n);
    r.fillNormal(buf, 0, n);
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    let beyond3 = 0;
    let beyond4 = 0;
    for (const z of buf) {
      s += z;
      s2 += z * z;
      s4 += z ** 4;
      if (Math.abs(z) > 3) beyond3++;
      if (Math.abs(z) > 4) beyond4++;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.005);
    expect(s2 / n).toBeCloseTo(1, 2);
    expect(s4 / n).toBeGreaterThan(2.95);
    expect(s4 / n).toBeLessThan(3.05);
    // P(|Z| > 3) = 0.0027, P(|Z| > 4) = 6.3e-5: the Ziggurat's tail must be there
    expect(beyond3 / n).toBeGreaterThan(0.0024);
    expect(beyond3 / n).toBeLessThan(0.003);
    expect(beyond4).toBeGreaterThan(30);
    expect(beyond4).toBeLessThan(100);
  });

  it('fillNormal gives exactly the numbers of successive nextNormal calls', () => {
    const a = Random.fromSeed(9, 2);
    const b = Random.fromSeed(9, 2);
    const buf = new Float64Array(5000);
    a.fillNormal(buf, 0, 5000);
    const one = Float64Array.from({ length: 5000 }, () => b.nextNormal());
    expect(buf).toEqual(one);
    expect(a.state()).toEqual(b.state());
  });

  it('a stream restored from its state continues identically', () => {
    const a = Random.fromSeed(77);
    a.nextNormal();
    const b = Random.fromState(a.state());
    expect(a.nextNormal()).toBe(b.nextNormal());
    expect(a.nextUint32()).toBe(b.nextUint32());
  });
});
