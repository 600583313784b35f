/**
 * Dataset analytics on a generated dataset of 10,000,000 rows (TADS_BENCH_SCALE=small:
 * 1,000,000): 100 hosts every 60 s for 100,000 steps (69 days; small: 10,000 steps), default
 * anomaly mix, loaded by the ingest (not timed here).
 *
 * - precompute: computeDatasetStats once (filter indexes side by side with the stats), then
 *   again with the indexes in place; the RSS is sampled every 20 ms during each run (the
 *   process's lifetime peak also holds the ingest's);
 * - latency (median of RUNS calls) of summary, topk, the unfiltered time series (1h and 1m,
 *   every metric × every aggregate) and histograms (minmax, p1p99, 40 bins) from the stored
 *   stats, then the on-demand paths: one host's series and histogram, a fleet-wide day, a
 *   fleet-wide explicit range (40 and 1,000 bins), and an unfiltered histogram at a
 *   non-standard bin number (both from the sorted values);
 * - disk: the rows' partition beside the stored sorted values.
 */
import { GENERATOR_METRIC_SET } from '../src/contract/vocabulary.js';
import { randomUUID } from 'node:crypto';
import { HistogramQuerySchema, TimeseriesQuerySchema } from '../src/contract/analytics.js';
import { generateParamsToWire, totalRowCount } from '../src/contract/generator.js';
import { parseGenerateParams } from '../src/core/generator.js';
import {
  computeDatasetStats,
  datasetHistogram,
  datasetSummary,
  datasetTimeseries,
  datasetTopK,
} from '../src/jobs/analytics.js';
import { createDataset } from '../src/db/datasets.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { ingestDataset } from '../src/generator/ingest.js';
import { benchDatabase, heading, peakRssMb, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const HOSTS = 100;
const STEPS = small ? 10_000 : 100_000;
const RUNS = 7;
const OWNER = 'bench-analytics';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeIt(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

const db = await benchDatabase();
const pool = createPool(db.url, { max: 4 });
try {
  await migrate(pool);
  const params = parseGenerateParams({
    hostCount: HOSTS,
    intervalS: 60,
    durationS: STEPS * 60,
    seed: 7,
    name: 'analytics-bench',
  });
  const id = randomUUID();
  await createDataset(pool, {
    id,
    name: params.name,
    params: generateParamsToWire(params),
    rowsTotal: totalRowCount(params),
    hostCount: params.hostCount,
    ...GENERATOR_METRIC_SET,
    owner: OWNER,
  });
  const { rows } = await ingestDataset(pool, { datasetId: id, params, owner: OWNER });

  heading(
    `Analytics (${rows.toLocaleString('en-US')} rows: ${HOSTS} hosts × ${STEPS.toLocaleString('en-US')} steps of 60 s)`,
  );

  // Precompute, twice: from scratch, then again with the indexes in place.
  const stages: Record<string, string | number>[] = [];
  // Peak RSS since the last stage ended (sampled every 20 ms; the precompute yields to the event
  // loop between windows, so the sampler runs during its in-memory work too).
  let stagePeak = 0;
  const sampled = async (fn: () => Promise<void>) => {
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      const rss = process.memoryUsage().rss;
      peak = Math.max(peak, rss);
      stagePeak = Math.max(stagePeak, rss);
    }, 20);
    const t = performance.now();
    try {
      await fn();
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    return { seconds: (performance.now() - t) / 1000, before: before / 2 ** 20, peak: peak / 2 ** 20 };
  };
  const first = await sampled(() =>
    computeDatasetStats(pool, id, {
      onStage: (stage, ms) => {
        const rss = process.memoryUsage().rss;
        stages.push({
          stage,
          ms,
          'peak RSS in it MB': Math.max(stagePeak, rss) / 2 ** 20,
          'RSS at its end MB': rss / 2 ** 20,
        });
        stagePeak = 0;
      },
    }),
  );
  const second = await sampled(() => computeDatasetStats(pool, id, { force: true }));
  table([
    {
      step: 'indexes + stats',
      seconds: first.seconds,
      'RSS before MB': first.before,
      'peak RSS during MB': first.peak,
    },
    {
      step: 'stats again (indexes exist)',
      seconds: second.seconds,
      'RSS before MB': second.before,
      'peak RSS during MB': second.peak,
    },
  ]);
  console.log(`process peak RSS (ingest included): ${peakRssMb().toFixed(0)} MB`);

  table(stages);
  // What the sorted values cost on disk, beside the rows themselves.
  const { rows: sizes } = await pool.query<{ rows_mb: number; sorted_mb: number }>(
    `SELECT (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'host_telemetry_archival'::regclass
                AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', $1::text)) / 1048576.0 AS rows_mb,
            (SELECT sum(pg_column_size(data)) FROM dataset_stats_sorted WHERE dataset_id = $1::text::uuid) / 1048576.0 AS sorted_mb`,
    [id],
  );
  console.log(
    `disk: the rows' partition with its indexes ${Number(sizes[0]!.rows_mb).toFixed(0)} MB; sorted values ${Number(sizes[0]!.sorted_mb).toFixed(0)} MB`,
  );
  // A host that exists, whatever the generator's naming.
  const host = (await datasetTopK(pool, id, 'host_id', 1)).items[0]!.value!;

  const ts = (q: Record<string, string>) => TimeseriesQuerySchema.parse(q);
  const hist = (q: Record<string, string>) => HistogramQuerySchema.parse(q);
  const ALL = 'cpu_usage,memory_usage,disk_io,network_in,network_out,load_avg,latency_ms,error_rate';
  const AGGS = 'mean,min,max,p95,count';
  // A day in the middle of the data.
  const from = new Date(Date.parse(params.start) + Math.floor(STEPS / 2880) * 86_400_000).toISOString();
  const to = new Date(Date.parse(from) + 86_400_000).toISOString();
  const cases: [string, () => Promise<unknown>][] = [
    ['summary', () => datasetSummary(pool, id)],
    ['topk host_id k=10', () => datasetTopK(pool, id, 'host_id', 10)],
    ['topk anomaly_type k=10', () => datasetTopK(pool, id, 'anomaly_type', 10)],
    [
      'timeseries 1h, 8 metrics × 5 aggs',
      () => datasetTimeseries(pool, id, ts({ metrics: ALL, aggs: AGGS, bucket: '1h' })),
    ],
    [
      'timeseries 1d, 8 metrics × 5 aggs',
      () => datasetTimeseries(pool, id, ts({ metrics: ALL, aggs: AGGS, bucket: '1d' })),
    ],
    [
      'timeseries 1m, cpu_usage × 5 aggs',
      () => datasetTimeseries(pool, id, ts({ metrics: 'cpu_usage', aggs: AGGS, bucket: '1m' })),
    ],
    [
      'histogram minmax 40 bins',
      () => datasetHistogram(pool, id, hist({ metric: 'cpu_usage', bins: '40', range: 'minmax' })),
    ],
    [
      'histogram p1p99 100 bins',
      () => datasetHistogram(pool, id, hist({ metric: 'latency_ms', bins: '100', range: 'p1p99' })),
    ],
    [
      'filtered: one host, timeseries 1h, cpu_usage × 5 aggs',
      () =>
        datasetTimeseries(pool, id, ts({ metrics: 'cpu_usage', aggs: AGGS, bucket: '1h', host_id: host })),
    ],
    [
      'filtered: one host, timeseries 1m, cpu_usage × 5 aggs',
      () =>
        datasetTimeseries(pool, id, ts({ metrics: 'cpu_usage', aggs: AGGS, bucket: '1m', host_id: host })),
    ],
    [
      'filtered: one host, histogram p1p99 40 bins',
      () =>
        datasetHistogram(pool, id, hist({ metric: 'cpu_usage', bins: '40', range: 'p1p99', host_id: host })),
    ],
    [
      'filtered: fleet, one day, timeseries 5m, 8 metrics × 5 aggs',
      () => datasetTimeseries(pool, id, ts({ metrics: ALL, aggs: AGGS, bucket: '5m', from, to })),
    ],
    [
      'filtered: fleet, explicit range 20,80, 40 bins',
      () => datasetHistogram(pool, id, hist({ metric: 'cpu_usage', bins: '40', range: '20,80' })),
    ],
    [
      'on demand: fleet, minmax, 37 bins',
      () => datasetHistogram(pool, id, hist({ metric: 'cpu_usage', bins: '37', range: 'minmax' })),
    ],
    [
      'on demand: fleet, explicit range 0,100, 1000 bins (the most)',
      () => datasetHistogram(pool, id, hist({ metric: 'memory_usage', bins: '1000', range: '0,100' })),
    ],
  ];
  const out: Record<string, string | number>[] = [];
  for (const [name, fn] of cases) {
    const runs = name.startsWith('filtered: fleet') || name.startsWith('on demand') ? 3 : RUNS;
    out.push({ question: name, 'median ms': await timeIt(fn, runs), runs });
  }
  table(out);
} finally {
  await pool.end();
  await db.close();
}
