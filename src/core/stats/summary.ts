/**
 * The in-memory kernels of dataset analytics (DESIGN.md "Analytics"): exact selection and
 * `percentile_cont`, histogram edges, the top-k order, the placement of rows by minute and the
 * series buckets of every standard width, compensated moments, the per-metric pass of the
 * precompute over a {@link MetricSpill}, and the per-bucket reduction of one host's rows. No
 * SQL: the rows come from src/db/dataset-stats.ts, the use cases are in src/jobs/analytics.ts.
 *
 * ## Exactness of the in-memory figures
 * Percentiles are exact, not sketched: the values at rank ⌊p(n − 1)⌋ and the next one,
 * interpolated as PostgreSQL's `percentile_cont` does — per bucket found by selection
 * (quickselect), over the whole dataset read off the merge of sorted windows. Per-bucket figures
 * come from the rows of each bucket placed contiguously: rows arrive as runs of one minute each
 * (one run per minute when the partition is stored in time order, as the ingest writes it), and
 * the runs are placed by minute — every standard width is a whole number of minutes and aligned
 * to the epoch, so each bucket is a run of minutes. Means are sums over counts and the standard
 * deviation a two-pass compensated sum, equal to `avg` and `stddev_samp` up to rounding
 * (relative 1e-12 at 10 million rows).
 *
 * Histogram bin i holds the values v with edges[i] ≤ v < edges[i + 1] (the last bin also
 * v = hi), with edges[i] = lo + (hi − lo)·i/bins computed in float64; its count is the number
 * of values below edges[i + 1] less the number below edges[i] (for the last bin, at most hi),
 * ranks found by binary search among sorted values.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ValidationError } from '../errors.js';
import { Float64List } from '../float64-list.js';
import { mergeSortedRuns, percentileAt, type SortedColumn } from './sorted.js';
import type { MetricSpill } from './spill.js';

/** Percentiles computed for every metric: p1 and p99 bound the p1p99 range. */
export const PERCENTILES = [0.01, 0.5, 0.95, 0.99] as const;

/**
 * Rearranges `a[lo, hi)` so that `a[k]` holds the value of rank k − lo within the range, smaller
 * or equal values before it and greater or equal after it (Hoare partition around a
 * median-of-three pivot, iterating into the side that holds k).
 *
 * @param a - the values; only `[lo, hi)` is touched
 * @param k - the wanted position, lo ≤ k < hi
 */
export function selectInPlace(a: Float64Array, lo: number, hi: number, k: number): void {
  let l = lo;
  let r = hi - 1;
  while (r > l) {
    if (r - l < 16) {
      // Insertion sort finishes short ranges faster than partitioning.
      for (let i = l + 1; i <= r; i++) {
        const v = a[i]!;
        let j = i - 1;
        while (j >= l && a[j]! > v) {
          a[j + 1] = a[j]!;
          j--;
        }
        a[j + 1] = v;
      }
      return;
    }
    // Median of three as the pivot keeps sorted and reversed runs linear.
    const m = (l + r) >>> 1;
    const x = a[l]!;
    const y = a[m]!;
    const z = a[r]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = l;
    let j = r;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    // Now a[l..j] ≤ pivot ≤ a[i..r] and every value between j and i equals the pivot.
    if (k <= j) r = j;
    else if (k >= i) l = i;
    else return;
  }
}

/**
 * `percentile_cont(p)` of `a[lo, hi)` as PostgreSQL computes it: with h = p·(n − 1), the values
 * of rank ⌊h⌋ and ⌈h⌉ interpolated linearly. Reorders the range.
 *
 * @returns the percentile, or NaN for an empty range
 */
export function percentileContInPlace(a: Float64Array, lo: number, hi: number, p: number): number {
  const n = hi - lo;
  if (n <= 0) return NaN;
  const h = p * (n - 1);
  const first = Math.floor(h);
  const second = Math.ceil(h);
  selectInPlace(a, lo, hi, lo + first);
  const v0 = a[lo + first]!;
  if (second === first) return v0;
  // The next rank is the smallest value to the right of the selected one.
  let v1 = Infinity;
  for (let i = lo + first + 1; i < hi; i++) if (a[i]! < v1) v1 = a[i]!;
  return v0 + (h - first) * (v1 - v0);
}

