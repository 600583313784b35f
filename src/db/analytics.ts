/**
 * Dataset analytics (DESIGN.md "Analytics"): summary, top-k values, time series and histograms
 * of a dataset's telemetry, all exact.
 *
 * ## Two paths
 * - **Precomputed.** {@link computeDatasetStats} runs once when a dataset completes (or on the
 *   first question, when it has not run). It reads the rows in few passes — one aggregate for the
 *   summary's moments, one grouping-sets count for the top-k columns and the rows per minute, and
 *   a binary COPY of the metrics — and stores the summary, every value count of the top-k columns,
 *   the unfiltered time series of every metric at every standard bucket width (mean, min, max,
 *   p95, count, anomalies), and histograms at the standard ranges (minmax, p1p99) and bin numbers
 *   ({@link STANDARD_BINS}) in `dataset_stats`. Unfiltered questions at those settings are
 *   answered from there without touching the rows.
 * - **On demand.** A question with a host, a time range, an explicit range or another bin number
 *   is answered by one or two SQL aggregates over the rows (`percentile_cont`, `date_bin`,
 *   `width_bucket`), using the per-dataset indexes of {@link createTelemetryIndexes}.
 *
 * ## Exactness of the precomputed figures
 * Percentiles are computed in memory by selection (quickselect), not by sketches: the value at
 * rank ⌊p(n − 1)⌋ and the next one are found exactly and interpolated as PostgreSQL's
 * `percentile_cont` does. Per-bucket figures come from the rows of each bucket placed
 * contiguously (a counting sort by minute: every standard width is a whole number of minutes and
 * aligned to the epoch, so each bucket is a run of minutes). Means are sums over counts, equal to
 * `avg` up to rounding (relative 1e-12 at 10 million rows).
 *
 * Histogram bin i holds the values v with edges[i] ≤ v < edges[i + 1] (the last bin also
 * v = hi), with edges[i] = lo + (hi − lo)·i/bins computed in float64: the same edges decide in
 * memory and in SQL (`width_bucket` over the lower edges), so both paths give the same counts.
 *
 * Answers are wire documents (snake_case, src/contract/analytics.ts): they go out as they are.
 */
import { endianness } from 'node:os';
import type { Readable } from 'node:stream';
import { to as copyTo } from 'pg-copy-streams';
import {
  ANALYTICS_LIMITS,
  BUCKET_NAMES,
  BUCKET_SECONDS,
  type Histogram,
  type HistogramQuery,
  type MetricSummary,
  type Summary,
  type Timeseries,
  type TimeseriesAgg,
  type TimeseriesQuery,
  type TopK,
  type TopKColumn,
} from '../contract/analytics.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { ANOMALY_TYPES, METRICS, type MetricName } from '../core/types.js';
import { toDatabaseError } from './errors.js';
import type { Pool, PoolClient, Queryable } from './pool.js';

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/** Layout version of `dataset_stats`; rows of another version are computed again when read. */
export const STATS_VERSION = 1;

/** Bin numbers whose histograms are precomputed (at both standard ranges, for every metric). */
export const STANDARD_BINS = [10, 20, 40, 50, 100] as const;

/** Percentiles computed for every metric: p1 and p99 bound the p1p99 range. */
const PERCENTILES = [0.01, 0.5, 0.95, 0.99] as const;

/** Aggregates stored per bucket and metric (count and anomalies are stored once per bucket). */
const STORED_AGGS = ['mean', 'min', 'max', 'p95'] as const;

/** Advisory-lock class of the stats computation (the second key is the dataset's hash). */
const STATS_LOCK_CLASS = 70_411;

/** Seconds between the Unix epoch and PostgreSQL's (2000-01-01), the origin of binary `ts`. */
const PG_EPOCH_S = 946_684_800;

/** Options of {@link computeDatasetStats}. */
export interface ComputeStatsOptions {
  /**
   * Metrics read per COPY pass (1–8, default 8): memory is about 8 bytes × rows × this, so 8 at
   * 10 million rows holds 640 MB for the duration; 4 halves that at the cost of a second pass.
   */
  metricsPerPass?: number;
  /** Compute again even when stats of the current version exist (default false). */
  force?: boolean;
  /** Told each stage's name and duration in ms as it ends (for benchmarks and logs). */
  onStage?: (stage: string, ms: number) => void;
}

// ---------------------------------------------------------------------------------------------
// Numeric helpers (exported for tests)
// ---------------------------------------------------------------------------------------------

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
 * Several percentiles of `a[lo, hi)` at once (ascending `ps`), each selection working on the
 * part right of the previous one. Reorders the range.
 */
