/** Inference History: past `POST /inference` calls with counts and latencies, and their detail. */
import type { InferenceRunListWire } from '../../../src/contract/inference.js';
import { useApi } from '../api-context.js';
import { useModels } from '../data.js';
import { errorText, fmtInt, fmtNum, fmtPct, fmtTime, shortId } from '../format.js';
import { hrefOf, Link, setParams, useLocation } from '../router.js';
import { useAction, useAsync } from '../use-async.js';
import { AsyncList, AsyncView } from '../components/states.js';
import { Card, numeric, Panel, Table } from '../components/widgets.js';
import { useState } from 'react';

function RunDetail({ id }: { id: string }) {
  const api = useApi();
  const run = useAsync(() => api.getInferenceRun(id), [api, id]);
  return (
    <Panel
      title="Inference run"
      actions={
        <button type="button" className="secondary" onClick={() => setParams({ run: undefined })}>
          Close
        </button>
      }
    >
      <AsyncView state={run}>
        {(r) => (
          <>
            <div className="cards">
              <Card label="Records" value={fmtInt(r.record_count)} />
              <Card
                label="Anomalous"
                value={fmtInt(r.anomalous_count)}
                note={fmtPct(r.record_count > 0 ? r.anomalous_count / r.record_count : null)}
              />
              <Card label="Invalid" value={fmtInt(r.invalid_count)} />
              <Card
                label="Latency"
                value={`${fmtNum(r.latency_ms, 3)} ms`}
                note={
                  r.record_count > 0
                    ? `${fmtNum((r.latency_ms * 1000) / r.record_count, 3)} µs per record`
                    : undefined
                }
              />
            </div>
            <dl className="props">
              <dt>run</dt>
              <dd className="mono">{r.id}</dd>
              <dt>model</dt>
              <dd>
                <Link href={hrefOf('models', { model: r.model_id })} className="mono">
                  {r.model_id}
                </Link>
              </dd>
              <dt>at</dt>
              <dd>{fmtTime(r.created_at)}</dd>
            </dl>
          </>
        )}
      </AsyncView>
    </Panel>
  );
}

export function InferenceView() {
  const api = useApi();
  const { params } = useLocation();
  const modelFilter = params.get('model') ?? '';
  const selected = params.get('run');
  const models = useModels(100);
  const names = new Map(models.data?.items.map((m) => [m.id, m.name]));
  const first = useAsync(
    () => api.listInferenceRuns({ limit: 50, ...(modelFilter ? { model_id: modelFilter } : {}) }),
    [api, modelFilter],
  );
  // Further pages, fetched on demand
  const [more, setMore] = useState<{ key: string; pages: InferenceRunListWire[] }>({ key: '', pages: [] });
  const pages =
    more.key === modelFilter && first.data ? [first.data, ...more.pages] : first.data ? [first.data] : [];
  const cursor = pages[pages.length - 1]?.next_cursor ?? null;
  const loadMore = useAction(async () => {
    if (!cursor) return;
    const page = await api.listInferenceRuns({
      limit: 50,
      cursor,
      ...(modelFilter ? { model_id: modelFilter } : {}),
    });
    setMore((m) => ({ key: modelFilter, pages: m.key === modelFilter ? [...m.pages, page] : [page] }));
  });
  const runs = pages.flatMap((p) => p.items);

  return (
    <div className="grid-2">
      <Panel
        title="Inference runs"
        actions={
          <>
            <select
              aria-label="Model filter"
              value={modelFilter}
              onChange={(e) => setParams({ model: e.target.value, run: undefined })}
            >
              <option value="">all models</option>
              {models.data?.items
                .filter((m) => m.status === 'completed')
                .map((m) => (
                  <option key={m.id} value={m.id}>
                    {m.name} · {shortId(m.id)}
                  </option>
                ))}
            </select>
            <button type="button" className="secondary" onClick={first.reload}>
              Refresh
            </button>
          </>
        }
      >
        <AsyncList
          state={first}
          empty={
            <>
              No inference run yet. <Link href={hrefOf('control')}>Score samples on Control</Link>.
            </>
          }
        >
          {() => (
            <div className="table-wrap">
              <Table
                label="Inference runs"
                columns={[
                  'at',
                  'model',
                  numeric('records'),
                  numeric('anomalous'),
                  numeric('invalid'),
                  numeric('latency'),
                ]}
              >
                {runs.map((r) => (
                  <tr
                    key={r.id}
                    className={`clickable ${r.id === selected ? 'selected' : ''}`}
                    onClick={() => setParams({ run: r.id })}
                  >
                    <td>{fmtTime(r.created_at)}</td>
                    <td>{names.get(r.model_id) ?? shortId(r.model_id)}</td>
                    <td className="num">{fmtInt(r.record_count)}</td>
                    <td className="num">{fmtInt(r.anomalous_count)}</td>
                    <td className="num">{fmtInt(r.invalid_count)}</td>
                    <td className="num">{fmtNum(r.latency_ms, 3)} ms</td>
                  </tr>
                ))}
              </Table>
              {loadMore.error && <div className="form-error">{errorText(loadMore.error)}</div>}
              {cursor && (
                <button type="button" className="secondary" onClick={loadMore.run}>
                  Load more
                </button>
              )}
            </div>
          )}
        </AsyncList>
      </Panel>
      <div>
        {selected ? (
          <RunDetail key={selected} id={selected} />
        ) : (
          <Panel title="Detail">
            <p className="muted">Click a run to see its detail.</p>
          </Panel>
        )}
      </div>
    </div>
  );
}