/**
 * Edges of a histogram over [lo, hi]: bins + 1 non-decreasing values, edges[0] = lo,
 * edges[bins] = hi, edges[i] = lo + (hi − lo)·i/bins between. Where lo = hi there is one bin.
 *
 * @param lo - lower bound (finite)
 * @param hi - upper bound (finite, ≥ lo)
 * @param bins - number of bins, ≥ 1 (taken as 1 when lo = hi)
 */
export function histogramEdges(lo: number, hi: number, bins: number): number[] {
  if (lo === hi) return [lo, hi];
  const w = hi - lo;
  const edges = new Array<number>(bins + 1);
  edges[0] = lo;
  for (let i = 1; i < bins; i++) {
    // A span wider than the largest double is split before multiplying.
    edges[i] = Number.isFinite(w) ? lo + (w * i) / bins : lo + (hi / bins - lo / bins) * i;
  }
  edges[bins] = hi;
  return edges;
}

/**
 * {@link histogramEdges} of an explicit range, checked to be representable: a finite width
 * hi − lo and, where lo < hi, every edge finite and strictly increasing (bins that would not be
 * told apart, or edges past the largest double, are refused rather than answered).
 *
 * @throws ValidationError naming `range` and `bins` otherwise
 */
export function explicitHistogramEdges(lo: number, hi: number, bins: number): number[] {
  const edges = histogramEdges(lo, hi, bins);
  let why: string | null = null;
  if (!Number.isFinite(hi - lo)) why = 'its width hi − lo is past the largest double';
  else if (!edges.every(Number.isFinite)) why = 'some edges are past the largest double';
  else if (lo < hi && edges.some((e, i) => i > 0 && !(e > edges[i - 1]!)))
    why = 'some edges repeat (the bins are narrower than the doubles can tell apart)';
  if (why === null) return edges;
  const message = `range ${lo},${hi} cannot be split into bins=${bins} bins: ${why}; use a wider or narrower range, or fewer bins`;
  throw new ValidationError(message, [
    { path: 'query.range', message: why },
    { path: 'query.bins', message: `${bins} bins over ${lo},${hi}` },
  ]);
}

/** Most frequent first; ties by value, null last. */
export function compareCounts(a: [string | null, number], b: [string | null, number]): number {
  if (a[1] !== b[1]) return b[1] - a[1];
  if (a[0] === b[0]) return 0;
  if (a[0] === null) return 1;
  if (b[0] === null) return -1;
  return a[0] < b[0] ? -1 : 1;
}

/** Rows of the dataset placed by minute: minute m's rows are `[offsets[m], offsets[m + 1])`. */
export interface MinuteLayout {
  /** Minutes since the epoch that hold rows, ascending. */
  minutes: Float64Array;
  /** Start of each minute's rows, plus the total at the end. */
  offsets: Float64Array;
  /** Anomalous rows per minute. */
  anomalies: Float64Array;
  /**
   * When the rows did not arrive minute by minute (in time order), how to place them: runs of
   * arrival order (start, length) listed in placement order. Null when arrival order is placed.
   */
  gather: { start: Float64Array; length: Float64Array } | null;
}

/** The placement by minute of rows that arrived as runs (minute, start), see {@link MinuteLayout}. */
export function layoutOfRuns(
  runMinute: Float64Array,
  runStart: Float64Array,
  runAnomalies: Float64Array,
  n: number,
): MinuteLayout {
  const r = runMinute.length;
  let ordered = true;
  for (let i = 1; i < r && ordered; i++) if (runMinute[i]! <= runMinute[i - 1]!) ordered = false;
  if (ordered) {
    const offsets = new Float64Array(r + 1);
    offsets.set(runStart);
    offsets[r] = n;
    return { minutes: runMinute.slice(), offsets, anomalies: runAnomalies.slice(), gather: null };
  }
  // Runs by minute, then arrival (a stable order, so a minute's rows keep their arrival order).
  const order = Array.from({ length: r }, (_, i) => i).sort((a, b) => runMinute[a]! - runMinute[b]! || a - b);
  const start = new Float64Array(r);
  const length = new Float64Array(r);
  const minutes = new Float64List();
  const offsets = new Float64List();
  const anomalies = new Float64List();
  let at = 0;
  order.forEach((i, p) => {
    const len = (i + 1 < r ? runStart[i + 1]! : n) - runStart[i]!;
    start[p] = runStart[i]!;
    length[p] = len;
    if (minutes.length === 0 || minutes.data[minutes.length - 1] !== runMinute[i]) {
      minutes.push(runMinute[i]!);
      offsets.push(at);
      anomalies.push(0);
    }
    anomalies.data[anomalies.length - 1]! += runAnomalies[i]!;
    at += len;
  });
  offsets.push(n);
  return {
    minutes: minutes.view().slice(),
    offsets: offsets.view().slice(),
    anomalies: anomalies.view().slice(),
    gather: { start, length },
  };
}

