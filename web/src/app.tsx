/** The dashboard's shell: a header with the six tabs and the API's status, and the tab shown. */
import { useEffect } from 'react';
import { useApi } from './api-context.js';
import { BASE, Link, TABS, hrefOf, navigate, useLocation, type TabId } from './router.js';
import { useAsync } from './use-async.js';
import { useLiveStatus } from './live.js';
import { ControlView } from './views/control.js';
import { RunsView } from './views/runs.js';
import { AnalyticsView } from './views/analytics.js';
import { ModelsView } from './views/models.js';
import { InferenceView } from './views/inference.js';
import { AlertsView } from './views/alerts.js';
import { Empty } from './components/states.js';

const VIEWS: Record<TabId, () => React.JSX.Element> = {
  control: ControlView,
  runs: RunsView,
  analytics: AnalyticsView,
  models: ModelsView,
  inference: InferenceView,
  alerts: AlertsView,
};

function ApiStatus() {
  const api = useApi();
  const health = useAsync(() => api.health(), [api]);
  const live = useLiveStatus();
  useEffect(() => {
    const t = window.setInterval(health.reload, 15_000);
    return () => window.clearInterval(t);
  }, [health.reload]);
  const ok = health.data !== undefined && health.error === undefined;
  const text = health.loading ? 'connecting' : ok ? `API ${health.data?.version ?? ''}` : 'API unreachable';
  return (
    <div className="api-status" title={health.error?.message ?? ''}>
      <span className={`dot ${health.loading ? 'dot-wait' : ok ? 'dot-ok' : 'dot-bad'}`} />
      {text}
      <span className={`dot ${live ? 'dot-ok' : 'dot-wait'}`} />
      {live ? 'live' : 'polling'}
    </div>
  );
}

export function App() {
  const { tab } = useLocation();

  // The bare base path shows the first tab under its own URL
  useEffect(() => {
    const p = window.location.pathname;
    if (p === BASE || `${p}/` === BASE) navigate(hrefOf('control') + window.location.search, true);
  }, [tab]);

  useEffect(() => {
    const label = TABS.find((t) => t.id === tab)?.label;
    document.title = label ? `${label} · TADS` : 'TADS';
  }, [tab]);

  const View = tab ? VIEWS[tab] : null;
  return (
    <div className="app">
      <header className="top">
        <div className="brand">
          <strong>TADS</strong>
          <span>Telemetry Anomaly Detection</span>
        </div>
        <nav className="tabs" aria-label="Sections">
          {TABS.map((t) => (
            <Link
              key={t.id}
              href={hrefOf(t.id)}
              className={t.id === tab ? 'tab active' : 'tab'}
              aria-current={t.id === tab ? 'page' : undefined}
            >
              {t.label}
            </Link>
          ))}
        </nav>
        <ApiStatus />
      </header>
      <main className="content">
        {View ? (
          <View />
        ) : (
          <Empty>
            No such page. <Link href={hrefOf('control')}>Go to Control</Link>
          </Empty>
        )}
      </main>
    </div>
  );
}
