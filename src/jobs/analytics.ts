/**
 * Dataset analytics (DESIGN.md "Analytics"): summary, top-k values, time series and histograms
 * of a dataset's telemetry, all exact — the precompute and the answers. The SQL and COPY readers
 * are src/db/dataset-stats.ts, the kernels src/core/stats/summary.ts.
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
 * Answers are wire documents (snake_case, src/contract/analytics.ts): they go out as they are.
 */
import {
  ANALYTICS_LIMITS,
  BUCKET_NAMES,
  BUCKET_SECONDS,
  TIMESERIES_AGGS,
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
import { ConflictError, ValidationError } from '../core/errors.js';
import { MetricSpill } from '../core/stats/spill.js';
import {
  compareCounts,
  explicitHistogramEdges,
  histogramEdges,
  HostBuckets,
  levelCounts,
  levelOf,
  metricPass,
  MinuteRuns,
  moments,
  toArray,
  windowsOf,
  WINDOW_VALUES,
  type LevelFigures,
} from '../core/stats/summary.js';
import { ANOMALY_TYPES, METRICS, type MetricName } from '../core/types.js';
import { Turns } from '../core/turns.js';
import {
  aggregateSeries,
  checkedDatasetId,
  copyDatasetRows,
  copyHostRows,
  copyHostValues,
  createTelemetryIndexes,
  onOwnConnection,
  readSeriesColumns,
  readStats,
  readValueCounts,
  requireCompleted,
  storeStats,
  telemetryPartition,
  withStatsLock,
  type SeriesAgg,
  type StoredHistogram,
  type StoredStats,
  type ValueCounts,
} from '../db/dataset-stats.js';
import { toDatabaseError } from '../db/errors.js';
import type { Pool, PoolClient, Queryable } from '../db/pool.js';
import {
  chunksNeeded,
  chunkLength,
  histogramOfSorted,
  histogramProbes,
  percentileOfSorted,
  SORTED_CHUNK,
  sortedColumnOf,
  type SortedColumn,
} from '../core/stats/sorted.js';
import { loadSortedChunks, loadSortedIndex } from '../db/sorted-values.js';

/** Bin numbers whose histograms are precomputed (at both standard ranges, for every metric). */
export const STANDARD_BINS = [10, 20, 40, 50, 100] as const;

/** Aggregates stored per bucket and metric (count and anomalies are stored once per bucket). */
const STORED_AGGS = ['mean', 'min', 'max', 'p95'] as const;

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

/** What `dataset_stats` holds for a dataset: its summary is the wire document. */
type Stats = StoredStats<Summary>;

/** Partition names by dataset id (a dataset's partition keeps its name for its life). */
const partitions = new Map<string, string>();

/** The dataset's partition ({@link telemetryPartition}), remembered. */
async function partitionOf(q: Queryable, id: string): Promise<string> {
  const known = partitions.get(id);
  if (known !== undefined) return known;
  const name = await telemetryPartition(q, id);
  if (partitions.size > 1000) partitions.clear();
  partitions.set(id, name);
  return name;
}

/** The dataset's stats: read, or computed first when missing. */
async function statsOf(pool: Pool, datasetId: string): Promise<Stats> {
  const id = checkedDatasetId(datasetId);
  await requireCompleted(pool, id);
  const stored = await readStats<Summary>(pool, id);
  if (stored) return stored;
  await computeDatasetStats(pool, id);
  const computed = await readStats<Summary>(pool, id);
  if (!computed) throw new ConflictError(`dataset ${id} changed while its analytics were computed`);
  return computed;
}

// ---------------------------------------------------------------------------------------------
// Precompute
// ---------------------------------------------------------------------------------------------

const orNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * One binary COPY of `ts`, `is_anomaly` and every metric: the metrics go to a {@link MetricSpill};
 * the minutes are recorded as runs of arrival order ({@link MinuteRuns}).
 */
async function readRows(client: PoolClient, id: string, spill: MetricSpill) {
  const runs = new MinuteRuns();
  const k = METRICS.length;
  const stages = spill.stages;
  await copyDatasetRows(client, id, (us, anomalous, values) => {
    runs.add(us, anomalous);
    const s = spill.slot();
    for (let j = 0; j < k; j++) stages[j]![s] = values[j]!;
  });
  spill.flush();
  return {
    rows: runs.rows,
    tsMin: runs.tsMin,
    tsMax: runs.tsMax,
    anomalies: runs.anomalies,
    layout: runs.layout(),
  };
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
  const id = checkedDatasetId(datasetId);
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
  // One computation per pool at a time: it holds one connection while it waits for the dataset's
  // lock and then takes two more, so computations side by side could take every connection
  // waiting for locks and starve the one holding it. A waiter holds no connection.
  await computations.run(pool, () => computeUnderLock(pool, id, chunk, windowValues, options));
}

// Computations waiting for their turn, per pool (see computeDatasetStats).
const computations = new Turns<Pool>();

async function computeUnderLock(
  pool: Pool,
  id: string,
  chunk: number,
  windowValues: number,
  options: ComputeStatsOptions,
): Promise<void> {
  const started = performance.now();
  try {
    // Serialise across servers too: one computation per dataset at a time; a waiter finds the
    // result stored.
    await withStatsLock(pool, id, async (lockClient) => {
      await requireCompleted(lockClient, id);
      if (!options.force && (await readStats(lockClient, id))) return;
      const spill = new MetricSpill(METRICS);
      try {
        const stats = await computeStats(pool, lockClient, id, spill, chunk, windowValues, options.onStage);
        const mark = performance.now();
        await storeStats(
          lockClient,
          id,
          stats,
          (j, start, out) => spill.read(j, out, start),
          chunk,
          mark - started,
        );
        options.onStage?.('store (summary, series, sorted values)', performance.now() - mark);
      } finally {
        spill.close();
      }
    });
  } catch (err) {
    throw toDatabaseError(err);
  }
}

interface ComputedStats extends Stats {
  rows: number;
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
      const counts: ValueCounts = await readValueCounts(c, id);
      for (const list of Object.values(counts)) list.sort(compareCounts);
      return counts;
    }),
  );
  // Nothing is left unhandled when the COPY fails first.
  const settled = Promise.allSettled([indexes, topkCounts]);

  try {
    const read = await readRows(first, id, spill);
    stage('read by COPY: ts, is_anomaly and 8 metrics (spilled per metric)');
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
      const { count, anomalies } = levelCounts(layout, l);
      cols.set('count', count);
      cols.set('anomalies', anomalies);
      series.set(l.seconds, cols);
    }

    // One metric at a time, window by window through the same buffer.
    const cuts = windowsOf(layout, kept, windowValues);
    let widest = 0;
    for (let w = 0; w + 1 < cuts.length; w++)
      widest = Math.max(widest, layout.offsets[cuts[w + 1]!]! - layout.offsets[cuts[w]!]!);
    const window = new Float64Array(widest);
    const metricSummary = {} as Record<MetricName, MetricSummary>;
    const histograms = {} as Stats['histograms'];
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
    return { summary, topk, histograms, seriesBuckets, series, rows: nRows };
  } finally {
    await settled;
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

function checkNames(q: { metrics: readonly string[]; aggs?: readonly string[] }): void {
  for (const m of q.metrics) {
    if (!(METRICS as readonly string[]).includes(m))
      throw new RangeError(`metric must be one of ${METRICS.join(', ')}; got ${m}`);
  }
  for (const a of q.aggs ?? []) {
    if (!(TIMESERIES_AGGS as readonly string[]).includes(a))
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
    // An answer from buckets computed on demand.
    const bucketed = (r: {
      starts: ArrayLike<number>;
      counts: number[];
      anomalies: number[];
      values: Map<string, number[]>;
    }) => ({
      ...base,
      buckets: isoTimes(r.starts),
      counts: r.counts,
      anomalies: r.anomalies,
      series: seriesOf(q, (m, a) => (a === 'count' ? r.counts : r.values.get(`${m}.${a}`)!)),
    });

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
      const cols = await readSeriesColumns(pool, id, seconds, names);
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
      return bucketed(await hostSeries(pool, id, q, seconds));
    }

    // On demand: one GROUP BY over the filtered rows.
    const wanted: { metric: MetricName; agg: SeriesAgg }[] = [];
    for (const metric of q.metrics)
      for (const agg of q.aggs) if (agg !== 'count') wanted.push({ metric, agg });
    return bucketed(await aggregateSeries(pool, id, { from: q.from, to: q.to }, seconds, wanted));
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/**
 * One host's time series: its rows read in time order and reduced one bucket at a time
 * ({@link HostBuckets}), so memory holds one bucket's values.
 */
async function hostSeries(pool: Pool, id: string, q: TimeseriesQuery, seconds: number) {
  const metrics = q.aggs.some((a) => a !== 'count') ? q.metrics : [];
  const aggs = q.aggs.filter((a): a is Exclude<TimeseriesAgg, 'count'> => a !== 'count');
  const buckets = new HostBuckets(metrics, aggs, seconds);
  const partition = await partitionOf(pool, id);
  await copyHostRows(
    pool,
    partition,
    { hostId: q.hostId!, from: q.from, to: q.to },
    metrics,
    (us, anomalous, values) => buckets.add(us, anomalous, values),
  );
  buckets.finish();
  return buckets;
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
      const v = (await copyHostValues(pool, await partitionOf(pool, id), q.hostId, metric)).sort();
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
