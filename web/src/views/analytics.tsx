/**
 * Dataset Analytics: summary cards, top-k bars, a time series of chosen metrics and aggregates
 * with the anomalous buckets shaded (per host or fleet-wide), and histograms. Its choices live
 * in the URL, so an alert can link to its host's series around the alert.
 */
import { useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import {
  ANALYTICS_LIMITS,
  ANALYTICS_METRICS,
  BUCKET_NAMES,
  BUCKET_SECONDS,
  TIMESERIES_AGGS,
  parseHistogramRange,
  TOPK_COLUMNS,
  type AnalyticsMetric,
  type BucketName,
  type Histogram,
  type Summary,
  type Timeseries,
  type TimeseriesAgg,
  type TopKColumn,
} from '../../../src/contract/analytics.js';
import { useApi } from '../api-context.js';
import { datasetLabel, useDatasets } from '../data.js';
import { fmtInt, fmtNum, fmtPct, fmtTime } from '../format.js';
import { hrefOf, Link, setParams, useLocation } from '../router.js';
import { useAsync } from '../use-async.js';
import { Chart, seriesColor } from '../components/chart.js';
import { AsyncList, AsyncView, Empty } from '../components/states.js';
import { Bars, Card, CompletedChooser, FigureCells, numeric, Panel, Table } from '../components/widgets.js';

const TOPK_TITLES: Record<TopKColumn, string> = {
  region: 'Regions',
  project_id: 'Projects',
  host_id: 'Hosts',
  anomaly_type: 'Anomaly types',
};

/** Most buckets the default bucket width may give. */
const DEFAULT_MAX_BUCKETS = 5000;

/** The finest bucket that keeps a span of `spanS` seconds within a few thousand buckets. */
export function defaultBucket(spanS: number): BucketName {
  return BUCKET_NAMES.find((b) => spanS / BUCKET_SECONDS[b] <= DEFAULT_MAX_BUCKETS) ?? '1d';
}

/** Members of `allowed` listed in a comma-separated URL parameter, else `fallback`. */
function listParam<T extends string>(text: string | null, allowed: readonly T[], fallback: T[]): T[] {
  if (!text) return fallback;
  const items = text.split(',').filter((x): x is T => (allowed as readonly string[]).includes(x));
  return items.length > 0 ? [...new Set(items)] : fallback;
}

function SummaryCards({ s }: { s: Summary }) {
  const byType = Object.entries(s.anomalies.by_type)
    .map(([type, count]) => ({ label: type, count, share: s.rows > 0 ? count / s.rows : 0 }))
    .sort((a, b) => b.count - a.count);
  return (
    <>
      <div className="cards">
        <Card label="Rows" value={fmtInt(s.rows)} />
        <Card label="Hosts" value={fmtInt(s.hosts)} />
        <Card label="Projects" value={fmtInt(s.projects)} />
        <Card label="Regions" value={fmtInt(s.regions)} />
        <Card
          label="Anomalous rows"
          value={fmtInt(s.anomalies.total)}
          note={fmtPct(s.rows > 0 ? s.anomalies.total / s.rows : null, 2)}
        />
        <Card label="From" value={<small>{fmtTime(s.time_range.from)}</small>} />
        <Card label="To" value={<small>{fmtTime(s.time_range.to)}</small>} />
      </div>
      <div className="grid-2">
        <Panel title="Metrics">
          <div className="table-wrap">
            <Table
              label="Metric summary"
              columns={['metric', ...['min', 'p50', 'mean', 'p95', 'p99', 'max', 'stddev'].map(numeric)]}
            >
              {ANALYTICS_METRICS.map((m) => {
                const x = s.metrics[m];
                return (
                  <tr key={m}>
                    <td>{m}</td>
                    <FigureCells
                      values={[x?.min, x?.p50, x?.mean, x?.p95, x?.p99, x?.max, x?.stddev].map((v) =>
                        fmtNum(v),
                      )}
                    />
                  </tr>
                );
              })}
            </Table>
          </div>
        </Panel>
        <Panel title="Anomalous rows by type">
          {s.anomalies.total === 0 ? (
            <Empty>No labelled anomalies in this dataset.</Empty>
          ) : (
            <Bars title="Anomalous rows by type" items={byType} />
          )}
        </Panel>
      </div>
    </>
  );
}

function TopKPanel({ datasetId, column }: { datasetId: string; column: TopKColumn }) {
  const api = useApi();
  const state = useAsync(() => api.topk(datasetId, column, 10), [api, datasetId, column]);
  return (
    <Panel title={`Top ${TOPK_TITLES[column].toLowerCase()}`}>
      <AsyncList state={state} empty="No rows.">
        {(t) => (
          <>
            <Bars
              title={`Top ${column}`}
              items={t.items.map((i) => ({
                label: i.value ?? (column === 'anomaly_type' ? 'normal' : '(none)'),
                count: i.count,
                share: i.share,
              }))}
            />
            <p className="legend-note">
              {t.items.length} of {fmtInt(t.distinct)} distinct values · {fmtInt(t.total)} rows
            </p>
          </>
        )}
      </AsyncList>
    </Panel>
  );
}

/** uPlot data and options of a time series, anomalous buckets shaded. */
function useSeriesChart(ts: Timeseries) {
  const anomalies = useRef(ts);
  anomalies.current = ts;
  const labels = ts.series.map((s) => `${s.metric} ${s.agg}`).join('|');
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      scales: { x: { time: true } },
      // Telemetry time is UTC, as everywhere in TADS
      tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      series: [
        { label: 'time' },
        ...labels
          .split('|')
          .map((label, i) => ({ label, stroke: seriesColor(i), width: 1.5, points: { show: false } })),
      ],
      axes: [{ space: 90 }, { size: 60 }],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        drawClear: [
          (u: uPlot) => {
            // Shade the buckets holding labelled anomalies, under the lines
            const t = anomalies.current;
            const ctx = u.ctx;
            ctx.save();
            ctx.fillStyle = 'rgba(220, 38, 38, 0.14)';
            const top = u.bbox.top;
            const h = u.bbox.height;
            t.buckets.forEach((b, i) => {
              if ((t.anomalies[i] ?? 0) === 0) return;
              const x0 = Date.parse(b) / 1000;
              const l = u.valToPos(x0, 'x', true);
              const r = u.valToPos(x0 + t.bucket_seconds, 'x', true);
              ctx.fillRect(l, top, Math.max(1, r - l), h);
            });
            ctx.restore();
          },
        ],
      },
    }),
    [labels],
  );
  const data = useMemo<uPlot.AlignedData>(
    () => [ts.buckets.map((b) => Date.parse(b) / 1000), ...ts.series.map((s) => s.values)],
    [ts],
  );
  return { options, data };
}

