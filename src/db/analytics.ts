/**
 * Dataset analytics (DESIGN.md "Analytics"): summary, top-k values, time series and histograms
 * of a dataset's telemetry, all exact.
 *
 * ## Two paths
 * - **Precomputed.** {@link computeDatasetStats} runs once when a dataset completes (or on the
 *   first question, when it has not run). Side by side on three connections it builds the filter
 *   indexes, counts the top-k columns (one grouping-sets aggregate), and reads the rows in one
 *   binary COPY whose metrics are spilled to temporary files, then processed one metric at a
 *   time, window by window (memory: one window of about a million values, whatever the number
 *   of rows and metrics; see {@link metricPass}). It stores the summary,
 *   every value count of the top-k columns, the unfiltered time series of every metric at every
 *   standard bucket width (mean, min, max, p95, count, anomalies), and histograms at the standard
 *   ranges (minmax, p1p99) and bin numbers ({@link STANDARD_BINS}) in `dataset_stats`.
 *   Unfiltered questions at those settings are answered from there without touching the rows.
 *   It also stores every metric's values sorted, in chunks (`dataset_stats_sorted`,
 *   src/db/sorted-values.ts), from which a fleet-wide histogram over any range and with any
 *   number of bins is counted exactly by the ranks of its edges, reading one chunk per edge.
 * - **On demand.** A question about one host reads that host's rows in time order through the
 *   covering `(host_id, ts)` index (an index-only scan) by binary COPY and computes the answer
 *   here with the precompute's own selection and binning, one bucket at a time. A fleet-wide
 *   time range is answered by one SQL aggregate over the rows (`percentile_cont`, `date_bin`).
 *
 * ## Exactness of the in-memory figures
 * Percentiles are exact, not sketched: the values at rank ⌊p(n − 1)⌋ and the next one,
 * interpolated as PostgreSQL's `percentile_cont` does — per bucket found by selection
 * (quickselect), over the whole dataset read off the merge of sorted windows. Per-bucket figures come from the rows of each bucket placed
 * contiguously: rows arrive as runs of one minute each (one run per minute when the partition is
 * stored in time order, as the ingest writes it), and the runs are placed by minute — every
 * standard width is a whole number of minutes and aligned to the epoch, so each bucket is a run
 * of minutes. Means are sums over counts and the standard deviation a two-pass compensated sum,
 * equal to `avg` and `stddev_samp` up to rounding (relative 1e-12 at 10 million rows).
 *
 * Histogram bin i holds the values v with edges[i] ≤ v < edges[i + 1] (the last bin also
 * v = hi), with edges[i] = lo + (hi − lo)·i/bins computed in float64; its count is the number
 * of values below edges[i + 1] less the number below edges[i] (for the last bin, at most hi),
 * ranks found by binary search among sorted values.
 *
 * Answers are wire documents (snake_case, src/contract/analytics.ts): they go out as they are.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { join } from 'node:path';
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
import { Float64List } from '../core/float64-list.js';
import { ANOMALY_TYPES, METRICS, type MetricName } from '../core/types.js';
import { toDatabaseError } from './errors.js';
import type { Pool, PoolClient, Queryable } from './pool.js';
import {
  chunksNeeded,
  float64Bytes,
  float64sOf,
  histogramOfSorted,
  histogramProbes,
  chunkLength,
  mergeSortedRuns,
  percentileAt,
  percentileOfSorted,
  SORTED_CHUNK,
  sortedColumnOf,
  type SortedColumn,
} from '../core/stats/sorted.js';
import { loadSortedChunks, loadSortedIndex, storeSortedColumn } from './sorted-values.js';

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/**
 * Layout version of `dataset_stats`; rows of another version are computed again when read.
 * 2: same documents as 1, but computing them also builds the covering `(host_id, ts)` and BRIN
 * `ts` indexes the one-host and time-range questions rely on.
 * 3: also every metric's sorted values (`dataset_stats_sorted`) for exact histograms over any
 * range and bin number.
 */
export const STATS_VERSION = 3;

/** Bin numbers whose histograms are precomputed (at both standard ranges, for every metric). */
export const STANDARD_BINS = [10, 20, 40, 50, 100] as const;

/** Percentiles computed for every metric: p1 and p99 bound the p1p99 range. */
const PERCENTILES = [0.01, 0.5, 0.95, 0.99] as const;

/** Aggregates stored per bucket and metric (count and anomalies are stored once per bucket). */
const STORED_AGGS = ['mean', 'min', 'max', 'p95'] as const;

/** Series bytes sent per INSERT at the most (but at least one column). */
const SERIES_BYTES_PER_INSERT = 4 << 20;

/** Advisory-lock class of the stats computation (the second key is the dataset's hash). */
const STATS_LOCK_CLASS = 70_411;

/** Seconds between the Unix epoch and PostgreSQL's (2000-01-01), the origin of binary `ts`. */
const PG_EPOCH_S = 946_684_800;

