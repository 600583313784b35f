/**
 * Dataset analytics against plain SQL over the raw rows: every answer, from the precomputed
 * stats and from the on-demand path, equals straightforward aggregates written here separately
 * (percentile_cont, sample stddev, epoch-aligned buckets, bins by their edges).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistogramQuerySchema, TimeseriesQuerySchema, TOPK_COLUMNS } from '../../src/contract/analytics.js';
import { histogramEdges } from '../../src/core/stats/summary.js';
import {
  computeDatasetStats,
  datasetHistogram,
  datasetSummary,
  datasetTimeseries,
  datasetTopK,
} from '../../src/jobs/analytics.js';
import { migrate } from '../../src/db/migrate.js';
import { decodeSortedChunk } from '../../src/core/stats/sorted.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { ANOMALY_TYPES, METRICS } from '../../src/core/types.js';
import { createEmptyDatabase, GENERATOR_SET_SQL } from '../helpers/db.js';

let pool: Pool;
const ds = randomUUID();
const running = randomUUID();
const empty = randomUUID();
const flat = randomUUID();
const shuffled = randomUUID();

/** Relative closeness to 1e-9 (absolute near zero). */
function close(a: number | null | undefined, b: number | null | undefined): void {
  expect(a === null || a === undefined, `${a} vs ${b}`).toBe(b === null || b === undefined);
  if (a === null || a === undefined || b === null || b === undefined) return;
  expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a), Math.abs(b)));
}

async function addDataset(id: string, status: string, rowsSql: string | null): Promise<void> {
  await pool.query(
    `INSERT INTO datasets (id, name, status, params, rows_total, host_count, ${GENERATOR_SET_SQL.columns}) VALUES ($1, 'test', $2, '{}', 0, 1, ${GENERATOR_SET_SQL.values})`,
    [id, status],
  );
  await pool.query(
    `CREATE TABLE "hta_${id.replaceAll('-', '')}" PARTITION OF host_telemetry_archival FOR VALUES IN ('${id}')`,
  );
  if (rowsSql) await pool.query(rowsSql, [id]);
}

beforeAll(async () => {
  pool = createPool(await createEmptyDatabase(), { max: 4 });
  await migrate(pool);
  // About 6 000 rows: 7 hosts in 3 projects and 3 regions, every 37 s over ~9 hours (so buckets
  // of every width hold unequal numbers of rows), metrics of varied scale with ties and clipping.
  await addDataset(
    ds,
    'completed',
    `INSERT INTO host_telemetry_archival
     SELECT $1, s * 7 + h, timestamptz '2024-03-01 22:13:00+00' + s * interval '37 s',
            'host-' || h, 'proj-' || (h % 3), 'region-' || (h % 3 + h % 2),
            least(100, greatest(0, 50 + 45 * sin(s / 40.0 + h) + ((s * 31 + h * 17) % 13))),
            round((30 + 20 * cos(s / 70.0 + h))::numeric, 1)::float8,
            ((s * 7919 + h * 104729) % 1000) / 3.0,
            exp(((s + h) % 50) / 10.0),
            ((s * h) % 17)::float8,
            (s % 9) * 0.25,
            1000 + ((s * 13 + h) % 101) * 1.5,
            CASE WHEN (s + h) % 11 = 0 THEN 0 ELSE ((s * 3 + h) % 7) / 7.0 END,
            (s + 2 * h) % 29 = 0,
            CASE WHEN (s + 2 * h) % 29 = 0 THEN (ARRAY['spike','drift','level_shift','stuck','noise_burst'])[1 + (s + h) % 5] END,
            CASE WHEN (s + 2 * h) % 29 = 0 THEN s END
       FROM generate_series(0, 859) s, generate_series(0, 6) h
      WHERE (s + h) % 23 <> 0`,
  );
  await addDataset(running, 'running', null);
  await addDataset(empty, 'completed', null);
  // Every value of every metric the same: lo = hi.
  await addDataset(
    flat,
    'completed',
    `INSERT INTO host_telemetry_archival
     SELECT $1, s, timestamptz '2024-01-01' + s * interval '1 min', 'h', 'p', 'r', 5, 5, 5, 5, 5, 5, 5, 5, false, NULL, NULL
       FROM generate_series(0, 9) s`,
  );
  // Rows stored out of time order: the precompute places them by minute itself.
  await addDataset(
    shuffled,
    'completed',
    `INSERT INTO host_telemetry_archival
     SELECT $1, s * 5 + h, timestamptz '2024-05-01 23:50:00+00' + s * interval '23 s',
            'h' || h, 'p', 'r', (s * 37 + h * 11) % 97, s % 13, h, 1, 2, 3, 4, ((s * h) % 7) / 7.0,
            s % 17 = 0, NULL, NULL
       FROM generate_series(0, 399) s, generate_series(0, 4) h
      ORDER BY (s * 7919 + h * 104729) % 1009`,
  );
  await computeDatasetStats(pool, ds);
});