/**
 * The minutes of rows as they arrive (microseconds since the epoch, in any order), recorded as
 * runs of arrival order, from which the placement by minute follows ({@link MinuteRuns.layout}:
 * no sort of the rows — they arrive in time order when stored so, and otherwise whole runs are
 * moved); also the time range and the anomalous rows.
 */
export class MinuteRuns {
  readonly #runMinute = new Float64List();
  readonly #runStart = new Float64List();
  readonly #runAnomalies = new Float64List();
  #current = NaN;
  #anomalous = 0;
  /** Rows added. */
  rows = 0;
  /** Earliest and latest instant added (µs since the epoch; ±Infinity before any row). */
  tsMin = Infinity;
  tsMax = -Infinity;
  /** Anomalous rows added. */
  anomalies = 0;

  /** Adds the next row in arrival order. */
  add(us: number, anomalous: boolean): void {
    if (us < this.tsMin) this.tsMin = us;
    if (us > this.tsMax) this.tsMax = us;
    const minute = Math.floor(us / 60_000_000);
    if (minute !== this.#current) {
      if (this.#runMinute.length > 0) this.#runAnomalies.push(this.#anomalous);
      this.#runMinute.push(minute);
      this.#runStart.push(this.rows);
      this.#current = minute;
      this.#anomalous = 0;
    }
    if (anomalous) {
      this.#anomalous++;
      this.anomalies++;
    }
    this.rows++;
  }

  /** The placement by minute of the rows added (call once, after the last row). */
  layout(): MinuteLayout {
    if (this.#runMinute.length > 0) this.#runAnomalies.push(this.#anomalous);
    return layoutOfRuns(this.#runMinute.view(), this.#runStart.view(), this.#runAnomalies.view(), this.rows);
  }
}

/**
 * Metric j's values of the placed positions [p0, p1) (rows placed by minute), read from its spill
 * file into `out`: one read when the rows arrived in time order, else one per run of arrival
 * order (`cursor` carries the run to start from between consecutive windows).
 */
export function readPlaced(
  spill: MetricSpill,
  j: number,
  layout: MinuteLayout,
  p0: number,
  p1: number,
  out: Float64Array,
  cursor: { run: number; at: number },
): void {
  if (!layout.gather) {
    spill.read(j, out.subarray(0, p1 - p0), p0);
    return;
  }
  // Runs lie inside minutes and windows are whole minutes, so no run straddles p1.
  const { start, length } = layout.gather;
  while (cursor.at < p1) {
    const len = length[cursor.run]!;
    spill.read(j, out.subarray(cursor.at - p0, cursor.at - p0 + len), start[cursor.run]);
    cursor.at += len;
    cursor.run++;
  }
}

/** Values a window of the per-metric pass holds at most, unless one bucket alone holds more. */
export const WINDOW_VALUES = 1 << 20;

/**
 * Windows of the per-metric pass, as minute-slot boundaries (0 first, the slot count last): each
 * a run of whole buckets of the coarsest stored width (so whole buckets of every width: the
 * widths nest), of at most `windowValues` values unless one bucket holds more.
 */
export function windowsOf(layout: MinuteLayout, kept: readonly Level[], windowValues: number): number[] {
  const nm = layout.minutes.length;
  const coarsest = kept[kept.length - 1];
  const units = coarsest ? coarsest.firstSlot : Float64Array.from({ length: nm + 1 }, (_, i) => i);
  const off = layout.offsets;
  const cuts = [0];
  for (let u = 1; u < units.length; u++) {
    const last = cuts[cuts.length - 1]!;
    if (off[units[u]!]! - off[last]! > windowValues && units[u - 1]! > last) cuts.push(units[u - 1]!);
  }
  if (nm > 0) cuts.push(nm);
  return cuts;
}

/** Per-metric series columns of one stored width, filled window by window. */
export interface LevelFigures {
  level: Level;
  mean: Float64Array;
  min: Float64Array;
  max: Float64Array;
  p95: Float64Array;
  /** Next bucket to fill. */
  next: number;
}

/**
 * The figures of one window, slots [s0, s1) whose values (placed by minute, from position p0)
 * are `values`: every stored width's buckets that start in it, from per-minute sums, minima and
 * maxima, and p95 by selection inside each bucket (which reorders the bucket's values only).
 */
export function windowFigures(
  values: Float64Array,
  p0: number,
  layout: MinuteLayout,
  s0: number,
  s1: number,
  levels: LevelFigures[],
  minute: { sum: Float64Array; min: Float64Array; max: Float64Array },
): void {
  const off = layout.offsets;
  for (let s = s0; s < s1; s++) {
    let t = 0;
    let mn = Infinity;
    let mx = -Infinity;
    const hi = off[s + 1]! - p0;
    for (let i = off[s]! - p0; i < hi; i++) {
      const v = values[i]!;
      t += v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    minute.sum[s] = t;
    minute.min[s] = mn;
    minute.max[s] = mx;
  }
  // Finest first: a coarser bucket's selection may reorder what a finer one has used.
  for (const f of levels) {
    const first = f.level.firstSlot;
    for (; f.next < f.level.starts.length && first[f.next]! < s1; f.next++) {
      const b = f.next;
      const a0 = first[b]!;
      const a1 = first[b + 1]!;
      let sum = 0;
      let mn = Infinity;
      let mx = -Infinity;
      for (let s = a0; s < a1; s++) {
        sum += minute.sum[s]!;
        if (minute.min[s]! < mn) mn = minute.min[s]!;
        if (minute.max[s]! > mx) mx = minute.max[s]!;
      }
      const lo = off[a0]! - p0;
      const hi = off[a1]! - p0;
      f.mean[b] = sum / (hi - lo);
      f.min[b] = mn;
      f.max[b] = mx;
      f.p95[b] = percentileContInPlace(values, lo, hi, 0.95);
    }
  }
}

/**
 * Min, max, and compensated sums (Neumaier) of values added block by block, then of the squared
 * deviations from the mean in a second pass: mean and sample standard deviation at least as
 * accurate as PostgreSQL's `avg` and `stddev_samp`.
 */
export class Moments {
  n = 0;
  min = Infinity;
  max = -Infinity;
  #s = 0;
  #c = 0;
  #q = 0;
  #cq = 0;

  add(values: Float64Array): void {
    let { min: mn, max: mx } = this;
    let s = this.#s;
    let c = this.#c;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
      const t = s + v;
      c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
      s = t;
    }
    this.n += values.length;
    this.min = mn;
    this.max = mx;
    this.#s = s;
    this.#c = c;
  }

  get mean(): number {
    return this.n > 0 ? (this.#s + this.#c) / this.n : NaN;
  }

  /** Second pass: the squared deviations from {@link Moments.mean} of every value again. */
  addSquares(values: Float64Array): void {
    const mean = this.mean;
    let q = this.#q;
    let cq = this.#cq;
    for (let i = 0; i < values.length; i++) {
      const d = values[i]! - mean;
      const x = d * d;
      const t = q + x;
      cq += q >= x ? q - t + x : x - t + q;
      q = t;
    }
    this.#q = q;
    this.#cq = cq;
  }

  result() {
    const n = this.n;
    return {
      min: n > 0 ? this.min : NaN,
      max: n > 0 ? this.max : NaN,
      mean: this.mean,
      stddev: n > 1 ? Math.sqrt((this.#q + this.#cq) / (n - 1)) : NaN,
    };
  }
}

/** Min, max, mean and sample standard deviation of `values` (see {@link Moments}). */
export function moments(values: Float64Array) {
  const m = new Moments();
  m.add(values);
  m.addSquares(values);
  return m.result();
}

/** What the per-metric pass finds of one metric. */
export interface MetricFigures {
  moments: ReturnType<Moments['result']>;
  /** Percentiles at {@link PERCENTILES}. */
  percentiles: number[];
  /** The sorted values' chunk index (the values themselves are in the metric's spill file). */
  sorted: SortedColumn;
}

/**
 * One metric's pass (memory: one window of values and a buffer per window, whatever the row
 * count): window by window, the placed values give the moments' sums and every stored width's
 * bucket figures, and are sorted and written to the scratch file as a run; the runs are then
 * merged back into the metric's spill file, ascending, which gives the squared deviations, the
 * percentiles and the chunk index on the way.
 */
export async function metricPass(
  spill: MetricSpill,
  j: number,
  layout: MinuteLayout,
  cuts: readonly number[],
  window: Float64Array,
  levels: LevelFigures[],
  chunk: number,
): Promise<MetricFigures> {
  const off = layout.offsets;
  const nm = layout.minutes.length;
  const minute = { sum: new Float64Array(nm), min: new Float64Array(nm), max: new Float64Array(nm) };
  for (const f of levels) f.next = 0;
  const m = new Moments();
  const cursor = { run: 0, at: 0 };
  const bounds: number[] = [];
  for (let w = 0; w + 1 < cuts.length; w++) {
    const p0 = off[cuts[w]!]!;
    const p1 = off[cuts[w + 1]!]!;
    const values = window.subarray(0, p1 - p0);
    readPlaced(spill, j, layout, p0, p1, values, cursor);
    m.add(values);
    windowFigures(values, p0, layout, cuts[w]!, cuts[w + 1]!, levels, minute);
    values.sort();
    spill.write(spill.scratch, values, p0);
    bounds.push(p0);
    // A server answers questions meanwhile: a window is a few tens of milliseconds of work.
    await yieldToLoop();
  }
  const n = m.n;
  bounds.push(n);

  // Merge: squared deviations, percentile ranks and the chunk index on the way.
  const wanted = new Map<number, number>();
  for (const p of PERCENTILES) {
    const h = p * (n - 1);
    wanted.set(Math.floor(h), NaN);
    wanted.set(Math.ceil(h), NaN);
  }
  const count = Math.ceil(n / chunk);
  const sorted: SortedColumn = {
    n,
    starts: new Float64Array(count),
    firsts: new Float64Array(count),
    lasts: new Float64Array(count),
    chunks: new Map(),
  };
  await mergeSortedRuns(
    (start, out) => spill.read(spill.scratch, out, start),
    bounds,
    (block, rank) => {
      m.addSquares(block);
      for (const r of wanted.keys())
        if (r >= rank && r < rank + block.length) wanted.set(r, block[r - rank]!);
      for (let k = Math.ceil(rank / chunk); k * chunk < rank + block.length; k++) {
        sorted.starts[k] = k * chunk;
        sorted.firsts[k] = block[k * chunk - rank]!;
      }
      for (let k = Math.floor(rank / chunk); k < count && k * chunk < rank + block.length; k++) {
        const last = Math.min(n, (k + 1) * chunk) - 1;
        if (last < rank + block.length) sorted.lasts[k] = block[last - rank]!;
      }
      spill.write(j, block, rank);
    },
  );
  return {
    moments: m.result(),
    percentiles: PERCENTILES.map((p) => percentileAt(n, p, (r) => wanted.get(r)!)),
    sorted,
  };
}

/** One standard bucket width's series: bucket starts and, per bucket, minute-slot ranges. */
export interface Level {
  seconds: number;
  /** Buckets from the first to the last (empty ones included): what the cap applies to. */
  span: number;
  /** Bucket starts, epoch seconds. */
  starts: Float64Array;
  /** First minute slot of each bucket, plus the number of slots at the end. */
  firstSlot: Float64Array;
}

export function levelOf(layout: MinuteLayout, seconds: number): Level {
  const perBucket = seconds / 60;
  const starts = new Float64List();
  const firstSlot = new Float64List();
  let current = NaN;
  const m = layout.minutes;
  for (let i = 0; i < m.length; i++) {
    const b = Math.floor(m[i]! / perBucket);
    if (b !== current) {
      current = b;
      starts.push(b * seconds);
      firstSlot.push(i);
    }
  }
  firstSlot.push(m.length);
  const s = starts.view();
  const span = s.length === 0 ? 0 : (s[s.length - 1]! - s[0]!) / seconds + 1;
  return { seconds, span, starts: s.slice(), firstSlot: firstSlot.view().slice() };
}

/** A plain array of a typed array's values (a filled loop: several times faster than Array.from). */
export function toArray(a: Float64Array): number[] {
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]!;
  return out;
}

/** Rows and anomalous rows of each bucket of `level`. */
export function levelCounts(
  layout: MinuteLayout,
  level: Level,
): { count: Float64Array; anomalies: Float64Array } {
  const count = new Float64Array(level.starts.length);
  const anomalies = new Float64Array(level.starts.length);
  for (let b = 0; b < count.length; b++) {
    count[b] = layout.offsets[level.firstSlot[b + 1]!]! - layout.offsets[level.firstSlot[b]!]!;
    for (let s = level.firstSlot[b]!; s < level.firstSlot[b + 1]!; s++) anomalies[b]! += layout.anomalies[s]!;
  }
  return { count, anomalies };
}

/** An aggregate of one bucket's values. */
export type BucketAgg = 'mean' | 'min' | 'max' | 'p95';

/**
 * One host's time series, reduced one bucket at a time from rows added in time order — mean,
 * min, max and p95 by selection, as the precompute does — so memory holds one bucket's values.
 */
export class HostBuckets {
  /** Bucket starts, epoch seconds; rows and anomalous rows per bucket. */
  readonly starts: number[] = [];
  readonly counts: number[] = [];
  readonly anomalies: number[] = [];
  /** Per bucket, by `metric.agg`. */
  readonly values = new Map<string, number[]>();
  readonly #seconds: number;
  readonly #widthUs: number;
  readonly #k: number;
  readonly #outs: number[][][];
  /** Aggregate codes, so that the per-bucket loop compares numbers. */
  readonly #codes: number[];
  #buffers: Float64Array[];
  #current = NaN;
  #n = 0;
  #anomalous = 0;

  /**
   * @param metrics - the metrics whose values {@link HostBuckets.add} is given, in that order
   * @param aggs - the aggregates wanted of each
   * @param seconds - the bucket width (buckets aligned to the epoch)
   */
  constructor(metrics: readonly string[], aggs: readonly BucketAgg[], seconds: number) {
    for (const m of metrics) for (const a of aggs) this.values.set(`${m}.${a}`, []);
    this.#outs = metrics.map((m) => aggs.map((a) => this.values.get(`${m}.${a}`)!));
    this.#buffers = metrics.map(() => new Float64Array(1024));
    this.#k = metrics.length;
    this.#seconds = seconds;
    this.#widthUs = seconds * 1_000_000;
    this.#codes = aggs.map((a) => (a === 'mean' ? 0 : a === 'min' ? 1 : a === 'max' ? 2 : 3));
  }

  /** Adds the next row in time order (µs since the epoch; its metrics' values in order). */
  add(us: number, anomalous: boolean, values: Float64Array): void {
    const b = Math.floor(us / this.#widthUs);
    if (b !== this.#current) {
      this.finish();
      this.#current = b;
    }
    const n = this.#n;
    if (n === this.#buffers[0]?.length) {
      this.#buffers = this.#buffers.map((old) => {
        const grown = new Float64Array(old.length * 2);
        grown.set(old);
        return grown;
      });
    }
    for (let j = 0; j < this.#k; j++) this.#buffers[j]![n] = values[j]!;
    if (anomalous) this.#anomalous++;
    this.#n = n + 1;
  }

  /** Closes the current bucket (call after the last row). */
  finish(): void {
    const n = this.#n;
    if (n === 0) return;
    this.starts.push(this.#current * this.#seconds);
    this.counts.push(n);
    this.anomalies.push(this.#anomalous);
    const codes = this.#codes;
    for (let j = 0; j < this.#k; j++) {
      const v = this.#buffers[j]!;
      const out = this.#outs[j]!;
      if (n === 1) {
        // One row: every aggregate is its value (as percentile_cont of one value is).
        for (let c = 0; c < codes.length; c++) out[c]!.push(v[0]!);
        continue;
      }
      let sum = 0;
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = 0; i < n; i++) {
        const x = v[i]!;
        sum += x;
        if (x < mn) mn = x;
        if (x > mx) mx = x;
      }
      for (let c = 0; c < codes.length; c++) {
        const code = codes[c]!;
        out[c]!.push(
          code === 0 ? sum / n : code === 1 ? mn : code === 2 ? mx : percentileContInPlace(v, 0, n, 0.95),
        );
      }
    }
    this.#n = 0;
    this.#anomalous = 0;
  }
}