function percentilesInPlace(a: Float64Array, lo: number, hi: number, ps: readonly number[]): number[] {
  const n = hi - lo;
  const out: number[] = [];
  let from = lo;
  for (const p of ps) {
    if (n <= 0) {
      out.push(NaN);
      continue;
    }
    const h = p * (n - 1);
    const first = Math.floor(h);
    const second = Math.ceil(h);
    selectInPlace(a, from, hi, lo + first);
    from = lo + first;
    const v0 = a[lo + first]!;
    if (second === first) {
      out.push(v0);
      continue;
    }
    let v1 = Infinity;
    for (let i = lo + first + 1; i < hi; i++) if (a[i]! < v1) v1 = a[i]!;
    out.push(v0 + (h - first) * (v1 - v0));
  }
  return out;
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
 * The bin of `v` among `edges` (from {@link histogramEdges}): the largest i < bins with
 * edges[i] ≤ v, for lo ≤ v ≤ hi; −1 below lo and −2 above hi.
 */
export function binIndex(edges: ArrayLike<number>, v: number): number {
  const bins = edges.length - 1;
  const lo = edges[0]!;
  const hi = edges[bins]!;
  if (v < lo) return -1;
  if (v > hi || Number.isNaN(v)) return -2;
  if (v === hi) return bins - 1;
  // Guess by proportion, then step to the exact bin by comparing with the edges themselves.
  let i = Math.floor(((v - lo) / (hi - lo)) * bins);
  if (!(i >= 0)) i = 0;
  if (i > bins - 1) i = bins - 1;
  while (i < bins - 1 && edges[i + 1]! <= v) i++;
  while (i > 0 && edges[i]! > v) i--;
  return i;
}

// ---------------------------------------------------------------------------------------------
// Partitions and indexes
// ---------------------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A dataset id checked to be a lower-case UUID (so that it may appear as a SQL literal). */
function checkedId(datasetId: string): string {
  const id = datasetId.toLowerCase();
  if (!UUID.test(id))
    throw new ValidationError(`dataset id must be a UUID; got ${JSON.stringify(datasetId)}`);
  return id;
}

/**
 * Creates the indexes analytics questions with a filter use on a dataset's partition, if they
 * are missing: `(host_id, ts)` for one host and `(ts)` for a time range, then refreshes the
 * partition's planner statistics. Call it after the partition is filled (COPY, then indexes, is
 * far cheaper than indexing during the load); {@link computeDatasetStats} calls it too.
 *
 * @param client - a connection (not inside a transaction that must stay short: building the
 *   indexes reads the whole partition)
 * @param datasetId - the dataset's UUID
 * @throws NotFoundError when the dataset has no partition
 */
export async function createTelemetryIndexes(client: Queryable, datasetId: string): Promise<void> {
  const id = checkedId(datasetId);
  try {
    // Find the partition by its bound, whatever its name; index names come from the id alone.
    const { rows } = await client.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name
         FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = 'host_telemetry_archival'::regclass
          AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', $1::text)`,
      [id],
    );
    const partition = rows[0]?.name;
    if (partition === undefined) throw new NotFoundError('telemetry partition of dataset', id);
    const hex = id.replaceAll('-', '');
    await client.query(`CREATE INDEX IF NOT EXISTS "hta_${hex}_host_ts" ON ${partition} (host_id, ts)`);
    await client.query(`CREATE INDEX IF NOT EXISTS "hta_${hex}_ts" ON ${partition} (ts)`);
    await client.query(`ANALYZE ${partition}`);
  } catch (err) {
    throw toDatabaseError(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Dataset state
// ---------------------------------------------------------------------------------------------

/** Checks that the dataset exists (else 404) and is completed (else 409). */
async function requireCompleted(q: Queryable, id: string): Promise<void> {
  const { rows } = await q.query<{ status: string }>('SELECT status FROM datasets WHERE id = $1', [id]);
  const status = rows[0]?.status;
  if (status === undefined) throw new NotFoundError('dataset', id);
  if (status !== 'completed') {
    throw new ConflictError(`dataset ${id} is ${status}; analytics need a completed dataset`, { status });
  }
}

interface StoredHistogram {
  lo: number | null;
  hi: number | null;
  /** Values below lo and above hi (none for minmax). */
  below: number;
  above: number;
  /** Counts per bin, by bin number. */
  counts: Record<string, number[]>;
}

/** What `dataset_stats` holds for a dataset. */
interface StoredStats {
  summary: Summary;
  topk: Record<TopKColumn, [string | null, number][]>;
  histograms: Record<MetricName, { minmax: StoredHistogram; p1p99: StoredHistogram }>;
  seriesBuckets: Record<string, number | null>;
}

async function readStats(q: Queryable, id: string): Promise<StoredStats | null> {
  const { rows } = await q.query<{
    summary: Summary;
    topk: StoredStats['topk'];
    histograms: StoredStats['histograms'];
    series_buckets: StoredStats['seriesBuckets'];
  }>(
    `SELECT summary, topk, histograms, series_buckets FROM dataset_stats WHERE dataset_id = $1 AND version = $2`,
    [id, STATS_VERSION],
  );
  const r = rows[0];
  if (!r) return null;
  return { summary: r.summary, topk: r.topk, histograms: r.histograms, seriesBuckets: r.series_buckets };
}

/** The dataset's stats: read, or computed first when missing. */
async function statsOf(pool: Pool, datasetId: string): Promise<StoredStats> {
  const id = checkedId(datasetId);
  await requireCompleted(pool, id);
  const stored = await readStats(pool, id);
  if (stored) return stored;
  await computeDatasetStats(pool, id);
  const computed = await readStats(pool, id);
  if (!computed) throw new ConflictError(`dataset ${id} changed while its analytics were computed`);
  return computed;
}

// ---------------------------------------------------------------------------------------------
// Precompute
// ---------------------------------------------------------------------------------------------

const num = (v: unknown): number => (v === null || v === undefined ? NaN : Number(v));
const orNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** Stage 1: count, time range and per-metric moments in one aggregate. */
async function summaryMoments(client: PoolClient, id: string) {
  const cols = METRICS.map(
    (m, j) => `min(${m}) AS min${j}, max(${m}) AS max${j}, avg(${m}) AS avg${j}, stddev_samp(${m}) AS sd${j}`,
  ).join(', ');
  const { rows } = await client.query<Record<string, unknown>>(
    `SELECT count(*) AS n, min(ts) AS ts_min, max(ts) AS ts_max,
            count(*) FILTER (WHERE is_anomaly) AS anomalies, ${cols}
       FROM host_telemetry_archival WHERE dataset_id = $1`,
    [id],
  );
  return rows[0]!;
}

/**
 * Stage 2: value counts of every top-k column and rows per minute (epoch-aligned), in one
 * grouping-sets pass. The minute counts lay out the in-memory arrays of stage 3.
 */
async function valueCounts(client: PoolClient, id: string) {
  await client.query(`SET LOCAL work_mem = '256MB'`);
  const { rows } = await client.query<{
    g: number;
    host_id: string | null;
    project_id: string | null;
    region: string | null;
    anomaly_type: string | null;
    minute: number | null;
    n: string;
  }>(
    `SELECT GROUPING(host_id, project_id, region, anomaly_type, minute) AS g,
            host_id, project_id, region, anomaly_type,
            (extract(epoch FROM minute) / 60)::float8 AS minute, count(*) AS n
       FROM (SELECT host_id, project_id, region, anomaly_type,
                    date_bin('1 minute', ts, timestamptz '1970-01-01 00:00:00+00') AS minute
               FROM host_telemetry_archival WHERE dataset_id = $1) t
      GROUP BY GROUPING SETS ((host_id), (project_id), (region), (anomaly_type), (minute))`,
    [id],
  );
  const topk: StoredStats['topk'] = { region: [], project_id: [], host_id: [], anomaly_type: [] };
  const minutes: [number, number][] = [];
  // GROUPING's bits, highest first: host_id, project_id, region, anomaly_type, minute; a set
  // leaves its own column's bit clear.
  for (const r of rows) {
    const n = Number(r.n);
    if (r.g === 0b01111) topk.host_id.push([r.host_id, n]);
    else if (r.g === 0b10111) topk.project_id.push([r.project_id, n]);
    else if (r.g === 0b11011) topk.region.push([r.region, n]);
    else if (r.g === 0b11101) topk.anomaly_type.push([r.anomaly_type, n]);
    else if (r.g === 0b11110) minutes.push([Number(r.minute), n]);
  }
  for (const list of Object.values(topk)) list.sort(compareCounts);
  minutes.sort((a, b) => a[0] - b[0]);
  return { topk, minutes };
}

/** Most frequent first; ties by value, null last. */
function compareCounts(a: [string | null, number], b: [string | null, number]): number {
  if (a[1] !== b[1]) return b[1] - a[1];
  if (a[0] === b[0]) return 0;
  if (a[0] === null) return 1;
  if (b[0] === null) return -1;
  return a[0] < b[0] ? -1 : 1;
}

/** Rows of the dataset placed by minute: minute m's rows are `[offsets[m], offsets[m + 1])`. */
interface MinuteLayout {
  /** Minutes since the epoch that hold rows, ascending. */
  minutes: Float64Array;
  /** Start of each minute's rows, plus the total at the end. */
  offsets: Float64Array;
}

function minuteLayout(minutes: [number, number][]): MinuteLayout {
  const layout: MinuteLayout = {
    minutes: new Float64Array(minutes.length),
    offsets: new Float64Array(minutes.length + 1),
  };
  let at = 0;
  minutes.forEach(([m, n], i) => {
    layout.minutes[i] = m;
    layout.offsets[i] = at;
    at += n;
  });
  layout.offsets[minutes.length] = at;
  return layout;
}

/**
 * Stage 3: one binary COPY of `ts`, `is_anomaly` and some metrics, each value written at its
 * minute's next free place, so that every minute's (and so every bucket's) values are contiguous.
 *
 * @returns the metric arrays (in `metrics` order) and, per minute, the anomalous rows
 */
async function readByMinute(
  client: PoolClient,
  id: string,
  metrics: readonly MetricName[],
  layout: MinuteLayout,
) {
  const nRows = layout.offsets[layout.minutes.length]!;
  const values = metrics.map(() => new Float64Array(nRows));
  const anomalies = new Float64Array(layout.minutes.length);
  const next = Float64Array.from(layout.offsets.subarray(0, layout.minutes.length));
  const k = metrics.length;
  // Every column is NOT NULL and fixed-width, so each tuple has the same size.
  const tupleBytes = 2 + (4 + 8) + (4 + 1) + k * (4 + 8);
  let slot = 0;
  const findSlot = (minute: number): number => {
    // Rows arrive mostly in time order: try the current minute and the next before searching.
    if (layout.minutes[slot] === minute) return slot;
    if (layout.minutes[slot + 1] === minute) return ++slot;
    let lo = 0;
    let hi = layout.minutes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = layout.minutes[mid]!;
      if (v === minute) return (slot = mid);
      if (v < minute) lo = mid + 1;
      else hi = mid - 1;
    }
    throw new ConflictError(`dataset ${id} changed while its analytics were computed`);
  };

  const sql = `COPY (SELECT ts, is_anomaly, ${metrics.join(', ')} FROM host_telemetry_archival
                      WHERE dataset_id = '${id}') TO STDOUT (FORMAT binary)`;
  let stream: Readable;
  try {
    stream = client.query(copyTo(sql));
  } catch (err) {
    throw toDatabaseError(err);
  }
  let carry: Buffer | null = null;
  let headerDone = false;
  let seen = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      let o = 0;
      if (!headerDone) {
        // Signature (11 bytes), flags (4), header extension length (4) and extension.
        if (buf.length < 19) {
          carry = buf;
          continue;
        }
        o = 19 + buf.readUInt32BE(15);
        headerDone = true;
      }
      while (buf.length - o >= tupleBytes) {
        const fields = buf.readInt16BE(o);
        if (fields === -1) break; // trailer
        if (fields !== 2 + k)
          throw new Error(`COPY of dataset ${id}: ${fields} fields in a row, expected ${2 + k}`);
        // ts: int64 microseconds since 2000-01-01, exact in a double for ±285 years.
        const us = buf.readInt32BE(o + 6) * 4_294_967_296 + buf.readUInt32BE(o + 10);
        const minute = Math.floor(us / 60_000_000) + PG_EPOCH_S / 60;
        const s = findSlot(minute);
        const at = next[s]!++;
        if (buf[o + 18] === 1) anomalies[s]! += 1;
        let f = o + 19;
        for (let j = 0; j < k; j++) {
          values[j]![at] = buf.readDoubleBE(f + 4);
          f += 12;
        }
        o += tupleBytes;
        seen++;
      }
      carry = o < buf.length ? buf.subarray(o) : null;
      if (carry && carry.length >= 2 && carry.readInt16BE(0) === -1) carry = null;
    }
  } catch (err) {
    stream.destroy();
    throw toDatabaseError(err);
  }
  if (seen !== nRows) throw new ConflictError(`dataset ${id} changed while its analytics were computed`);
  return { values, anomalies };
}