afterAll(async () => {
  await pool?.end();
});

describe('dataset state', () => {
  it('refuses unknown, unfinished and malformed datasets', async () => {
    await expect(datasetSummary(pool, randomUUID())).rejects.toMatchObject({ code: 'not_found' });
    await expect(datasetSummary(pool, running)).rejects.toMatchObject({ code: 'conflict' });
    await expect(datasetSummary(pool, "x' OR '1'='1")).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(computeDatasetStats(pool, running)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('refuses names outside the fixed lists even past the schemas', async () => {
    const q = TimeseriesQuerySchema.parse({ metrics: 'cpu_usage', aggs: 'mean', bucket: '1h' });
    await expect(
      datasetTimeseries(pool, ds, { ...q, metrics: ['cpu_usage; DROP TABLE datasets' as 'cpu_usage'] }),
    ).rejects.toThrow(RangeError);
    await expect(datasetTopK(pool, ds, 'region; --' as 'region', 3)).rejects.toThrow(RangeError);
    await expect(datasetTopK(pool, ds, 'region', 0)).rejects.toThrow(RangeError);
  });
});

describe('summary', () => {
  it('equals plain SQL', async () => {
    const s = await datasetSummary(pool, ds);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT host_id)::int AS hosts, count(DISTINCT project_id)::int AS projects,
              count(DISTINCT region)::int AS regions, min(ts) AS t0, max(ts) AS t1,
              count(*) FILTER (WHERE is_anomaly)::int AS anomalies
         FROM host_telemetry_archival WHERE dataset_id = $1`,
      [ds],
    );
    const r = rows[0] as {
      n: number;
      hosts: number;
      projects: number;
      regions: number;
      t0: Date;
      t1: Date;
      anomalies: number;
    };
    expect(s.rows).toBe(r.n);
    expect(s.rows).toBeGreaterThan(5000);
    expect([s.hosts, s.projects, s.regions]).toEqual([r.hosts, r.projects, r.regions]);
    expect(s.time_range).toEqual({ from: r.t0.toISOString(), to: r.t1.toISOString() });
    expect(s.anomalies.total).toBe(r.anomalies);
    const byType = await pool.query<{ t: string; n: number }>(
      `SELECT anomaly_type AS t, count(*)::int AS n FROM host_telemetry_archival
        WHERE dataset_id = $1 AND anomaly_type IS NOT NULL GROUP BY 1`,
      [ds],
    );
    const want = Object.fromEntries(ANOMALY_TYPES.map((t) => [t, 0]));
    for (const x of byType.rows) want[x.t] = x.n;
    expect(s.anomalies.by_type).toEqual(want);
    for (const m of METRICS) {
      const { rows: mr } = await pool.query(
        `SELECT min(${m}) AS min, max(${m}) AS max, avg(${m}) AS mean, stddev_samp(${m}) AS sd,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY ${m}) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY ${m}) AS p95,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ${m}) AS p99
           FROM host_telemetry_archival WHERE dataset_id = $1`,
        [ds],
      );
      const e = mr[0] as Record<string, number>;
      const got = s.metrics[m];
      close(got.min, e.min);
      close(got.max, e.max);
      close(got.mean, e.mean);
      close(got.stddev, e.sd);
      close(got.p50, e.p50);
      close(got.p95, e.p95);
      close(got.p99, e.p99);
    }
  });

  it('describes an empty dataset with nulls', async () => {
    const s = await datasetSummary(pool, empty);
    expect(s.rows).toBe(0);
    expect(s.time_range).toEqual({ from: null, to: null });
    expect(s.metrics.cpu_usage).toEqual({
      min: null,
      max: null,
      mean: null,
      stddev: null,
      p50: null,
      p95: null,
      p99: null,
    });
  });
});

describe('topk', () => {
  it.each(TOPK_COLUMNS)('%s equals plain SQL', async (column) => {
    const { rows } = await pool.query<{ v: string | null; n: number }>(
      `SELECT ${column} AS v, count(*)::int AS n FROM host_telemetry_archival WHERE dataset_id = $1
        GROUP BY 1 ORDER BY 2 DESC, 1 ASC NULLS LAST`,
      [ds],
    );
    const total = rows.reduce((a, r) => a + r.n, 0);
    const got = await datasetTopK(pool, ds, column, 2);
    expect(got.total).toBe(total);
    expect(got.distinct).toBe(rows.length);
    expect(got.items).toEqual(rows.slice(0, 2).map((r) => ({ value: r.v, count: r.n, share: r.n / total })));
    const all = await datasetTopK(pool, ds, column, 1000);
    expect(all.items.map((i) => [i.value, i.count])).toEqual(rows.map((r) => [r.v, r.n]));
  });
});

describe('timeseries', () => {
  const plain = async (seconds: number, metric: string, filter = '', params: unknown[] = []) => {
    const { rows } = await pool.query(
      `SELECT floor(extract(epoch FROM ts) / ${seconds}) * ${seconds} AS b, count(*)::int AS n,
              (count(*) FILTER (WHERE is_anomaly))::int AS a, avg(${metric}) AS mean, min(${metric}) AS min,
              max(${metric}) AS max, percentile_cont(0.95) WITHIN GROUP (ORDER BY ${metric}) AS p95
         FROM host_telemetry_archival WHERE dataset_id = $1 ${filter} GROUP BY 1 ORDER BY 1`,
      [ds, ...params],
    );
    return rows as { b: string; n: number; a: number; mean: number; min: number; max: number; p95: number }[];
  };

  const check = (
    got: Awaited<ReturnType<typeof datasetTimeseries>>,
    want: Awaited<ReturnType<typeof plain>>,
    metrics: string[],
  ) => {
    expect(got.buckets).toEqual(want.map((w) => new Date(Number(w.b) * 1000).toISOString()));
    expect(got.counts).toEqual(want.map((w) => w.n));
    expect(got.anomalies).toEqual(want.map((w) => w.a));
    for (const s of got.series) {
      expect(metrics).toContain(s.metric);
      expect(s.values.length).toBe(want.length);
    }
  };

  it.each([
    ['1m', 60],
    ['5m', 300],
    ['1h', 3600],
    ['1d', 86_400],
  ] as const)('unfiltered %s equals plain SQL for every metric and aggregate', async (bucket, seconds) => {
    const q = TimeseriesQuerySchema.parse({
      metrics: METRICS.join(','),
      aggs: 'mean,min,max,p95,count',
      bucket,
    });
    const got = await datasetTimeseries(pool, ds, q);
    expect(got.series).toHaveLength(METRICS.length * 5);
    for (const m of METRICS) {
      const want = await plain(seconds, m);
      check(got, want, [...METRICS]);
      for (const agg of ['mean', 'min', 'max', 'p95'] as const) {
        const s = got.series.find((x) => x.metric === m && x.agg === agg)!;
        s.values.forEach((v, i) => close(v, want[i]![agg]));
      }
      expect(got.series.find((x) => x.metric === m && x.agg === 'count')!.values).toEqual(
        want.map((w) => w.n),
      );
    }
  });

  it('one host and a time range equal plain SQL', async () => {
    const q = TimeseriesQuerySchema.parse({
      metrics: 'cpu_usage,error_rate',
      aggs: 'p95,mean,count',
      bucket: '5m',
      host_id: 'host-3',
      from: '2024-03-02T00:00:00Z',
      to: '2024-03-02T04:30:00+02:00',
    });
    const got = await datasetTimeseries(pool, ds, q);
    for (const m of ['cpu_usage', 'error_rate']) {
      const want = await plain(300, m, `AND host_id = $2 AND ts >= $3 AND ts < $4`, [
        'host-3',
        '2024-03-02T00:00:00Z',
        '2024-03-02T02:30:00Z',
      ]);
      expect(want.length).toBeGreaterThan(10);
      check(got, want, ['cpu_usage', 'error_rate']);
      got.series
        .find((s) => s.metric === m && s.agg === 'p95')!
        .values.forEach((v, i) => close(v, want[i]!.p95));
      got.series
        .find((s) => s.metric === m && s.agg === 'mean')!
        .values.forEach((v, i) => close(v, want[i]!.mean));
    }
    expect(got.series.map((s) => `${s.metric}.${s.agg}`)).toEqual([
      'cpu_usage.p95',
      'cpu_usage.mean',
      'cpu_usage.count',
      'error_rate.p95',
      'error_rate.mean',
      'error_rate.count',
    ]);
  });

  it('gives an empty series for an unknown host and refuses spans over the cap', async () => {
    const none = await datasetTimeseries(
      pool,
      ds,
      TimeseriesQuerySchema.parse({ metrics: 'cpu_usage', aggs: 'mean', bucket: '1h', host_id: 'nobody' }),
    );
    expect(none.buckets).toEqual([]);
    expect(none.series[0]!.values).toEqual([]);
    // From 1970 at 1m buckets: the range clips to the data, so this is accepted…
    const wide = TimeseriesQuerySchema.parse({
      metrics: 'cpu_usage',
      aggs: 'count',
      bucket: '1m',
      from: '1970-01-01T00:00:00Z',
    });
    expect((await datasetTimeseries(pool, ds, wide)).buckets.length).toBeGreaterThan(400);
  });
});

describe('histogram', () => {
  /** Bins by the edges, in plain SQL. */
  const plain = async (metric: string, edges: number[], filter = '', params: unknown[] = []) => {
    const bins = edges.length - 1;
    const parts = edges
      .slice(0, bins)
      .map((lo, i) =>
        i === bins - 1
          ? `count(*) FILTER (WHERE ${metric} >= ${lo} AND ${metric} <= ${edges[bins]})::int`
          : `count(*) FILTER (WHERE ${metric} >= ${lo} AND ${metric} < ${edges[i + 1]})::int`,
      );
    const { rows } = await pool.query(
      `SELECT ARRAY[${parts.join(', ')}] AS counts,
              count(*) FILTER (WHERE ${metric} < ${edges[0]})::int AS below,
              count(*) FILTER (WHERE ${metric} > ${edges[bins]})::int AS above, count(*)::int AS n
         FROM host_telemetry_archival WHERE dataset_id = $1 ${filter}`,
      [ds, ...params],
    );
    return rows[0] as { counts: number[]; below: number; above: number; n: number };
  };
  const bounds = async (metric: string, filter = '', params: unknown[] = []) => {
    const { rows } = await pool.query(
      `SELECT min(${metric}) AS min, max(${metric}) AS max,
              percentile_cont(0.01) WITHIN GROUP (ORDER BY ${metric}) AS p1,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY ${metric}) AS p99
         FROM host_telemetry_archival WHERE dataset_id = $1 ${filter}`,
      [ds, ...params],
    );
    return rows[0] as { min: number; max: number; p1: number; p99: number };
  };

  it.each(METRICS.flatMap((m) => ['minmax', 'p1p99'].flatMap((r) => [40, 7].map((b) => [m, r, b] as const))))(
    '%s range %s with %d bins equals plain SQL',
    async (metric, range, bins) => {
      const got = await datasetHistogram(
        pool,
        ds,
        HistogramQuerySchema.parse({ metric, range, bins: String(bins) }),
      );
      const b = await bounds(metric);
      const [lo, hi] = range === 'minmax' ? [b.min, b.max] : [b.p1, b.p99];
      close(got.lo, lo);
      close(got.hi, hi);
      expect(got.bins).toBe(bins);
      expect(got.edges).toEqual(histogramEdges(got.lo!, got.hi!, bins));
      const want = await plain(metric, got.edges);
      expect(got.counts).toEqual(want.counts);
      expect([got.below, got.above, got.total]).toEqual([want.below, want.above, want.n]);
      expect(got.counts.reduce((a, c) => a + c, 0) + got.below + got.above).toBe(want.n);
    },
  );

  it('one host, explicit ranges and lo = hi equal plain SQL', async () => {
    const host = await datasetHistogram(
      pool,
      ds,
      HistogramQuerySchema.parse({ metric: 'memory_usage', range: 'p1p99', bins: '13', host_id: 'host-5' }),
    );
    const b = await bounds('memory_usage', 'AND host_id = $2', ['host-5']);
    close(host.lo, b.p1);
    close(host.hi, b.p99);
    const hw = await plain('memory_usage', host.edges, 'AND host_id = $2', ['host-5']);
    expect([host.counts, host.below, host.above, host.total]).toEqual([hw.counts, hw.below, hw.above, hw.n]);

    // An explicit range whose edges fall on data values (multiples of 0.25) and cut some off.
    const ex = await datasetHistogram(
      pool,
      ds,
      HistogramQuerySchema.parse({ metric: 'load_avg', range: '0.25,1.75', bins: '6' }),
    );
    expect(ex.edges).toEqual([0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75]);
    const ew = await plain('load_avg', ex.edges);
    expect([ex.counts, ex.below, ex.above]).toEqual([ew.counts, ew.below, ew.above]);
    expect(ex.below).toBeGreaterThan(0);
    expect(ex.above).toBeGreaterThan(0);

    const point = await datasetHistogram(
      pool,
      ds,
      HistogramQuerySchema.parse({ metric: 'load_avg', range: '1,1', bins: '10' }),
    );
    const { rows } = await pool.query(
      `SELECT count(*) FILTER (WHERE load_avg = 1)::int AS n FROM host_telemetry_archival WHERE dataset_id = $1`,
      [ds],
    );
    expect(point.bins).toBe(1);
    expect(point.edges).toEqual([1, 1]);
    expect(point.counts).toEqual([(rows[0] as { n: number }).n]);

    const same = await datasetHistogram(
      pool,
      flat,
      HistogramQuerySchema.parse({ metric: 'cpu_usage', bins: '40' }),
    );
    expect([same.lo, same.hi, same.bins, same.counts]).toEqual([5, 5, 1, [10]]);
    const sameOdd = await datasetHistogram(
      pool,
      flat,
      HistogramQuerySchema.parse({ metric: 'cpu_usage', bins: '33' }),
    );
    expect(sameOdd.counts).toEqual([10]);

    const none = await datasetHistogram(pool, empty, HistogramQuerySchema.parse({ metric: 'cpu_usage' }));
    expect([none.lo, none.hi, none.bins, none.total]).toEqual([null, null, 0, 0]);
  });

  it('fleet-wide, any range and bin number equal plain SQL, from sorted chunks of any size', async () => {
    const asked = [
      ['cpu_usage', '20,80', 40],
      ['cpu_usage', 'minmax', 37],
      ['memory_usage', 'p1p99', 3],
      ['load_avg', '0.25,1.75', 6], // edges on data values
      ['load_avg', '-1,5', 1000],
      ['error_rate', '0,0', 5], // lo = hi on a value many rows hold
      ['latency_ms', '2000,3000', 9], // every value below
      ['network_in', '1e-300,1e300', 11],
    ] as const;
    for (const chunk of [4096, 7, 1]) {
      await computeDatasetStats(pool, ds, { force: true, sortedChunk: chunk });
      const { rows: stored } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM dataset_stats_sorted WHERE dataset_id = $1 AND metric = 'cpu_usage'`,
        [ds],
      );
      const total = (await datasetSummary(pool, ds)).rows;
      expect(stored[0]!.n).toBe(Math.ceil(total / chunk));
      for (const [metric, range, bins] of asked) {
        const got = await datasetHistogram(
          pool,
          ds,
          HistogramQuerySchema.parse({ metric, range, bins: String(bins) }),
        );
        const want = await plain(metric, got.edges);
        expect(
          [got.counts, got.below, got.above, got.total],
          `${metric} ${range} ${bins}, chunk ${chunk}`,
        ).toEqual([want.counts, want.below, want.above, want.n]);
      }
    }
  });

  it("stores each metric's values in the order of ORDER BY, chunk after chunk", async () => {
    await computeDatasetStats(pool, ds, { force: true, sortedChunk: 500 });
    for (const metric of METRICS) {
      const { rows } = await pool.query<{
        first_rank: string;
        first_value: number;
        last_value: number;
        data: Buffer;
      }>(
        `SELECT first_rank, first_value, last_value, data FROM dataset_stats_sorted
          WHERE dataset_id = $1 AND metric = $2 ORDER BY chunk`,
        [ds, metric],
      );
      const values: number[] = [];
      for (const r of rows) {
        expect(Number(r.first_rank)).toBe(values.length);
        const chunk = [...decodeSortedChunk(r.data)];
        expect([chunk[0], chunk[chunk.length - 1]]).toEqual([r.first_value, r.last_value]);
        values.push(...chunk);
      }
      const { rows: want } = await pool.query<{ v: number }>(
        `SELECT ${metric} AS v FROM host_telemetry_archival WHERE dataset_id = $1 ORDER BY ${metric}`,
        [ds],
      );
      expect(values).toEqual(want.map((r) => r.v));
    }
  });
});