function SeriesChart({ ts }: { ts: Timeseries }) {
  const { options, data } = useSeriesChart(ts);
  const anomalous = ts.anomalies.filter((a) => a > 0).length;
  return (
    <>
      <Chart title="Time series" options={options} data={data} height={320} />
      <p className="legend-note">
        {fmtInt(ts.buckets.length)} buckets of {ts.bucket} · {ts.host_id ?? 'fleet-wide'} · shaded:{' '}
        {fmtInt(anomalous)} buckets with labelled anomalies · drag to zoom, double-click to reset
      </p>
    </>
  );
}

function TimeseriesPanel({
  datasetId,
  summary,
  hosts,
}: {
  datasetId: string;
  summary: Summary;
  hosts: string[];
}) {
  const api = useApi();
  const { params } = useLocation();
  const metrics = listParam<AnalyticsMetric>(params.get('metrics'), ANALYTICS_METRICS, ['cpu_usage']);
  const aggs = listParam<TimeseriesAgg>(params.get('aggs'), TIMESERIES_AGGS, ['mean']);
  const host = params.get('host') ?? '';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const span =
    summary.time_range.from && summary.time_range.to
      ? (Date.parse(to || summary.time_range.to) - Date.parse(from || summary.time_range.from)) / 1000
      : 86_400;
  const bucketParam = params.get('bucket');
  const bucket: BucketName = (BUCKET_NAMES as readonly string[]).includes(bucketParam ?? '')
    ? (bucketParam as BucketName)
    : defaultBucket(span);

  const state = useAsync(
    () =>
      api.timeseries(datasetId, {
        metrics,
        aggs,
        bucket,
        ...(host ? { host_id: host } : {}),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
      }),
    [api, datasetId, metrics.join(), aggs.join(), bucket, host, from, to],
  );

  const toggle = <T extends string>(key: string, list: T[], item: T) => {
    const next = list.includes(item) ? list.filter((x) => x !== item) : [...list, item];
    if (next.length > 0) setParams({ [key]: next.join(',') });
  };

  return (
    <Panel
      title="Time series"
      actions={
        <>
          <select aria-label="Host" value={host} onChange={(e) => setParams({ host: e.target.value })}>
            <option value="">fleet-wide</option>
            {hosts.map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
          <select aria-label="Bucket" value={bucket} onChange={(e) => setParams({ bucket: e.target.value })}>
            {BUCKET_NAMES.map((b) => (
              <option key={b} value={b}>
                {b} buckets
              </option>
            ))}
          </select>
          {(from || to) && (
            <button
              type="button"
              className="secondary"
              onClick={() => setParams({ from: undefined, to: undefined })}
            >
              Whole range
            </button>
          )}
        </>
      }
    >
      <div className="checks" aria-label="Metrics">
        {ANALYTICS_METRICS.map((m) => (
          <label className="check" key={m}>
            <input
              type="checkbox"
              checked={metrics.includes(m)}
              onChange={() => toggle('metrics', metrics, m)}
            />
            {m}
          </label>
        ))}
      </div>
      <div className="checks" aria-label="Aggregates">
        {TIMESERIES_AGGS.map((a) => (
          <label className="check" key={a}>
            <input type="checkbox" checked={aggs.includes(a)} onChange={() => toggle('aggs', aggs, a)} />
            {a}
          </label>
        ))}
      </div>
      {(from || to) && (
        <p className="legend-note">
          From {from ? fmtTime(from) : 'the start'} to {to ? fmtTime(to) : 'the end'}
        </p>
      )}
      <AsyncView
        state={state}
        isEmpty={(t) => t.buckets.length === 0}
        empty="No rows in this range."
        loadingText="Loading series"
      >
        {(t) => <SeriesChart ts={t} />}
      </AsyncView>
    </Panel>
  );
}

function HistogramChart({ h }: { h: Histogram }) {
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      scales: { x: { time: false } },
      series: [
        { label: h.metric },
        {
          label: 'rows',
          stroke: '#2563eb',
          fill: 'rgba(37, 99, 235, 0.35)',
          paths: (u: uPlot, si: number, i0: number, i1: number) =>
            // Bars from each bin's left edge to the next
            barsPath(u, si, i0, i1),
          points: { show: false },
        },
      ],
      axes: [{}, { size: 60 }],
      legend: { show: true },
    }),
    [h.metric],
  );
  const data = useMemo<uPlot.AlignedData>(() => [h.edges.slice(0, -1), h.counts], [h]);
  return (
    <>
      <Chart title={`Histogram of ${h.metric}`} options={options} data={data} height={240} />
      <p className="legend-note">
        {h.bins} bins over [{fmtNum(h.lo)}, {fmtNum(h.hi)}] · {fmtInt(h.total)} rows
        {h.below + h.above > 0 && ` · ${fmtInt(h.below)} below, ${fmtInt(h.above)} above the range`}
      </p>
    </>
  );
}

