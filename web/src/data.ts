/** Lists several views share, kept fresh by live events and by polling while work is unfinished. */
import { useApi } from './api-context.js';
import { useRefresh } from './live.js';
import { useAsync, type AsyncState } from './use-async.js';
import type { Dataset, DatasetList } from '../../src/contract/datasets.js';
import type { ModelListItemWire, ModelListWire } from '../../src/contract/models.js';

const unfinished = (s: string) => s === 'pending' || s === 'running';

/** Newest datasets (up to `limit`), refreshed while any is unfinished. */
export function useDatasets(limit = 100): AsyncState<DatasetList> {
  const api = useApi();
  const state = useAsync(() => api.listDatasets({ limit }), [api, limit]);
  useRefresh(state.reload, {
    topics: ['datasets'],
    active: state.data?.items.some((d) => unfinished(d.status)) ?? false,
  });
  return state;
}

/** Newest models (up to `limit`), refreshed while any is unfinished. */
export function useModels(limit = 100): AsyncState<ModelListWire> {
  const api = useApi();
  const state = useAsync(() => api.listModels({ limit }), [api, limit]);
  useRefresh(state.reload, {
    topics: ['models'],
    active: state.data?.items.some((m) => unfinished(m.status)) ?? false,
  });
  return state;
}

/** The fraction of a model's training done, from its progress. */
export function trainingFraction(m: ModelListItemWire): number {
  if (m.status === 'completed') return 1;
  const p = m.progress;
  if (!p || p.rows_total === 0) return 0;
  return p.rows_done / p.rows_total;
}

/** What a training is doing now, in words. */
export function trainingLabel(m: ModelListItemWire): string {
  const p = m.progress;
  if (!p) return m.status;
  return p.pass > 0 ? `${p.phase}, pass ${p.pass}` : p.phase;
}

/** A dataset's label for selects: name, size and short id. */
export function datasetLabel(d: Dataset): string {
  return `${d.name} · ${d.host_count} hosts · ${d.row_count.toLocaleString('en-US')} rows · ${d.id.slice(0, 8)}`;
}

/** A model's label for selects. */
export function modelLabel(m: ModelListItemWire): string {
  return `${m.name} · k=${m.n_components ?? '?'} · ${m.id.slice(0, 8)}`;
}

export { unfinished };
