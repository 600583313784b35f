// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Histogram, Summary, Timeseries, TopK } from '../../../src/contract/analytics.js';
import { AnalyticsView, defaultBucket } from './analytics.js';
import { dataset, fakeApi, renderWith } from '../test/support.js';

afterEach(cleanup);

const D = dataset();
const metric = { min: 1, max: 9, mean: 5, stddev: 2, p50: 5, p95: 8.5, p99: 8.9 };
const summary: Summary = {
  dataset_id: D.id,
  rows: 600,
  hosts: 5,
  projects: 3,
  regions: 2,
  time_range: { from: '2024-01-01T00:00:00.000Z', to: '2024-01-01T01:59:00.000Z' },
  metrics: {
    cpu_usage: metric,
    memory_usage: metric,
    disk_io: metric,
    network_in: metric,
    network_out: metric,
    load_avg: metric,
    latency_ms: metric,
    error_rate: metric,
  },
  anomalies: {
    total: 30,
    by_type: { spike: 10, drift: 20, level_shift: 0, stuck: 0, noise_burst: 0, correlation_break: 0 },
  },
  computed_at: '2024-01-01T03:00:00.000Z',
};
const topk = (_id: string, column: TopK['column']): Promise<TopK> =>
  Promise.resolve({
    dataset_id: D.id,
    column,
    k: 10,
    total: 600,
    distinct: 2,
    items:
      column === 'anomaly_type'
        ? [
            { value: null, count: 570, share: 0.95 },
            { value: 'drift', count: 20, share: 20 / 600 },
          ]
        : [
            { value: `${column}-a`, count: 360, share: 0.6 },
            { value: `${column}-b`, count: 240, share: 0.4 },
          ],
  });
const series: Timeseries = {
  dataset_id: D.id,
  bucket: '1m',
  bucket_seconds: 60,
  host_id: null,
  from: null,
  to: null,
  buckets: ['2024-01-01T00:00:00.000Z', '2024-01-01T00:01:00.000Z'],
  counts: [5, 5],
  anomalies: [0, 2],
  series: [{ metric: 'cpu_usage', agg: 'mean', values: [40, 60] }],
};
const histogram_: Histogram = {
  dataset_id: D.id,
  metric: 'cpu_usage',
  host_id: null,
  range: 'minmax',
  lo: 0,
  hi: 10,
  bins: 2,
  edges: [0, 5, 10],
  counts: [200, 400],
  below: 0,
  above: 0,
  total: 600,
};

function api(over = {}) {
  const timeseries = vi.fn(() => Promise.resolve(series));
  const histogram = vi.fn(() => Promise.resolve(histogram_));
  const a = fakeApi({
    listDatasets: () => Promise.resolve({ items: [D], next_cursor: null }),
    summary: () => Promise.resolve(summary),
    topk,
    timeseries,
    histogram,
    ...over,
  });
  return { a, timeseries, histogram };
}

describe('Dataset Analytics', () => {
  it('shows summary cards, top-k bars and the chosen series of the newest dataset', async () => {
    const { a, timeseries } = api();
    renderWith(a, <AnalyticsView />, '/analytics');
    expect(await screen.findByText('Anomalous rows')).toBeTruthy();
    const cards = Array.from(document.querySelectorAll('.card')).map((c) => c.textContent);
    expect(cards.slice(0, 5)).toEqual([
      'Rows600',
      'Hosts5',
      'Projects3',
      'Regions2',
      'Anomalous rows305.00 %',
    ]);
    const regions = await screen.findByRole('list', { name: 'Top region' });
    expect(
      within(regions)
        .getAllByRole('listitem')
        .map((i) => i.textContent),
    ).toEqual(['region-a360 (60.0 %)', 'region-b240 (40.0 %)']);
    const types = await screen.findByRole('list', { name: 'Top anomaly_type' });
    expect(within(types).getAllByRole('listitem')[0]?.textContent).toBe('normal570 (95.0 %)');
    await screen.findByText(/2 buckets of 1m · fleet-wide · shaded: 1 buckets with labelled anomalies/);
    expect(timeseries).toHaveBeenCalledWith(D.id, { metrics: ['cpu_usage'], aggs: ['mean'], bucket: '1m' });
  });

  it('follows a link to one host around a time, and adds metrics on request', async () => {
    const { a, timeseries } = api();
    renderWith(
      a,
      <AnalyticsView />,
      `/analytics?dataset=${D.id}&host=host-0003&from=2024-01-01T00:30:00.000Z&to=2024-01-01T01:00:00.000Z&metrics=latency_ms&bucket=1m`,
    );
    await waitFor(() =>
      expect(timeseries).toHaveBeenCalledWith(D.id, {
        metrics: ['latency_ms'],
        aggs: ['mean'],
        bucket: '1m',
        host_id: 'host-0003',
        from: '2024-01-01T00:30:00.000Z',
        to: '2024-01-01T01:00:00.000Z',
      }),
    );
    fireEvent.click(within(screen.getByLabelText('Metrics')).getByLabelText('cpu_usage'));
    await waitFor(() =>
      expect(timeseries).toHaveBeenLastCalledWith(
        D.id,
        expect.objectContaining({ metrics: ['latency_ms', 'cpu_usage'] }),
      ),
    );
  });

  it('refuses a bin count out of range without asking the API', async () => {
    const { a, histogram } = api();
    renderWith(a, <AnalyticsView />, '/analytics');
    await screen.findByText(/2 bins over \[0, 10\]/);
    const calls = histogram.mock.calls.length;
    fireEvent.change(screen.getByLabelText('Bins'), { target: { value: '5000' } });
    expect(await screen.findByText('bins must be an integer in [1, 1000]')).toBeTruthy();
    expect(histogram.mock.calls.length).toBe(calls);
  });

  it("counts over a range of the user's, starting from the bounds on screen, and refuses from > to", async () => {
    const { a, histogram } = api();
    renderWith(a, <AnalyticsView />, '/analytics');
    await screen.findByText(/2 bins over \[0, 10\]/);
    fireEvent.change(screen.getByLabelText('Histogram range'), { target: { value: 'custom' } });
    expect(screen.getByLabelText<HTMLInputElement>('Range from').value).toBe('0');
    expect(screen.getByLabelText<HTMLInputElement>('Range to').value).toBe('10');
    fireEvent.change(screen.getByLabelText('Range from'), { target: { value: '2.5' } });
    await waitFor(() =>
      expect(histogram).toHaveBeenLastCalledWith(D.id, expect.objectContaining({ range: '2.5,10' })),
    );
    const calls = histogram.mock.calls.length;
    fireEvent.change(screen.getByLabelText('Range to'), { target: { value: '1' } });
    expect(await screen.findByText('the range needs two numbers, from ≤ to')).toBeTruthy();
    expect(histogram.mock.calls.length).toBe(calls);
  });

  it('says so when no dataset is completed', async () => {
    renderWith(
      api({ listDatasets: () => Promise.resolve({ items: [], next_cursor: null }) }).a,
      <AnalyticsView />,
      '/analytics',
    );
    expect(await screen.findByText(/No completed dataset yet/)).toBeTruthy();
  });

  it('picks the finest bucket that keeps a few thousand points', () => {
    expect(defaultBucket(7200)).toBe('1m');
    expect(defaultBucket(30 * 86_400)).toBe('1h');
    expect(defaultBucket(20 * 365 * 86_400)).toBe('1d');
  });
});