/** Options of {@link computeDatasetStats}. */
export interface ComputeStatsOptions {
  /**
   * Accepted for compatibility (an integer in 1–8) and no longer used: the rows are read in one
   * COPY pass and the metrics processed one at a time, so memory no longer depends on it.
   */
  metricsPerPass?: number;
  /** Compute again even when stats of the current version exist (default false). */
  force?: boolean;
  /** Told each stage's name and duration in ms as it ends (for benchmarks and logs). */
  onStage?: (stage: string, ms: number) => void;
  /** Values per stored chunk of the sorted columns (default {@link SORTED_CHUNK}; small in tests). */
  sortedChunk?: number;
  /**
   * Values a window of the per-metric pass holds at most, unless one bucket of the coarsest
   * stored width holds more (default {@link WINDOW_VALUES}; small in tests).
   */
  windowValues?: number;
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

/** Partition names by dataset id (a dataset's partition keeps its name for its life). */
const partitions = new Map<string, string>();

/**
 * The qualified, quoted name of a dataset's telemetry partition, found by its bound whatever its
 * name. One host's rows are read from the partition itself: a `dataset_id` condition on the
 * parent would stay as a filter on the partition and rule out an index-only scan.
 *
 * @throws NotFoundError when the dataset has no partition
 */
async function partitionOf(q: Queryable, id: string): Promise<string> {
  const known = partitions.get(id);
  if (known !== undefined) return known;
  const { rows } = await q.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.inhparent = 'host_telemetry_archival'::regclass
        AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', $1::text)`,
    [id],
  );
  const name = rows[0]?.name;
  if (name === undefined) throw new NotFoundError('telemetry partition of dataset', id);
  if (partitions.size > 1000) partitions.clear();
  partitions.set(id, name);
  return name;
}

/**
 * Creates the indexes analytics questions with a filter use on a dataset's partition, if they
 * are missing, after a `VACUUM (ANALYZE)` of the partition (planner statistics, and the
 * visibility map that lets one host's rows be read from the index alone):
 * - `(host_id, ts) INCLUDE (is_anomaly, <metrics>)`: one host's rows, in time order, by an
 *   index-only scan — a host's rows are spread over every page of a time-ordered partition, so
 *   reading them from the heap would touch most of it;
 * - a BRIN index on `ts` for a time range: rows are stored in time order, so block ranges
 *   bound it at a fraction of a B-tree's build cost.
 *
 * Call it after the partition is filled (COPY, then indexes, is far cheaper than indexing during
 * the load); {@link computeDatasetStats} calls it too, side by side with its own work.
 *
 * @param client - a connection outside a transaction (VACUUM cannot run inside one); its
 *   `maintenance_work_mem` is raised for the build and reset after
 * @param datasetId - the dataset's UUID
 * @throws NotFoundError when the dataset has no partition
 */