/** One standard bucket width's series: bucket starts and, per bucket, minute-slot ranges. */
interface Level {
  seconds: number;
  /** Buckets from the first to the last (empty ones included): what the cap applies to. */
  span: number;
  /** Bucket starts, epoch seconds. */
  starts: Float64Array;
  /** First minute slot of each bucket, plus the number of slots at the end. */
  firstSlot: Float64Array;
}

function levelOf(layout: MinuteLayout, seconds: number): Level {
  const perBucket = seconds / 60;
  const starts: number[] = [];
  const firstSlot: number[] = [];
  let current = NaN;
  layout.minutes.forEach((m, i) => {
    const b = Math.floor(m / perBucket);
    if (b !== current) {
      current = b;
      starts.push(b * seconds);
      firstSlot.push(i);
    }
  });
  firstSlot.push(layout.minutes.length);
  const span = starts.length === 0 ? 0 : (starts[starts.length - 1]! - starts[0]!) / seconds + 1;
  return { seconds, span, starts: Float64Array.from(starts), firstSlot: Float64Array.from(firstSlot) };
}

/** Per-bucket mean, min, max and p95 of one metric at one level (reorders inside buckets). */
function bucketFigures(values: Float64Array, layout: MinuteLayout, level: Level) {
  const nb = level.starts.length;
  const out = {
    mean: new Float64Array(nb),
    min: new Float64Array(nb),
    max: new Float64Array(nb),
    p95: new Float64Array(nb),
  };
  for (let b = 0; b < nb; b++) {
    const lo = layout.offsets[level.firstSlot[b]!]!;
    const hi = layout.offsets[level.firstSlot[b + 1]!]!;
    let sum = 0;
    let mn = Infinity;
    let mx = -Infinity;
    for (let i = lo; i < hi; i++) {
      const v = values[i]!;
      sum += v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    out.mean[b] = sum / (hi - lo);
    out.min[b] = mn;
    out.max[b] = mx;
    out.p95[b] = percentileContInPlace(values, lo, hi, 0.95);
  }
  return out;
}

/**
 * Counts of `values` in the bins of each of `edgesList` (one pass per histogram); the two
 * extra slots at the end of each count values below lo and above hi.
 */
function histogramCounts(values: Float64Array, edgesList: number[][]): number[][] {
  // One tight loop per histogram (the bin search inlined over a typed copy of the edges) runs
  // several times faster than one loop calling binIndex for every histogram.
  return edgesList.map((list) => {
    const edges = Float64Array.from(list);
    const bins = edges.length - 1;
    const lo = edges[0]!;
    const hi = edges[bins]!;
    const scale = bins / (hi - lo);
    const c = new Float64Array(bins + 2);
    for (let k = 0; k < values.length; k++) {
      const v = values[k]!;
      let i: number;
      if (v < lo) i = bins;
      else if (v > hi || Number.isNaN(v)) i = bins + 1;
      else if (v === hi) i = bins - 1;
      else {
        i = Math.floor((v - lo) * scale);
        if (!(i >= 0)) i = 0;
        if (i > bins - 1) i = bins - 1;
        while (i < bins - 1 && edges[i + 1]! <= v) i++;
        while (i > 0 && edges[i]! > v) i--;
      }
      c[i]! += 1;
    }
    return Array.from(c);
  });
}

/** Encodes a column of doubles as little-endian float64 bytes. */
function encodeColumn(a: Float64Array): Buffer {
  if (endianness() === 'LE') return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const buf = Buffer.alloc(a.length * 8);
  for (let i = 0; i < a.length; i++) buf.writeDoubleLE(a[i]!, i * 8);
  return buf;
}

/** Decodes {@link encodeColumn}'s bytes. */
function decodeColumn(buf: Buffer): Float64Array {
  const out = new Float64Array(buf.length / 8);
  if (endianness() === 'LE') new Uint8Array(out.buffer).set(buf);
  else for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}

/**
 * Computes and stores a completed dataset's analytics (see the module notes): the summary,
 * every top-k column's value counts, the unfiltered time series of every metric at 1m, 5m, 1h
 * and 1d (a width whose bucket count exceeds `ANALYTICS_LIMITS.maxSeriesBuckets` is left out),
 * and histograms of every metric at ranges minmax and p1p99 with {@link STANDARD_BINS} bins. Also
 * creates the partition's filter indexes ({@link createTelemetryIndexes}).
 *
 * Call it once the dataset is marked completed; questions asked before it has run compute it
 * themselves. Two concurrent calls for one dataset compute once (an advisory lock serialises
 * them; the second finds the stats stored).
 *
 * Cost at 10 million rows: an aggregate and a grouping-sets pass (run side by side), one binary
 * COPY of the rows, and in-memory selection — see docs/BENCHMARKS.md "Analytics".
 *
 * @param pool - the database
 * @param datasetId - a completed dataset's UUID
 * @param options - memory per pass and recomputation, see {@link ComputeStatsOptions}
 * @throws NotFoundError for an unknown dataset; ConflictError when it is not completed;
 *   RangeError for metricsPerPass outside [1, 8]
 * @example
 * await markDatasetCompleted(pool, id, owner, rows);
 * await computeDatasetStats(pool, id);
 */
export async function computeDatasetStats(
  pool: Pool,
  datasetId: string,
  options: ComputeStatsOptions = {},
): Promise<void> {
  // Apply defaults, validate
  const id = checkedId(datasetId);
  const perPass = options.metricsPerPass ?? METRICS.length;
  if (!Number.isInteger(perPass) || perPass < 1 || perPass > METRICS.length) {
    throw new RangeError(`metricsPerPass must be an integer in [1, ${METRICS.length}]; got ${perPass}`);
  }
  const started = performance.now();
  let lockClient: PoolClient;
  try {
    lockClient = await pool.connect();
  } catch (err) {
    throw toDatabaseError(err);
  }
  let broken = false;
  try {
    // Serialise: one computation per dataset at a time; a waiter finds the result stored.
    await lockClient.query('SELECT pg_advisory_lock($1, hashtext($2))', [STATS_LOCK_CLASS, id]);
    try {
      await requireCompleted(lockClient, id);
      if (!options.force && (await readStats(lockClient, id))) return;
      let mark = performance.now();
      const stage = (name: string) => {
        const now = performance.now();
        options.onStage?.(name, now - mark);
        mark = now;
      };
      await createTelemetryIndexes(lockClient, id);
      stage('indexes');
      const stats = await computeStats(pool, lockClient, id, perPass, stage);
      await storeStats(lockClient, id, stats, performance.now() - started);
      stage('store');
    } finally {
      await lockClient
        .query('SELECT pg_advisory_unlock($1, hashtext($2))', [STATS_LOCK_CLASS, id])
        .catch(() => (broken = true));
    }
  } catch (err) {
    throw toDatabaseError(err);
  } finally {
    lockClient.release(broken);
  }
}

interface ComputedStats {
  summary: Summary;
  topk: StoredStats['topk'];
  histograms: StoredStats['histograms'];
  seriesBuckets: Record<string, number | null>;
  /** Stored series columns per bucket width. */
  series: Map<number, Map<string, Float64Array>>;
}

async function computeStats(
  pool: Pool,
  first: PoolClient,
  id: string,
  perPass: number,
  stage: (name: string) => void,
): Promise<ComputedStats> {
  // Stages 1 and 2 side by side, on two connections (each may use parallel workers too).
  const second = await pool.connect();
  let moments: Record<string, unknown>;
  let counts: Awaited<ReturnType<typeof valueCounts>>;
  try {
    [moments, counts] = await Promise.all([
      summaryMoments(first, id),
      (async () => {
        await second.query('BEGIN');
        try {
          const r = await valueCounts(second, id);
          await second.query('COMMIT');
          return r;
        } catch (err) {
          await second.query('ROLLBACK').catch(() => {});
          throw err;
        }
      })(),
    ]);
  } finally {
    second.release();
  }
  stage('moments and value counts');
  const nRows = Number(moments.n);
  const layout = minuteLayout(counts.minutes);
  if (layout.offsets[layout.minutes.length] !== nRows) {
    throw new ConflictError(`dataset ${id} changed while its analytics were computed`);
  }

  // Levels: bucket starts and minute ranges of each standard width; those over the cap are
  // not stored.
  const levels = BUCKET_NAMES.map((b) => levelOf(layout, BUCKET_SECONDS[b]));
  const kept = levels.filter((l) => l.span <= ANALYTICS_LIMITS.maxSeriesBuckets);
  const series = new Map<number, Map<string, Float64Array>>();
  const seriesBuckets: Record<string, number | null> = {};
  for (const l of levels) seriesBuckets[String(l.seconds)] = kept.includes(l) ? l.starts.length : null;
  for (const l of kept) {
    const cols = new Map<string, Float64Array>();
    cols.set('start', l.starts);
    const c = new Float64Array(l.starts.length);
    for (let b = 0; b < c.length; b++)
      c[b] = layout.offsets[l.firstSlot[b + 1]!]! - layout.offsets[l.firstSlot[b]!]!;
    cols.set('count', c);
    series.set(l.seconds, cols);
  }

  // Stage 3: the metrics, `perPass` at a time.
  const metricSummary = {} as Record<MetricName, MetricSummary>;
  const histograms = {} as StoredStats['histograms'];
  for (let p = 0; p < METRICS.length; p += perPass) {
    const metrics = METRICS.slice(p, p + perPass);
    const { values, anomalies } = await readByMinute(first, id, metrics, layout);
    stage(`COPY of ${metrics.length} metrics`);
    if (p === 0) {
      for (const l of kept) {
        const a = new Float64Array(l.starts.length);
        for (let b = 0; b < a.length; b++) {
          for (let s = l.firstSlot[b]!; s < l.firstSlot[b + 1]!; s++) a[b]! += anomalies[s]!;
        }
        series.get(l.seconds)!.set('anomalies', a);
      }
    }
    metrics.forEach((metric, j) => {
      const v = values[j]!;
      const jj = METRICS.indexOf(metric);
      // Per-bucket figures, finest first (each reorders only inside its buckets).
      for (const l of kept) {
        const figs = bucketFigures(v, layout, l);
        const cols = series.get(l.seconds)!;
        for (const agg of STORED_AGGS) cols.set(`${metric}.${agg}`, figs[agg]);
      }
      // Overall percentiles by selection over the whole array.
      const [p01, p50, p95, p99] = percentilesInPlace(v, 0, v.length, PERCENTILES) as [
        number,
        number,
        number,
        number,
      ];
      const mn = num(moments[`min${jj}`]);
      const mx = num(moments[`max${jj}`]);
      metricSummary[metric] = {
        min: orNull(mn),
        max: orNull(mx),
        mean: orNull(num(moments[`avg${jj}`])),
        stddev: orNull(num(moments[`sd${jj}`])),
        p50: orNull(p50),
        p95: orNull(p95),
        p99: orNull(p99),
      };
      // Histograms at the standard ranges and bin numbers, in one pass over the values.
      const ranges: [number, number][] = [
        [mn, mx],
        [p01, p99],
      ];
      const edgesList: number[][] = [];
      for (const [lo, hi] of ranges) {
        if (!Number.isFinite(lo) || !Number.isFinite(hi)) continue;
        for (const bins of STANDARD_BINS) edgesList.push(histogramEdges(lo, hi, bins));
      }
      stage(`series of ${metric}`);
      const hc = edgesList.length > 0 ? histogramCounts(v, edgesList) : [];
      const pack = (r: number): StoredHistogram => {
        const [lo, hi] = ranges[r]!;
        if (!Number.isFinite(lo) || !Number.isFinite(hi))
          return { lo: null, hi: null, below: 0, above: 0, counts: {} };
        const c: Record<string, number[]> = {};
        let below = 0;
        let above = 0;
        STANDARD_BINS.forEach((bins, i) => {
          const all = hc[r * STANDARD_BINS.length + i]!;
          c[String(bins)] = all.slice(0, all.length - 2);
          below = all[all.length - 2]!;
          above = all[all.length - 1]!;
        });
        return { lo, hi, below, above, counts: c };
      };
      histograms[metric] = { minmax: pack(0), p1p99: pack(1) };
      stage(`percentiles and histograms of ${metric}`);
    });
  }

  // The summary document.
  const byType = Object.fromEntries(ANOMALY_TYPES.map((t) => [t, 0])) as Summary['anomalies']['by_type'];
  for (const [t, n] of counts.topk.anomaly_type)
    if (t !== null && t in byType) byType[t as keyof typeof byType] = n;
  const tsMin = moments.ts_min instanceof Date ? moments.ts_min.toISOString() : null;
  const tsMax = moments.ts_max instanceof Date ? moments.ts_max.toISOString() : null;
  const summary: Summary = {
    dataset_id: id,
    rows: nRows,
    hosts: counts.topk.host_id.length,
    projects: counts.topk.project_id.length,
    regions: counts.topk.region.length,
    time_range: { from: tsMin, to: tsMax },
    metrics: metricSummary,
    anomalies: { total: Number(moments.anomalies), by_type: byType },
    computed_at: new Date().toISOString(),
  };
  return { summary, topk: counts.topk, histograms, seriesBuckets, series };
}

async function storeStats(client: PoolClient, id: string, s: ComputedStats, ms: number): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('DELETE FROM dataset_stats WHERE dataset_id = $1', [id]);
    await client.query(
      `INSERT INTO dataset_stats (dataset_id, version, summary, topk, histograms, series_buckets, compute_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        id,
        STATS_VERSION,
        JSON.stringify(s.summary),
        JSON.stringify(s.topk),
        JSON.stringify(s.histograms),
        JSON.stringify(s.seriesBuckets),
        ms,
      ],
    );
    for (const [seconds, cols] of s.series) {
      const names = [...cols.keys()];
      await client.query(
        `INSERT INTO dataset_stats_series (dataset_id, bucket_s, name, data)
         SELECT $1, $2, n, d FROM unnest($3::text[], $4::bytea[]) AS u(n, d)`,
        [id, seconds, names, names.map((n) => encodeColumn(cols.get(n)!))],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Questions
// ---------------------------------------------------------------------------------------------

/**
 * `GET /datasets/:id/summary`: rows, hosts, projects, regions, time range, per-metric min, max,
 * mean, sample stddev and p50/p95/p99 (`percentile_cont`), anomaly counts by type.
 *
 * @param pool - the database
 * @param datasetId - the dataset's UUID
 * @throws NotFoundError (unknown dataset), ConflictError (not completed)
 */
export async function datasetSummary(pool: Pool, datasetId: string): Promise<Summary> {
  try {
    return (await statsOf(pool, datasetId)).summary;
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/**
 * `GET /datasets/:id/topk`: the k most frequent values of a column with their counts and shares
 * of the dataset's rows (most frequent first, ties by value; for anomaly_type, null stands for
 * the normal rows).
 *
 * @param column - one of TOPK_COLUMNS
 * @param k - how many values, 1–1000
 * @throws NotFoundError (unknown dataset), ConflictError (not completed), RangeError (bad k)
 */
export async function datasetTopK(
  pool: Pool,
  datasetId: string,
  column: TopKColumn,
  k: number,
): Promise<TopK> {
  if (!Number.isInteger(k) || k < 1 || k > ANALYTICS_LIMITS.maxK) {
    throw new RangeError(`k must be an integer in [1, ${ANALYTICS_LIMITS.maxK}]; got ${k}`);
  }
  try {
    const stats = await statsOf(pool, datasetId);
    const all = stats.topk[column];
    if (all === undefined) throw new RangeError(`column must be a top-k column; got ${String(column)}`);
    const total = stats.summary.rows;
    return {
      dataset_id: stats.summary.dataset_id,
      column,
      k,
      total,
      distinct: all.length,
      items: all
        .slice(0, k)
        .map(([value, count]) => ({ value, count, share: total > 0 ? count / total : 0 })),
    };
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/** Bind parameters and WHERE text of a filter over one dataset's rows. */
function rowFilter(id: string, hostId?: string, from?: Date, to?: Date) {
  const params: unknown[] = [id];
  let where = 'dataset_id = $1';
  if (hostId !== undefined) {
    params.push(hostId);
    where += ` AND host_id = $${params.length}`;
  }
  if (from !== undefined) {
    params.push(from.toISOString());
    where += ` AND ts >= $${params.length}::timestamptz`;
  }
  if (to !== undefined) {
    params.push(to.toISOString());
    where += ` AND ts < $${params.length}::timestamptz`;
  }
  return { params, where };
}

// Aggregate expressions by name: the only SQL a timeseries question chooses from.
const AGG_SQL: Record<Exclude<TimeseriesAgg, 'count'>, (m: MetricName) => string> = {
  mean: (m) => `avg(${m})`,
  min: (m) => `min(${m})`,
  max: (m) => `max(${m})`,
  p95: (m) => `percentile_cont(0.95) WITHIN GROUP (ORDER BY ${m})`,
};

function checkNames(q: { metrics: readonly string[]; aggs?: readonly string[] }): void {
  for (const m of q.metrics) {
    if (!(METRICS as readonly string[]).includes(m))
      throw new RangeError(`metric must be one of ${METRICS.join(', ')}; got ${m}`);
  }
  for (const a of q.aggs ?? []) {
    if (!(a in AGG_SQL) && a !== 'count')
      throw new RangeError(`agg must be one of mean, min, max, p95, count; got ${a}`);
  }
}

/**
 * `GET /datasets/:id/timeseries`: per epoch-aligned bucket holding rows, the chosen aggregates
 * of each chosen metric, the row count and the anomalous rows. Unfiltered questions are read
 * from the precomputed series; with a host or a time range (`from` inclusive, `to` exclusive)
 * one SQL aggregate answers.
 *
 * @param q - the parsed query (TimeseriesQuerySchema)
 * @throws NotFoundError, ConflictError; ValidationError when the series would span more than
 *   `ANALYTICS_LIMITS.maxSeriesBuckets` buckets
 */
export async function datasetTimeseries(
  pool: Pool,
  datasetId: string,
  q: TimeseriesQuery,
): Promise<Timeseries> {
  checkNames(q);
  const seconds = BUCKET_SECONDS[q.bucket];
  if (seconds === undefined)
    throw new RangeError(`bucket must be one of ${BUCKET_NAMES.join(', ')}; got ${String(q.bucket)}`);
  try {
    const stats = await statsOf(pool, datasetId);
    const id = stats.summary.dataset_id;
    const base = {
      dataset_id: id,
      bucket: q.bucket,
      bucket_seconds: seconds,
      host_id: q.hostId ?? null,
      from: q.from?.toISOString() ?? null,
      to: q.to?.toISOString() ?? null,
    };
    const filtered = q.hostId !== undefined || q.from !== undefined || q.to !== undefined;

    // Check the span: from the range asked, clipped to the dataset's time range.
    const tr = stats.summary.time_range;
    if (tr.from === null || tr.to === null) {
      return { ...base, buckets: [], counts: [], anomalies: [], series: seriesOf(q, () => []) };
    }
    const firstMs = Math.max(Date.parse(tr.from), q.from?.getTime() ?? -Infinity);
    const lastMs = Math.min(Date.parse(tr.to), (q.to?.getTime() ?? Infinity) - 1);
    const span =
      lastMs < firstMs ? 0 : Math.floor(lastMs / 1000 / seconds) - Math.floor(firstMs / 1000 / seconds) + 1;
    if (span > ANALYTICS_LIMITS.maxSeriesBuckets) {
      throw new ValidationError(
        `a ${q.bucket} series here would span ${span} buckets; at most ${ANALYTICS_LIMITS.maxSeriesBuckets}: use a larger bucket or a narrower from/to`,
        [{ path: 'query.bucket', message: `too many buckets (${span})` }],
      );
    }

    if (!filtered) {
      // Precomputed: read the needed columns only.
      const names = ['start', 'count', 'anomalies'];
      for (const m of q.metrics) for (const a of q.aggs) if (a !== 'count') names.push(`${m}.${a}`);
      const { rows } = await pool.query<{ name: string; data: Buffer }>(
        'SELECT name, data FROM dataset_stats_series WHERE dataset_id = $1 AND bucket_s = $2 AND name = ANY($3::text[])',
        [id, seconds, names],
      );
      const cols = new Map(rows.map((r) => [r.name, decodeColumn(r.data)]));
      const starts = cols.get('start');
      const counts = cols.get('count');
      if (!starts || !counts)
        throw new ConflictError(`dataset ${id}'s ${q.bucket} series is missing; compute its stats again`);
      return {
        ...base,
        buckets: Array.from(starts, (s) => new Date(s * 1000).toISOString()),
        counts: Array.from(counts),
        anomalies: Array.from(cols.get('anomalies') ?? []),
        series: seriesOf(q, (m, a) => Array.from(a === 'count' ? counts : (cols.get(`${m}.${a}`) ?? []))),
      };
    }

    // On demand: one GROUP BY over the filtered rows; expressions come from the fixed maps.
    const f = rowFilter(id, q.hostId, q.from, q.to);
    f.params.push(seconds);
    const exprs: string[] = [];
    for (const m of q.metrics)
      for (const a of q.aggs) if (a !== 'count') exprs.push(`${AGG_SQL[a](m)} AS "${m}.${a}"`);
    const { rows } = await pool.query<Record<string, number | string>>(
      `SELECT extract(epoch FROM date_bin(make_interval(secs => $${f.params.length}), ts, timestamptz '1970-01-01 00:00:00+00'))::float8 AS b,
              count(*)::float8 AS n, (count(*) FILTER (WHERE is_anomaly))::float8 AS a
              ${exprs.length > 0 ? ', ' + exprs.join(', ') : ''}
         FROM host_telemetry_archival WHERE ${f.where}
        GROUP BY 1 ORDER BY 1`,
      f.params,
    );
    const counts = rows.map((r) => Number(r.n));
    return {
      ...base,
      buckets: rows.map((r) => new Date(Number(r.b) * 1000).toISOString()),
      counts,
      anomalies: rows.map((r) => Number(r.a)),
      series: seriesOf(q, (m, a) => (a === 'count' ? counts : rows.map((r) => Number(r[`${m}.${a}`])))),
    };
  } catch (err) {
    throw toDatabaseError(err);
  }
}

