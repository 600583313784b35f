/**
 * The sorted-value chunks and what is read off them (src/core/stats/sorted.ts): the chunks a
 * question needs, the merge of sorted runs, the lossless chunk codec and percentiles, against
 * plain sorting.
 */
import { describe, expect, it } from 'vitest';
import {
  chunksNeeded,
  decodeSortedChunk,
  encodeSortedChunk,
  histogramOfSorted,
  histogramProbes,
  mergeSortedRuns,
  percentileOfSorted,
  sortedColumnOf,
} from '../../../src/core/stats/sorted.js';
import { Random } from '../../../src/core/random.js';

describe('sorted values', () => {
  /** percentile_cont over a sorted copy, the textbook way. */
  function reference(values: number[], p: number): number {
    const s = [...values].sort((a, b) => a - b);
    const h = p * (s.length - 1);
    const lo = Math.floor(h);
    return s[lo]! + (h - lo) * (s[Math.ceil(h)]! - s[lo]!);
  }

  it('reads only the chunks the edges fall in', () => {
    // Chunks of 4: [0 1 2 3] [4 5 6 7] [8 9 10 11]; an edge between two chunks needs neither.
    const sorted = Float64Array.from({ length: 12 }, (_, i) => i);
    const stored = sortedColumnOf(sorted, 4);
    const bare = { ...stored, chunks: new Map<number, Float64Array>() };
    expect(chunksNeeded(bare, histogramProbes([3.5, 5.5, 10.5]))).toEqual([1, 2]);
    expect(chunksNeeded(bare, histogramProbes([3.5, 8, 11]))).toEqual([]);
    expect(chunksNeeded(bare, histogramProbes([-5, 100]))).toEqual([]);
    expect(() => histogramOfSorted(bare, [3.5, 5.5, 10.5])).toThrow(/has not been read/);
    bare.chunks.set(1, stored.chunks.get(1)!);
    bare.chunks.set(2, stored.chunks.get(2)!);
    expect(histogramOfSorted(bare, [3.5, 5.5, 10.5])).toEqual({ counts: [2, 5], below: 4, above: 1 });
  });

  it('merges sorted runs of any sizes into ascending order, NaN last', async () => {
    const rng = Random.fromSeed(11);
    for (const sizes of [
      [0],
      [5],
      [3, 0, 4],
      [20_000, 1, 8192, 8193, 0, 17_000],
      Array.from({ length: 40 }, (_, i) => i * 50),
    ]) {
      const runs = sizes.map((n) =>
        Float64Array.from({ length: n }, () =>
          rng.nextFloat() < 0.01 ? NaN : Math.floor(rng.nextFloat() * 1000) / 8,
        ).sort(),
      );
      const all = new Float64Array(runs.reduce((a, r) => a + r.length, 0));
      const bounds = [0];
      for (const r of runs) {
        all.set(r, bounds[bounds.length - 1]);
        bounds.push(bounds[bounds.length - 1]! + r.length);
      }
      const merged: number[] = [];
      await mergeSortedRuns(
        (start, out) => out.set(all.subarray(start, start + out.length)),
        bounds,
        (block, rank) => {
          expect(rank).toBe(merged.length);
          merged.push(...block);
        },
      );
      expect(merged).toEqual([...Float64Array.from(all).sort()]);
    }
  });

  it('encodes sorted chunks losslessly, every bit back, in about half the bytes', () => {
    const rng = Random.fromSeed(13);
    const normal = () => {
      const u = 1 - rng.nextFloat();
      return 50 + 10 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
    };
    const cases: number[][] = [
      [],
      [7],
      [3, 3, 3, 3],
      Array.from({ length: 4096 }, normal),
      Array.from({ length: 1000 }, () => Math.floor(rng.nextFloat() * 5) / 4),
      // Signs, zeros of both signs, subnormals, extremes and infinities.
      [-Infinity, -1e308, -1, -5e-324, -0, 0, 5e-324, 1e-310, 1, 1e308, Infinity],
      // NaN last (as a sort leaves it), and NaN with its sign bit set (kept as is).
      [1, 2, NaN, NaN],
      [1, 2, -NaN],
      // Neighbours one unit in the last place apart, and a jump too wide for a double difference.
      [1, 1 + Number.EPSILON, 1 + 2 * Number.EPSILON, 2 ** 60],
      [-(2 ** 1000), 2 ** 1000],
    ];
    for (const values of cases) {
      const sorted = Float64Array.from(values).sort();
      const back = decodeSortedChunk(encodeSortedChunk(sorted));
      expect(Buffer.from(back.buffer).equals(Buffer.from(sorted.buffer)), values.slice(0, 12).join(' ')).toBe(
        true,
      );
    }
    // A NaN whose sign bit is set: its bit pattern comes back too.
    const negNaN = new Float64Array([1, 2, 3]);
    new DataView(negNaN.buffer).setFloat64(16, NaN);
    new Uint8Array(negNaN.buffer)[23]! |= 0x80;
    const back = decodeSortedChunk(encodeSortedChunk(negNaN));
    expect(Buffer.from(back.buffer).equals(Buffer.from(negNaN.buffer))).toBe(true);
    // A chunk of a million sorted normal values: at most 5 bytes a value (8 stored as they are).
    const chunk = Float64Array.from({ length: 1_000_000 }, normal)
      .sort()
      .subarray(500_000, 500_000 + 4096);
    expect(encodeSortedChunk(chunk).length).toBeLessThan(5 * 4096);
    expect(() => decodeSortedChunk(encodeSortedChunk(chunk).subarray(0, 100))).toThrow(
      /malformed sorted chunk/,
    );
  });

  it('reads percentiles off sorted values as percentile_cont does', () => {
    const rng = Random.fromSeed(9);
    for (const n of [1, 2, 17, 1001]) {
      const values = Array.from({ length: n }, () => rng.nextFloat());
      const sorted = Float64Array.from(values).sort();
      for (const p of [0, 0.01, 0.5, 0.95, 0.99, 1])
        expect(percentileOfSorted(sorted, p)).toBe(reference(values, p));
    }
    expect(percentileOfSorted(new Float64Array(0), 0.5)).toBeNaN();
  });
});