export async function createTelemetryIndexes(client: PoolClient, datasetId: string): Promise<void> {
  const id = checkedId(datasetId);
  try {
    const partition = await partitionOf(client, id);
    const hex = id.replaceAll('-', '');
    await client.query(`VACUUM (ANALYZE) ${partition}`);
    await client.query(`SET maintenance_work_mem = '256MB'`);
    try {
      await client.query(
        `CREATE INDEX IF NOT EXISTS "hta_${hex}_host_cov" ON ${partition} (host_id, ts)
           INCLUDE (is_anomaly, ${METRICS.join(', ')})`,
      );
      await client.query(`CREATE INDEX IF NOT EXISTS "hta_${hex}_ts_brin" ON ${partition} USING brin (ts)`);
    } finally {
      await client.query('RESET maintenance_work_mem');
    }
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

const orNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * Value counts of every top-k column in one grouping-sets pass (run on its own connection, side
 * by side with the COPY of the rows).
 */
async function valueCounts(client: PoolClient, id: string) {
  await client.query(`SET LOCAL work_mem = '256MB'`);
  const { rows } = await client.query<{
    g: number;
    host_id: string | null;
    project_id: string | null;
    region: string | null;
    anomaly_type: string | null;
    n: string;
  }>(
    `SELECT GROUPING(host_id, project_id, region, anomaly_type) AS g,
            host_id, project_id, region, anomaly_type, count(*) AS n
       FROM host_telemetry_archival WHERE dataset_id = $1
      GROUP BY GROUPING SETS ((host_id), (project_id), (region), (anomaly_type))`,
    [id],
  );
  const topk: StoredStats['topk'] = { region: [], project_id: [], host_id: [], anomaly_type: [] };
  // GROUPING's bits, highest first: host_id, project_id, region, anomaly_type; a set leaves its
  // own column's bit clear.
  for (const r of rows) {
    const n = Number(r.n);
    if (r.g === 0b0111) topk.host_id.push([r.host_id, n]);
    else if (r.g === 0b1011) topk.project_id.push([r.project_id, n]);
    else if (r.g === 0b1101) topk.region.push([r.region, n]);
    else if (r.g === 0b1110) topk.anomaly_type.push([r.anomaly_type, n]);
  }
  for (const list of Object.values(topk)) list.sort(compareCounts);
  return topk;
}

/** Most frequent first; ties by value, null last. */
function compareCounts(a: [string | null, number], b: [string | null, number]): number {
  if (a[1] !== b[1]) return b[1] - a[1];
  if (a[0] === b[0]) return 0;
  if (a[0] === null) return 1;
  if (b[0] === null) return -1;
  return a[0] < b[0] ? -1 : 1;
}

/**
 * Reads a binary COPY whose rows all have `fields` NOT NULL fixed-width columns of the given byte
 * widths, calling `onRow(buf, offsets)` per row with the offset of each field's value. Returns
 * the number of rows.
 */
async function copyFixedRows(
  client: PoolClient,
  sql: string,
  widths: readonly number[],
  onRow: (buf: Buffer, at: Int32Array) => void,
): Promise<number> {
  const fields = widths.length;
  const rel = new Int32Array(fields);
  let size = 2;
  widths.forEach((w, j) => {
    rel[j] = size + 4;
    size += 4 + w;
  });
  const at = new Int32Array(fields);
  let stream: Readable;
  try {
    stream = client.query(copyTo(sql));
  } catch (err) {
    throw toDatabaseError(err);
  }
  let head: Buffer | null = null;
  let headerDone = false;
  // A row split between chunks: its first bytes, copied (only rows, never whole chunks, are
  // copied, so the stream's garbage stays the chunks themselves).
  const partial = Buffer.alloc(size);
  let partialLength = 0;
  let ended = false;
  let seen = 0;
  try {
    for await (const data of stream as AsyncIterable<Buffer>) {
      let buf = data;
      let o = 0;
      if (!headerDone) {
        // Signature (11 bytes), flags (4), header extension length (4) and extension.
        buf = head ? Buffer.concat([head, data]) : data;
        if (buf.length < 19 || buf.length < 19 + buf.readUInt32BE(15)) {
          head = buf;
          continue;
        }
        o = 19 + buf.readUInt32BE(15);
        head = null;
        headerDone = true;
      }
      if (ended) continue;
      if (partialLength > 0) {
        // Complete the split row (or the trailer, two bytes of −1).
        const need = Math.min(size - partialLength, buf.length - o);
        buf.copy(partial, partialLength, o, o + need);
        partialLength += need;
        o += need;
        if (partialLength >= 2 && partial.readInt16BE(0) === -1) {
          ended = true;
          continue;
        }
        if (partialLength < size) continue;
        const n = partial.readInt16BE(0);
        if (n !== fields) throw new Error(`COPY: ${n} fields in a row, expected ${fields}`);
        for (let j = 0; j < fields; j++) at[j] = rel[j]!;
        onRow(partial, at);
        seen++;
        partialLength = 0;
      }
      while (buf.length - o >= size) {
        const n = buf.readInt16BE(o);
        if (n === -1) break; // trailer
        if (n !== fields) throw new Error(`COPY: ${n} fields in a row, expected ${fields}`);
        for (let j = 0; j < fields; j++) at[j] = o + rel[j]!;
        onRow(buf, at);
        o += size;
        seen++;
      }
      if (buf.length - o >= 2 && buf.readInt16BE(o) === -1) {
        ended = true;
        continue;
      }
      buf.copy(partial, 0, o);
      partialLength = buf.length - o;
    }
  } catch (err) {
    stream.destroy();
    throw toDatabaseError(err);
  }
  return seen;
}

/** Microseconds since the Unix epoch of a binary `timestamptz` (exact in a double for ±285 years). */
function readTs(buf: Buffer, o: number): number {
  return buf.readInt32BE(o) * 4_294_967_296 + buf.readUInt32BE(o + 4) + PG_EPOCH_S * 1_000_000;
}

/** Rows of the dataset placed by minute: minute m's rows are `[offsets[m], offsets[m + 1])`. */
interface MinuteLayout {
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

/**
 * The metrics of one COPY pass, spilled to one file per metric (float64s in arrival order, later
 * overwritten by the same values sorted), plus a scratch file for sorted windows, so that memory
 * holds one window of one metric whatever the row count.
 */
class MetricSpill {
  readonly dir: string;
  readonly #fds: number[];
  readonly #stage: Float64Array[];
  #used = 0;
  static readonly STAGE = 65_536;

  constructor(metrics: readonly MetricName[]) {
    this.dir = mkdtempSync(join(tmpdir(), 'tads-stats-'));
    this.#fds = [...metrics, 'scratch'].map((m) => openSync(join(this.dir, m), 'w+'));
    this.#stage = metrics.map(() => new Float64Array(MetricSpill.STAGE));
  }

  /** The file number of the scratch file (after the metrics'), for sorted runs. */
  get scratch(): number {
    return this.#fds.length - 1;
  }

  /** Stage slot of the next row (flushing first when full). */
  slot(): number {
    if (this.#used === MetricSpill.STAGE) this.flush();
    return this.#used++;
  }

  get stages(): Float64Array[] {
    return this.#stage;
  }

  flush(): void {
    if (this.#used === 0) return;
    this.#stage.forEach((s, j) => {
      writeSync(this.#fds[j]!, new Uint8Array(s.buffer, 0, this.#used * 8));
    });
    this.#used = 0;
  }

  /**
   * Reads file j's values from position `start` on into `out`: a metric's in arrival order, or
   * sorted once the per-metric pass has put them back so.
   */
  read(j: number, out: Float64Array, start = 0): void {
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    let done = 0;
    while (done < bytes.length) {
      const got = readSync(
        this.#fds[j]!,
        bytes,
        done,
        Math.min(bytes.length - done, 1 << 26),
        start * 8 + done,
      );
      if (got <= 0) throw new Error(`spill file of metric ${j} is short`);
      done += got;
    }
  }

  /** Writes `values` into file j (a metric's, or {@link MetricSpill.scratch}) from position `start`. */
  write(j: number, values: Float64Array, start = 0): void {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    let done = 0;
    while (done < bytes.length) {
      done += writeSync(this.#fds[j]!, bytes, done, Math.min(bytes.length - done, 1 << 26), start * 8 + done);
    }
  }

  close(): void {
    for (const fd of this.#fds) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One binary COPY of `ts`, `is_anomaly` and every metric: the metrics go to a {@link MetricSpill};
 * the minutes are recorded as runs of arrival order, from which the placement by minute follows
 * (no sort of the rows: they arrive in time order when stored so, and otherwise whole runs are
 * moved).
 */
async function readRows(client: PoolClient, id: string, spill: MetricSpill) {
  const runMinute = new Float64List();
  const runStart = new Float64List();
  const runAnomalies = new Float64List();
  let current = NaN;
  let anomalous = 0;
  let tsMin = Infinity;
  let tsMax = -Infinity;
  let anomalies = 0;
  let row = 0;
  const k = METRICS.length;
  const stages = spill.stages;
  const sql = `COPY (SELECT ts, is_anomaly, ${METRICS.join(', ')} FROM host_telemetry_archival
                      WHERE dataset_id = '${id}') TO STDOUT (FORMAT binary)`;
  const n = await copyFixedRows(client, sql, [8, 1, ...METRICS.map(() => 8)], (buf, at) => {
    const us = readTs(buf, at[0]!);
    if (us < tsMin) tsMin = us;
    if (us > tsMax) tsMax = us;
    const minute = Math.floor(us / 60_000_000);
    if (minute !== current) {
      if (runMinute.length > 0) runAnomalies.push(anomalous);
      runMinute.push(minute);
      runStart.push(row);
      current = minute;
      anomalous = 0;
    }
    if (buf[at[1]!] === 1) {
      anomalous++;
      anomalies++;
    }
    const s = spill.slot();
    for (let j = 0; j < k; j++) stages[j]![s] = buf.readDoubleBE(at[j + 2]);
    row++;
  });
  if (runMinute.length > 0) runAnomalies.push(anomalous);
  spill.flush();
  return {
    rows: n,
    tsMin,
    tsMax,
    anomalies,
    layout: layoutOfRuns(runMinute.view(), runStart.view(), runAnomalies.view(), n),
  };
}

/** The placement by minute of rows that arrived as runs (minute, start), see {@link MinuteLayout}. */
function layoutOfRuns(
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
 * Metric j's values of the placed positions [p0, p1) (rows placed by minute), read from its spill
 * file into `out`: one read when the rows arrived in time order, else one per run of arrival
 * order (`cursor` carries the run to start from between consecutive windows).
 */
function readPlaced(
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
const WINDOW_VALUES = 1 << 20;

/**
 * Windows of the per-metric pass, as minute-slot boundaries (0 first, the slot count last): each
 * a run of whole buckets of the coarsest stored width (so whole buckets of every width: the
 * widths nest), of at most `windowValues` values unless one bucket holds more.
 */
function windowsOf(layout: MinuteLayout, kept: readonly Level[], windowValues: number): number[] {
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
interface LevelFigures {
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
function windowFigures(
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
class Moments {
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
function moments(values: Float64Array) {
  const m = new Moments();
  m.add(values);
  m.addSquares(values);
  return m.result();
}

/** What the per-metric pass finds of one metric. */
interface MetricFigures {
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
async function metricPass(
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
function toArray(a: Float64Array): number[] {
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]!;
  return out;
}

/** Runs `task` on a connection of its own, released after. */
async function onOwnConnection<T>(pool: Pool, task: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  try {
    return await task(c);
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    c.release(broken);
  }
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
 * Work, side by side on three connections: the filter indexes; the top-k counts (one
 * grouping-sets aggregate); one binary COPY of the rows, whose metrics are spilled to temporary
 * files and then processed one metric at a time, window by window ({@link metricPass}; memory:
 * one window of at most `windowValues` values, or one day's rows when a day holds more) — see
 * docs/BENCHMARKS.md "Analytics". The temporary files take 8 bytes per row and metric, and 8 more
 * per row for the sorted windows (720 MB at 10 million rows), removed when it ends.
 *
 * @param pool - the database (three connections are used at once)
 * @param datasetId - a completed dataset's UUID
 * @param options - recomputation and stage timings, see {@link ComputeStatsOptions}
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
  const chunk = options.sortedChunk ?? SORTED_CHUNK;
  const windowValues = options.windowValues ?? WINDOW_VALUES;
  if (!Number.isInteger(windowValues) || windowValues < 1) {
    throw new RangeError(`windowValues must be a positive integer; got ${windowValues}`);
  }
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 1 << 20) {
    throw new RangeError(`sortedChunk must be an integer in [1, ${1 << 20}]; got ${chunk}`);
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
      const spill = new MetricSpill(METRICS);
      try {
        const stats = await computeStats(pool, lockClient, id, spill, chunk, windowValues, options.onStage);
        const mark = performance.now();
        await storeStats(lockClient, id, stats, spill, chunk, mark - started);
        options.onStage?.('store (summary, series, sorted values)', performance.now() - mark);
      } finally {
        spill.close();
      }
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

/**
 * Computes a dataset's stats; leaves each metric's values sorted in `spill` for
 * {@link storeStats}.
 */
async function computeStats(
  pool: Pool,
  first: PoolClient,
  id: string,
  spill: MetricSpill,
  chunk: number,
  windowValues: number,
  onStage: ((stage: string, ms: number) => void) | undefined,
): Promise<ComputedStats> {
  const t0 = performance.now();
  let mark = t0;
  const stage = (name: string) => {
    const now = performance.now();
    onStage?.(name, now - mark);
    mark = now;
  };
  // Side by side: the indexes and the top-k counts, each on a connection of its own (the
  // database works on them while this process reads and computes).
  const timed = <T>(name: string, p: Promise<T>): Promise<T> =>
    p.then((v) => {
      onStage?.(`${name} (side by side, from the start)`, performance.now() - t0);
      return v;
    });
  const indexes = timed(
    'indexes',
    onOwnConnection(pool, (c) => createTelemetryIndexes(c, id)),
  );
  const topkCounts = timed(
    'top-k counts',
    onOwnConnection(pool, async (c) => {
      await c.query('BEGIN');
      try {
        const r = await valueCounts(c, id);
        await c.query('COMMIT');
        return r;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      }
    }),
  );
  // Nothing is left unhandled when the COPY fails first.
  const settled = Promise.allSettled([indexes, topkCounts]);

  try {
    const read = await readRows(first, id, spill);
    stage('COPY of ts, is_anomaly and 8 metrics (spilled per metric)');
    const nRows = read.rows;
    const layout = read.layout;

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
      const a = new Float64Array(l.starts.length);
      for (let b = 0; b < c.length; b++) {
        c[b] = layout.offsets[l.firstSlot[b + 1]!]! - layout.offsets[l.firstSlot[b]!]!;
        for (let s = l.firstSlot[b]!; s < l.firstSlot[b + 1]!; s++) a[b]! += layout.anomalies[s]!;
      }
      cols.set('count', c);
      cols.set('anomalies', a);
      series.set(l.seconds, cols);
    }

    // One metric at a time, window by window through the same buffer.
    const cuts = windowsOf(layout, kept, windowValues);
    let widest = 0;
    for (let w = 0; w + 1 < cuts.length; w++)
      widest = Math.max(widest, layout.offsets[cuts[w + 1]!]! - layout.offsets[cuts[w]!]!);
    const window = new Float64Array(widest);
    const metricSummary = {} as Record<MetricName, MetricSummary>;
    const histograms = {} as StoredStats['histograms'];
    for (const [j, metric] of METRICS.entries()) {
      const levels: LevelFigures[] = kept.map((level) => {
        const nb = level.starts.length;
        const f = { level, next: 0 };
        return {
          ...f,
          mean: new Float64Array(nb),
          min: new Float64Array(nb),
          max: new Float64Array(nb),
          p95: new Float64Array(nb),
        };
      });
      const figs = await metricPass(spill, j, layout, cuts, window, levels, chunk);
      for (const f of levels) {
        const cols = series.get(f.level.seconds)!;
        for (const agg of STORED_AGGS) cols.set(`${metric}.${agg}`, f[agg]);
      }
      const mo = figs.moments;
      const [p01, p50, p95, p99] = figs.percentiles as [number, number, number, number];
      metricSummary[metric] = {
        min: orNull(mo.min),
        max: orNull(mo.max),
        mean: orNull(mo.mean),
        stddev: orNull(mo.stddev),
        p50: orNull(p50),
        p95: orNull(p95),
        p99: orNull(p99),
      };
      // The standard histograms, by the ranks of their edges among the sorted values (reading
      // back only the chunks the edges fall in).
      const col = figs.sorted;
      const finite = Number.isFinite;
      const edgesOf = (lo: number, hi: number) =>
        finite(lo) && finite(hi) ? STANDARD_BINS.map((bins) => histogramEdges(lo, hi, bins)) : [];
      const minmax = edgesOf(mo.min, mo.max);
      const p1p99 = edgesOf(p01, p99);
      for (const k of chunksNeeded(col, [...minmax, ...p1p99].flatMap(histogramProbes))) {
        const values = new Float64Array(chunkLength(col, k));
        spill.read(j, values, col.starts[k]);
        col.chunks.set(k, values);
      }
      const pack = (lo: number, hi: number, edgesList: number[][]): StoredHistogram => {
        if (edgesList.length === 0) return { lo: null, hi: null, below: 0, above: 0, counts: {} };
        const all = edgesList.map((edges) => histogramOfSorted(col, edges));
        const counts = Object.fromEntries(STANDARD_BINS.map((bins, i) => [String(bins), all[i]!.counts]));
        return { lo, hi, below: all[0]!.below, above: all[0]!.above, counts };
      };
      histograms[metric] = { minmax: pack(mo.min, mo.max, minmax), p1p99: pack(p01, p99, p1p99) };
      stage(`series, sort, percentiles and histograms of ${metric}`);
    }

    // The side-by-side work.
    const [ix, tk] = await settled;
    if (ix.status === 'rejected') throw ix.reason;
    if (tk.status === 'rejected') throw tk.reason;
    const topk = tk.value;
    stage('waiting for the indexes and top-k counts');
    let counted = 0;
    for (const [, n] of topk.host_id) counted += n;
    if (counted !== nRows) throw new ConflictError(`dataset ${id} changed while its analytics were computed`);

    // The summary document.
    const byType = Object.fromEntries(ANOMALY_TYPES.map((t) => [t, 0])) as Summary['anomalies']['by_type'];
    for (const [t, n] of topk.anomaly_type)
      if (t !== null && t in byType) byType[t as keyof typeof byType] = n;
    const iso = (us: number) => (Number.isFinite(us) ? new Date(Math.floor(us / 1000)).toISOString() : null);
    const summary: Summary = {
      dataset_id: id,
      rows: nRows,
      hosts: topk.host_id.length,
      projects: topk.project_id.length,
      regions: topk.region.length,
      time_range: { from: iso(read.tsMin), to: iso(read.tsMax) },
      metrics: metricSummary,
      anomalies: { total: read.anomalies, by_type: byType },
      computed_at: new Date().toISOString(),
    };
    return { summary, topk, histograms, seriesBuckets, series };
  } finally {
    await settled;
  }
}

async function storeStats(
  client: PoolClient,
  id: string,
  s: ComputedStats,
  spill: MetricSpill,
  chunk: number,
  ms: number,
): Promise<void> {
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
    // Each column its own bytea parameter, sent in binary (a bytea[] parameter would go as text,
    // every byte written out in hex, several times the columns' size in memory at once), a few
    // MiB per statement (the driver copies a statement's parameters into one message).
    for (const [seconds, cols] of s.series) {
      const entries = [...cols];
      for (let i = 0; i < entries.length;) {
        const params: unknown[] = [id, seconds];
        const rows: string[] = [];
        let bytes = 0;
        for (; i < entries.length && (rows.length === 0 || bytes < SERIES_BYTES_PER_INSERT); i++) {
          const [name, data] = entries[i]!;
          const at = params.push(name, float64Bytes(data));
          rows.push(`($1, $2, $${at - 1}, $${at})`);
          bytes += data.byteLength;
        }
        await client.query(
          `INSERT INTO dataset_stats_series (dataset_id, bucket_s, name, data) VALUES ${rows.join(', ')}`,
          params,
        );
      }
    }
    // Each metric's sorted values, read back from its spill file a batch of chunks at a time.
    for (const [j, metric] of METRICS.entries()) {
      await storeSortedColumn(
        client,
        id,
        metric,
        s.summary.rows,
        (start, out) => spill.read(j, out, start),
        chunk,
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
      const cols = new Map(rows.map((r) => [r.name, float64sOf(r.data)]));
      const starts = cols.get('start');
      const counts = cols.get('count');
      if (!starts || !counts)
        throw new ConflictError(`dataset ${id}'s ${q.bucket} series is missing; compute its stats again`);
      return {
        ...base,
        buckets: isoTimes(starts),
        counts: toArray(counts),
        anomalies: toArray(cols.get('anomalies') ?? new Float64Array(0)),
        series: seriesOf(q, (m, a) =>
          toArray(a === 'count' ? counts : (cols.get(`${m}.${a}`) ?? new Float64Array(0))),
        ),
      };
    }

    // One host: its rows, in time order from the covering index, reduced bucket by bucket here.
    if (q.hostId !== undefined) {
      const r = await hostSeries(pool, id, q, seconds);
      return {
        ...base,
        buckets: isoTimes(r.starts),
        counts: r.counts,
        anomalies: r.anomalies,
        series: seriesOf(q, (m, a) => (a === 'count' ? r.counts : r.values.get(`${m}.${a}`)!)),
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
      buckets: isoTimes(rows.map((r) => Number(r.b))),
      counts,
      anomalies: rows.map((r) => Number(r.a)),
      series: seriesOf(q, (m, a) => (a === 'count' ? counts : rows.map((r) => Number(r[`${m}.${a}`])))),
    };
  } catch (err) {
    throw toDatabaseError(err);
  }
}

const HOST_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/** The WHERE text of one host's rows (the host id checked, so that it may appear as a literal). */
function hostWhere(hostId: string, from?: Date, to?: Date): string {
  if (!HOST_ID.test(hostId)) {
    throw new ValidationError(
      `host_id must be 1–${ANALYTICS_LIMITS.maxHostIdLength} letters, digits or . _ : -; got ${JSON.stringify(hostId)}`,
    );
  }
  let where = `host_id = '${hostId}'`;
  if (from !== undefined) where += ` AND ts >= '${from.toISOString()}'::timestamptz`;
  if (to !== undefined) where += ` AND ts < '${to.toISOString()}'::timestamptz`;
  return where;
}

/** One host's values of a metric (any order). */
async function hostValues(pool: Pool, id: string, hostId: string, metric: MetricName): Promise<Float64Array> {
  const where = hostWhere(hostId);
  const out = new Float64List();
  const client = await pool.connect();
  try {
    const partition = await partitionOf(client, id);
    await copyFixedRows(
      client,
      `COPY (SELECT ${metric} FROM ${partition} WHERE ${where}) TO STDOUT (FORMAT binary)`,
      [8],
      (buf, at) => out.push(buf.readDoubleBE(at[0])),
    );
  } finally {
    client.release();
  }
  return out.view();
}

/**
 * One host's time series: its rows read in time order (the covering `(host_id, ts)` index gives
 * that order without a sort) and reduced one bucket at a time — mean, min, max and p95 by
 * selection, as the precompute does — so memory holds one bucket's values.
 */
async function hostSeries(pool: Pool, id: string, q: TimeseriesQuery, seconds: number) {
  const metrics = q.aggs.some((a) => a !== 'count') ? q.metrics : [];
  const aggs = q.aggs.filter((a): a is Exclude<TimeseriesAgg, 'count'> => a !== 'count');
  const starts: number[] = [];
  const counts: number[] = [];
  const anomalies: number[] = [];
  const values = new Map<string, number[]>();
  for (const m of q.metrics) for (const a of aggs) values.set(`${m}.${a}`, []);
  const outs = metrics.map((m) => aggs.map((a) => values.get(`${m}.${a}`)!));
  let buffers = metrics.map(() => new Float64Array(1024));
  const widthUs = seconds * 1_000_000;
  let current = NaN;
  let n = 0;
  let anomalous = 0;
  // Aggregate codes, so that the per-bucket loop compares numbers.
  const codes = aggs.map((a) => (a === 'mean' ? 0 : a === 'min' ? 1 : a === 'max' ? 2 : 3));
  const flush = () => {
    if (n === 0) return;
    starts.push(current * seconds);
    counts.push(n);
    anomalies.push(anomalous);
    for (let j = 0; j < metrics.length; j++) {
      const v = buffers[j]!;
      const out = outs[j]!;
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
    n = 0;
    anomalous = 0;
  };
  const k = metrics.length;
  const where = hostWhere(q.hostId!, q.from, q.to);
  const client = await pool.connect();
  try {
    const partition = await partitionOf(client, id);
    await copyFixedRows(
      client,
      `COPY (SELECT ts, is_anomaly${metrics.map((m) => `, ${m}`).join('')} FROM ${partition}
              WHERE ${where} ORDER BY ts) TO STDOUT (FORMAT binary)`,
      [8, 1, ...metrics.map(() => 8)],
      (buf, at) => {
        const b = Math.floor(readTs(buf, at[0]!) / widthUs);
        if (b !== current) {
          flush();
          current = b;
        }
        if (n === buffers[0]?.length) {
          buffers = buffers.map((old) => {
            const grown = new Float64Array(old.length * 2);
            grown.set(old);
            return grown;
          });
        }
        for (let j = 0; j < k; j++) buffers[j]![n] = buf.readDoubleBE(at[j + 2]);
        if (buf[at[1]!] === 1) anomalous++;
        n++;
      },
    );
  } finally {
    client.release();
  }
  flush();
  return { starts, counts, anomalies, values };
}

/** Two-digit texts 00–59, for {@link isoTimes}. */
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));

/**
 * RFC 3339 texts (as `Date.prototype.toISOString` writes them) of epoch-second instants, the
 * date part formatted once per day: bucket starts are whole seconds, often many per day.
 */
export function isoTimes(seconds: ArrayLike<number>): string[] {
  const out = new Array<string>(seconds.length);
  let day = NaN;
  let prefix = '';
  for (let i = 0; i < seconds.length; i++) {
    const s = seconds[i]!;
    if (!Number.isInteger(s)) {
      out[i] = new Date(s * 1000).toISOString();
      continue;
    }
    const d = Math.floor(s / 86_400);
    if (d !== day) {
      day = d;
      const text = new Date(d * 86_400_000).toISOString();
      prefix = text.slice(0, text.indexOf('T') + 1);
    }
    const r = s - d * 86_400;
    const h = Math.floor(r / 3600);
    const m = Math.floor((r - h * 3600) / 60);
    out[i] = `${prefix}${TWO_DIGITS[h]!}:${TWO_DIGITS[m]!}:${TWO_DIGITS[r - h * 3600 - m * 60]!}.000Z`;
  }
  return out;
}

function seriesOf(
  q: TimeseriesQuery,
  values: (m: MetricName, a: TimeseriesAgg) => number[],
): Timeseries['series'] {
  const out: Timeseries['series'] = [];
  for (const m of q.metrics) for (const a of q.aggs) out.push({ metric: m, agg: a, values: values(m, a) });
  return out;
}

/** Chunk indexes of sorted columns read lately, by dataset, computation and metric. */
const sortedIndexes = new Map<string, SortedColumn>();
const SORTED_INDEXES_KEPT = 64;

/**
 * The chunk index of a dataset's sorted values of `metric`, without chunk values (kept for
 * later questions: a computed dataset's values never change).
 */
async function sortedColumn(q: Queryable, summary: Summary, metric: MetricName): Promise<SortedColumn> {
  const key = `${summary.dataset_id}/${summary.computed_at}/${metric}`;
  let index = sortedIndexes.get(key);
  if (!index) {
    const loaded = await loadSortedIndex(q, summary.dataset_id, metric, summary.rows);
    if (!loaded)
      throw new ConflictError(`dataset ${summary.dataset_id} changed while its analytics were read`);
    index = loaded;
    if (sortedIndexes.size >= SORTED_INDEXES_KEPT) sortedIndexes.delete(sortedIndexes.keys().next().value!);
    sortedIndexes.set(key, index);
  }
  return { ...index, chunks: new Map() };
}

/**
 * `GET /datasets/:id/histogram`: edges and counts of a metric over [lo, hi] — the data's
 * extremes (minmax), its 1st and 99th percentiles (p1p99), or explicit bounds — with bins
 * half-open but the last closed, and one bin where lo = hi. Unfiltered questions at the standard
 * ranges and bin numbers are read from the precomputed stats; other fleet-wide ones are counted
 * from the stored sorted values (the chunk each edge falls in, no rows read); one host's from its
 * rows, sorted here.
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

    if (q.hostId !== undefined) {
      // One host: its values of the metric, from the covering index, sorted and counted here.
      const v = (await hostValues(pool, id, q.hostId, metric)).sort();
      let lo: number;
      let hi: number;
      if (range.kind === 'explicit') {
        lo = range.lo;
        hi = range.hi;
        explicitHistogramEdges(lo, hi, q.bins);
      } else if (v.length === 0) {
        return answer(null, null, [], 0, 0, 0);
      } else if (range.kind === 'minmax') {
        const mo = moments(v);
        lo = mo.min;
        hi = mo.max;
      } else {
        lo = percentileOfSorted(v, 0.01);
        hi = percentileOfSorted(v, 0.99);
      }
      const h = histogramOfSorted(sortedColumnOf(v, Math.max(1, v.length)), histogramEdges(lo, hi, q.bins));
      return answer(lo, hi, h.counts, h.below, h.above, v.length);
    }
    // Bounds: explicit, or precomputed.
    let lo: number | null;
    let hi: number | null;
    if (range.kind === 'explicit') {
      lo = range.lo;
      hi = range.hi;
      explicitHistogramEdges(lo, hi, q.bins);
    } else {
      const stored = stats.histograms[metric][range.kind];
      lo = stored.lo;
      hi = stored.hi;
      // Where lo = hi every bin number gives the same one bin.
      const counts = stored.counts[String(q.bins)] ?? (lo === hi ? stored.counts['10'] : undefined);
      if (lo !== null && hi !== null && counts)
        return answer(lo, hi, counts, stored.below, stored.above, stats.summary.rows);
    }
    const total = stats.summary.rows;
    if (lo === null || hi === null) return answer(null, null, [], 0, 0, total);

    // Counts: the ranks of the edges among the metric's sorted values, reading only the chunks
    // the edges fall in.
    const edges = histogramEdges(lo, hi, q.bins);
    const col = await sortedColumn(pool, stats.summary, metric);
    await loadSortedChunks(pool, id, metric, col, chunksNeeded(col, histogramProbes(edges)));
    const h = histogramOfSorted(col, edges);
    return answer(lo, hi, h.counts, h.below, h.above, total);
  } catch (err) {
    throw toDatabaseError(err);
  }
}