function seriesOf(
  q: TimeseriesQuery,
  values: (m: MetricName, a: TimeseriesAgg) => number[],
): Timeseries['series'] {
  const out: Timeseries['series'] = [];
  for (const m of q.metrics) for (const a of q.aggs) out.push({ metric: m, agg: a, values: values(m, a) });
  return out;
}

/**
 * `GET /datasets/:id/histogram`: edges and counts of a metric over [lo, hi] — the data's
 * extremes (minmax), its 1st and 99th percentiles (p1p99), or explicit bounds — with bins
 * half-open but the last closed, and one bin where lo = hi. Unfiltered questions at the standard
 * ranges and bin numbers are read from the precomputed stats; others take one or two SQL
 * aggregates (bounds, then `width_bucket` over the edges).
 *
 * @param q - the parsed query (HistogramQuerySchema)
 * @throws NotFoundError, ConflictError; RangeError for a bad metric or bin number
 */
export async function datasetHistogram(pool: Pool, datasetId: string, q: HistogramQuery): Promise<Histogram> {
  checkNames({ metrics: [q.metric] });
  if (!Number.isInteger(q.bins) || q.bins < 1 || q.bins > ANALYTICS_LIMITS.maxBins) {
    throw new RangeError(`bins must be an integer in [1, ${ANALYTICS_LIMITS.maxBins}]; got ${q.bins}`);
  }
  try {
    const stats = await statsOf(pool, datasetId);
    const id = stats.summary.dataset_id;
    const metric = q.metric;
    const range = q.range;
    const answer = (
      lo: number | null,
      hi: number | null,
      counts: number[],
      below: number,
      above: number,
      total: number,
    ): Histogram => ({
      dataset_id: id,
      metric,
      host_id: q.hostId ?? null,
      range: range.kind,
      lo,
      hi,
      bins: counts.length,
      edges: lo === null || hi === null ? [] : histogramEdges(lo, hi, counts.length),
      counts,
      below,
      above,
      total,
    });

    // Bounds: explicit, precomputed (unfiltered), or from the host's rows.
    let lo: number | null;
    let hi: number | null;
    let total: number | null = null;
    if (range.kind === 'explicit') {
      lo = range.lo;
      hi = range.hi;
    } else if (q.hostId === undefined) {
      const stored = stats.histograms[metric][range.kind];
      lo = stored.lo;
      hi = stored.hi;
      total = stats.summary.rows;
      // Where lo = hi every bin number gives the same one bin.
      const counts = stored.counts[String(q.bins)] ?? (lo === hi ? stored.counts['10'] : undefined);
      if (lo !== null && hi !== null && counts)
        return answer(lo, hi, counts, stored.below, stored.above, total);
    } else {
      const f = rowFilter(id, q.hostId);
      const bound =
        range.kind === 'minmax'
          ? `min(${metric}) AS lo, max(${metric}) AS hi`
          : `percentile_cont(0.01) WITHIN GROUP (ORDER BY ${metric}) AS lo, percentile_cont(0.99) WITHIN GROUP (ORDER BY ${metric}) AS hi`;
      const { rows } = await pool.query<{ n: string; lo: number | null; hi: number | null }>(
        `SELECT count(*) AS n, ${bound} FROM host_telemetry_archival WHERE ${f.where}`,
        f.params,
      );
      lo = rows[0]?.lo ?? null;
      hi = rows[0]?.hi ?? null;
      total = Number(rows[0]?.n ?? 0);
    }
    if (lo === null || hi === null) return answer(null, null, [], 0, 0, total ?? 0);

    // Counts: one GROUP BY on the bin, found by width_bucket over the lower edges.
    const bins = lo === hi ? 1 : q.bins;
    const edges = histogramEdges(lo, hi, bins);
    const f = rowFilter(id, q.hostId);
    const pLo = f.params.push(lo);
    const pHi = f.params.push(hi);
    const pBins = f.params.push(bins);
    const pEdges = f.params.push(edges.slice(0, bins));
    const { rows } = await pool.query<{ i: number; n: string }>(
      `SELECT CASE WHEN ${metric} < $${pLo}::float8 THEN -1
                   WHEN ${metric} > $${pHi}::float8 THEN -2
                   WHEN ${metric} = $${pHi}::float8 THEN $${pBins}::int - 1
                   ELSE width_bucket(${metric}, $${pEdges}::float8[]) - 1 END AS i,
              count(*) AS n
         FROM host_telemetry_archival WHERE ${f.where}
        GROUP BY 1`,
      f.params,
    );
    const counts = new Array<number>(bins).fill(0);
    let below = 0;
    let above = 0;
    let n = 0;
    for (const r of rows) {
      const c = Number(r.n);
      n += c;
      if (r.i === -1) below += c;
      else if (r.i === -2) above += c;
      else counts[r.i] = c;
    }
    return answer(lo, hi, counts, below, above, n);
  } catch (err) {
    throw toDatabaseError(err);
  }
}