/** A bars path builder for step data, aligned to the left edge of each bin. */
function barsPath(u: uPlot, si: number, i0: number, i1: number): uPlot.Series.Paths | null {
  const xs = u.data[0];
  const ys = u.data[si];
  if (!ys) return null;
  const fill = new Path2D();
  const stroke = new Path2D();
  const y0 = u.valToPos(0, 'y', true);
  const step = xs.length > 1 ? (xs[1] ?? 0) - (xs[0] ?? 0) : 1;
  for (let i = i0; i <= i1; i++) {
    const y = ys[i];
    const x = xs[i];
    if (y === null || y === undefined || x === undefined) continue;
    const l = u.valToPos(x, 'x', true);
    const r = u.valToPos(x + step, 'x', true);
    const top = u.valToPos(y, 'y', true);
    fill.rect(l, top, Math.max(1, r - l - 1), y0 - top);
    stroke.rect(l, top, Math.max(1, r - l - 1), y0 - top);
  }
  return { fill, stroke };
}

function HistogramPanel({ datasetId }: { datasetId: string }) {
  const api = useApi();
  const { params } = useLocation();
  const host = params.get('host') ?? '';
  const metric =
    listParam<AnalyticsMetric>(params.get('hmetric'), ANALYTICS_METRICS, ['cpu_usage'])[0] ?? 'cpu_usage';
  // The range: minmax, p1p99, or bounds of the user's (kept in the URL as `lo,hi` once valid).
  const rangeParam = parseHistogramRange(params.get('hrange') ?? 'minmax') ?? { kind: 'minmax' };
  const [custom, setCustom] = useState(rangeParam.kind === 'explicit');
  const [loText, setLoText] = useState(rangeParam.kind === 'explicit' ? String(rangeParam.lo) : '');
  const [hiText, setHiText] = useState(rangeParam.kind === 'explicit' ? String(rangeParam.hi) : '');
  const rangeOk = !custom || parseHistogramRange(`${loText.trim()},${hiText.trim()}`) !== null;
  const range = rangeParam.kind === 'explicit' ? `${rangeParam.lo},${rangeParam.hi}` : rangeParam.kind;
  // Typed bounds apply as soon as they make a range (what is asked for stays in the URL).
  const typeBound = (lo: string, hi: string) => {
    setLoText(lo);
    setHiText(hi);
    const r = parseHistogramRange(`${lo.trim()},${hi.trim()}`);
    if (r?.kind === 'explicit') setParams({ hrange: `${r.lo},${r.hi}` });
  };

  const [binsText, setBinsText] = useState(params.get('bins') ?? String(ANALYTICS_LIMITS.defaultBins));
  const bins = Number(binsText);
  const binsOk = Number.isInteger(bins) && bins >= 1 && bins <= ANALYTICS_LIMITS.maxBins;
  const [applied, setApplied] = useState(binsOk ? bins : ANALYTICS_LIMITS.defaultBins);
  if (binsOk && bins !== applied) setApplied(bins);

  const state = useAsync(
    () => api.histogram(datasetId, { metric, bins: applied, range, ...(host ? { host_id: host } : {}) }),
    [api, datasetId, metric, applied, range, host],
  );
  const chooseRange = (value: string) => {
    if (value === 'custom') {
      // Start from the bounds on screen.
      setCustom(true);
      const h = state.data;
      if (h && h.lo !== null && h.hi !== null) typeBound(String(h.lo), String(h.hi));
      return;
    }
    setCustom(false);
    setParams({ hrange: value });
  };
  return (
    <Panel
      title="Histogram"
      actions={
        <>
          <select
            aria-label="Histogram metric"
            value={metric}
            onChange={(e) => setParams({ hmetric: e.target.value })}
          >
            {ANALYTICS_METRICS.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
          <select
            aria-label="Histogram range"
            value={custom ? 'custom' : range}
            onChange={(e) => chooseRange(e.target.value)}
          >
            <option value="minmax">min – max</option>
            <option value="p1p99">p1 – p99</option>
            <option value="custom">from – to</option>
          </select>
          {custom && (
            <>
              <input
                aria-label="Range from"
                type="number"
                style={{ width: 90 }}
                value={loText}
                aria-invalid={!rangeOk}
                onChange={(e) => typeBound(e.target.value, hiText)}
              />
              <input
                aria-label="Range to"
                type="number"
                style={{ width: 90 }}
                value={hiText}
                aria-invalid={!rangeOk}
                onChange={(e) => typeBound(loText, e.target.value)}
              />
            </>
          )}
          <label className="check">
            bins
            <input
              aria-label="Bins"
              type="number"
              style={{ width: 80 }}
              value={binsText}
              aria-invalid={!binsOk}
              onChange={(e) => setBinsText(e.target.value)}
            />
          </label>
        </>
      }
    >
      {!binsOk && (
        <div className="field-error">bins must be an integer in [1, {ANALYTICS_LIMITS.maxBins}]</div>
      )}
      {!rangeOk && <div className="field-error">the range needs two numbers, from ≤ to</div>}
      <AsyncView state={state} isEmpty={(h) => h.bins === 0} empty="No rows to count.">
        {(h) => <HistogramChart h={h} />}
      </AsyncView>
    </Panel>
  );
}

function DatasetAnalytics({ datasetId }: { datasetId: string }) {
  const api = useApi();
  const summary = useAsync(() => api.summary(datasetId), [api, datasetId]);
  const hosts = useAsync(() => api.topk(datasetId, 'host_id', ANALYTICS_LIMITS.maxK), [api, datasetId]);
  const hostIds = (hosts.data?.items.map((i) => i.value).filter((v): v is string => v !== null) ?? []).sort();
  return (
    <AsyncView state={summary} loadingText="Loading summary">
      {(s) =>
        s.rows === 0 ? (
          <Empty>This dataset has no rows.</Empty>
        ) : (
          <>
            <SummaryCards s={s} />
            <TimeseriesPanel datasetId={datasetId} summary={s} hosts={hostIds} />
            <div className="grid-2">
              {TOPK_COLUMNS.map((c) => (
                <TopKPanel key={c} datasetId={datasetId} column={c} />
              ))}
            </div>
            <HistogramPanel datasetId={datasetId} />
          </>
        )
      }
    </AsyncView>
  );
}

export function AnalyticsView() {
  const datasets = useDatasets(100);
  return (
    <CompletedChooser
      title="Dataset"
      param="dataset"
      list={datasets}
      optionLabel={datasetLabel}
      resets={['host', 'from', 'to']}
      empty={
        <>
          No completed dataset yet. <Link href={hrefOf('control')}>Generate one</Link>.
        </>
      }
    >
      {(datasetId) => <DatasetAnalytics key={datasetId} datasetId={datasetId} />}
    </CompletedChooser>
  );
}
