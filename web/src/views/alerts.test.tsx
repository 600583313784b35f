// @vitest-environment happy-dom
import { cleanup, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AlertsView, seriesHref } from './alerts.js';
import { alert, fakeApi, renderWith } from '../test/support.js';

afterEach(cleanup);

describe('Alerts', () => {
  it('lists alerts with host, source, score, top metric and a series link', async () => {
    const listAlerts = vi.fn(() =>
      Promise.resolve({
        items: [
          alert({
            id: '2',
            state: 'open',
            closed_at: null,
            host_id: 'host-0001',
            peak_score: 9.5,
            top_metric: 'cpu_usage',
          }),
          alert(),
        ],
        next_cursor: null,
      }),
    );
    renderWith(fakeApi({ listAlerts }), <AlertsView />, '/alerts?state=open');
    const table = await screen.findByRole('table', { name: 'Alerts' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]?.textContent).toContain('host-0001');
    expect(rows[0]?.textContent).toContain('9.5');
    expect(rows[0]?.textContent).toContain('cpu_usage');
    expect(rows[1]?.textContent).toContain('job 33333333');
    const link = within(rows[1]!).getByRole('link', { name: 'time series' });
    expect(link.getAttribute('href')).toBe(seriesHref(alert()));
    expect(listAlerts).toHaveBeenCalledWith({ limit: 200, state: 'open' });
  });

  it("links to the host's series an hour either side of the alert", () => {
    const url = new URL(seriesHref(alert())!, 'http://x');
    expect(url.pathname.endsWith('/analytics')).toBe(true);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      dataset: alert().dataset_id,
      host: 'host-0003',
      from: '2024-01-01T00:00:00.000Z',
      to: '2024-01-01T02:20:00.000Z',
      bucket: '1m',
      metrics: 'latency_ms',
    });
    expect(seriesHref(alert({ dataset_id: null, source: 'live' }))).toBeNull();
  });

  it('says so when there is no alert', async () => {
    renderWith(
      fakeApi({ listAlerts: () => Promise.resolve({ items: [], next_cursor: null }) }),
      <AlertsView />,
      '/alerts',
    );
    expect(await screen.findByText(/No alert yet/)).toBeTruthy();
  });
});
