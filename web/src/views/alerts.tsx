/**
 * Alerts: open and closed alerts, kept live (WebSocket events, polling as the fallback), each
 * with host, source, score, top metric, and a link to its host's time series around it.
 */
import { useState } from 'react';
import { ALERT_STATES, type AlertWire } from '../../../src/contract/alerts.js';
import { ANALYTICS_METRICS } from '../../../src/contract/analytics.js';
import { useApi } from '../api-context.js';
import { fmtInt, fmtNum, fmtTime, shortId } from '../format.js';
import { useRefresh } from '../live.js';
import { hrefOf, Link, setParams, useLocation } from '../router.js';
import { useAsync } from '../use-async.js';
import { AsyncList } from '../components/states.js';
import { Card, numeric, Panel, Status, Table } from '../components/widgets.js';

/** Time shown on either side of an alert in its time-series link, ms. */
const AROUND_MS = 60 * 60 * 1000;

/** The Dataset Analytics URL of an alert's host around the alert, or null for live alerts. */
export function seriesHref(a: AlertWire): string | null {
  if (a.dataset_id === null) return null;
  const opened = Date.parse(a.opened_at);
  const closed = a.closed_at ? Date.parse(a.closed_at) : opened;
  const metric = (ANALYTICS_METRICS as readonly string[]).includes(a.top_metric ?? '')
    ? a.top_metric!
    : undefined;
  return hrefOf('analytics', {
    dataset: a.dataset_id,
    host: a.host_id,
    from: new Date(opened - AROUND_MS).toISOString(),
    to: new Date(closed + AROUND_MS).toISOString(),
    bucket: '1m',
    metrics: metric,
  });
}

export function AlertsView() {
  const api = useApi();
  const { params } = useLocation();
  const state = params.get('state') ?? '';
  const source = params.get('source') ?? '';
  const host = params.get('host') ?? '';
  const [hostText, setHostText] = useState(host);
  const stateFilter = (ALERT_STATES as readonly string[]).includes(state)
    ? (state as AlertWire['state'])
    : undefined;

  const alerts = useAsync(
    () =>
      api.listAlerts({
        limit: 200,
        ...(stateFilter ? { state: stateFilter } : {}),
        ...(source ? { source } : {}),
        ...(host ? { host_id: host } : {}),
      }),
    [api, stateFilter, source, host],
  );
  useRefresh(alerts.reload, { topics: ['alerts'], active: true, fastMs: 3000, slowMs: 15_000 });
  const items = alerts.data?.items ?? [];
  const open = items.filter((a) => a.state === 'open').length;

  return (
    <>
      <div className="cards">
        <Card
          label="Listed"
          value={fmtInt(items.length)}
          note={alerts.data?.next_cursor ? 'newest 200' : undefined}
        />
        <Card label="Open" value={fmtInt(open)} />
        <Card label="Closed" value={fmtInt(items.length - open)} />
        <Card
          label="Suppressed"
          value={fmtInt(items.filter((a) => a.suppressed).length)}
          note="over the storm cap"
        />
      </div>
      <Panel
        title="Alerts"
        actions={
          <>
            <select aria-label="State" value={state} onChange={(e) => setParams({ state: e.target.value })}>
              <option value="">open and closed</option>
              <option value="open">open</option>
              <option value="closed">closed</option>
            </select>
            <form
              className="row"
              onSubmit={(e) => {
                e.preventDefault();
                setParams({ host: hostText.trim() });
              }}
            >
              <input
                aria-label="Host"
                placeholder="host id"
                value={hostText}
                onChange={(e) => setHostText(e.target.value)}
              />
            </form>
            {source && (
              <button type="button" className="secondary" onClick={() => setParams({ source: undefined })}>
                Source {source === 'live' ? 'live' : shortId(source)} ✕
              </button>
            )}
          </>
        }
      >
        <AsyncList
          state={alerts}
          empty={
            source || host || state ? (
              'No alert matches these filters.'
            ) : (
              <>
                No alert yet. Alerts come from the live scorer and from scoring jobs (
                <Link href={hrefOf('models')}>start one from Models</Link>).
              </>
            )
          }
        >
          {(d) => (
            <div className="table-wrap">
              <Table
                label="Alerts"
                columns={[
                  'state',
                  'host',
                  'source',
                  'opened',
                  'closed',
                  numeric('peak score'),
                  'top metric',
                  numeric('records'),
                  'series',
                ]}
              >
                {d.items.map((a) => {
                  const href = seriesHref(a);
                  return (
                    <tr key={a.id}>
                      <td>
                        <Status status={a.state} /> {a.suppressed && <Status status="suppressed" />}
                      </td>
                      <td>
                        <button
                          type="button"
                          className="link"
                          onClick={() => {
                            setHostText(a.host_id);
                            setParams({ host: a.host_id });
                          }}
                        >
                          {a.host_id}
                        </button>
                      </td>
                      <td>
                        <button
                          type="button"
                          className="link"
                          onClick={() => setParams({ source: a.source })}
                        >
                          {a.source === 'live' ? 'live' : `job ${shortId(a.source)}`}
                        </button>
                      </td>
                      <td>{fmtTime(a.opened_at)}</td>
                      <td>{fmtTime(a.closed_at)}</td>
                      <td className="num">{fmtNum(a.peak_score)}</td>
                      <td>{a.top_metric ?? '—'}</td>
                      <td className="num">{fmtInt(a.records)}</td>
                      <td>
                        {href ? (
                          <Link href={href}>time series</Link>
                        ) : (
                          <span className="muted" title="live alerts have no dataset">
                            —
                          </span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </Table>
            </div>
          )}
        </AsyncList>
      </Panel>
    </>
  );
}