describe('window by window', () => {
  /** Everything the precompute stores of a dataset but its timing. */
  const stored = async (id: string) => {
    const { rows: stats } = await pool.query(
      `SELECT summary - 'computed_at' AS summary, topk, histograms, series_buckets FROM dataset_stats WHERE dataset_id = $1`,
      [id],
    );
    const { rows: series } = await pool.query(
      `SELECT bucket_s, name, data FROM dataset_stats_series WHERE dataset_id = $1 ORDER BY bucket_s, name`,
      [id],
    );
    const { rows: chunks } = await pool.query<{ metric: string; data: Buffer }>(
      `SELECT metric, data FROM dataset_stats_sorted WHERE dataset_id = $1 ORDER BY metric, chunk`,
      [id],
    );
    const sorted: Record<string, number[]> = {};
    for (const c of chunks) (sorted[c.metric] ??= []).push(...decodeSortedChunk(c.data));
    return { stats, series, sorted };
  };

  it.each([
    ['in time order', () => ds],
    ['out of time order', () => shuffled],
  ])('%s, stores the same whatever the window and chunk sizes', async (_, which) => {
    const id = which();
    await computeDatasetStats(pool, id, { force: true });
    const whole = await stored(id);
    // Windows of a few rows (one bucket of the coarsest width each, as buckets are not cut) and
    // a few hours; chunks of one value up to more than the rows.
    for (const [windowValues, sortedChunk] of [
      [1, 1],
      [37, 7],
      [900, 4096],
    ] as const) {
      await computeDatasetStats(pool, id, { force: true, windowValues, sortedChunk });
      const got = await stored(id);
      expect(got.stats).toEqual(whole.stats);
      expect(got.series).toEqual(whole.series);
      expect(got.sorted).toEqual(whole.sorted);
    }
  });
});

describe('rows stored out of time order', () => {
  it('give the same series, summary and one-host answers as plain SQL', async () => {
    const s = await datasetSummary(pool, shuffled);
    expect(s.rows).toBe(2000);
    const { rows: p } = await pool.query(
      `SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY cpu_usage) AS p95, avg(cpu_usage) AS mean,
              stddev_samp(cpu_usage) AS sd
         FROM host_telemetry_archival WHERE dataset_id = $1`,
      [shuffled],
    );
    close(s.metrics.cpu_usage.p95, (p[0] as { p95: number }).p95);
    close(s.metrics.cpu_usage.mean, (p[0] as { mean: number }).mean);
    close(s.metrics.cpu_usage.stddev, (p[0] as { sd: number }).sd);
    // The last: one host of the other dataset at 1m, where buckets hold one or two rows.
    for (const [bucket, seconds, host, dataset] of [
      ['1m', 60, undefined, shuffled],
      ['1h', 3600, undefined, shuffled],
      ['5m', 300, 'h3', shuffled],
      ['1m', 60, 'host-2', ds],
    ] as const) {
      const got = await datasetTimeseries(
        pool,
        dataset,
        TimeseriesQuerySchema.parse({
          metrics: 'cpu_usage,error_rate',
          aggs: 'mean,min,max,p95,count',
          bucket,
          ...(host ? { host_id: host } : {}),
        }),
      );
      for (const m of ['cpu_usage', 'error_rate'] as const) {
        const { rows } = await pool.query(
          `SELECT floor(extract(epoch FROM ts) / ${seconds}) * ${seconds} AS b, count(*)::int AS n,
                  (count(*) FILTER (WHERE is_anomaly))::int AS a, avg(${m}) AS mean, min(${m}) AS min,
                  max(${m}) AS max, percentile_cont(0.95) WITHIN GROUP (ORDER BY ${m}) AS p95
             FROM host_telemetry_archival WHERE dataset_id = $1 ${host ? 'AND host_id = $2' : ''}
            GROUP BY 1 ORDER BY 1`,
          host ? [dataset, host] : [dataset],
        );
        const want = rows as {
          b: string;
          n: number;
          a: number;
          mean: number;
          min: number;
          max: number;
          p95: number;
        }[];
        expect(want.length).toBeGreaterThan(1);
        expect(got.buckets).toEqual(want.map((w) => new Date(Number(w.b) * 1000).toISOString()));
        expect(got.counts).toEqual(want.map((w) => w.n));
        expect(got.anomalies).toEqual(want.map((w) => w.a));
        for (const agg of ['mean', 'min', 'max', 'p95'] as const) {
          const series = got.series.find((x) => x.metric === m && x.agg === agg)!;
          series.values.forEach((v, i) => close(v, want[i]![agg]));
        }
      }
    }
  });
});
