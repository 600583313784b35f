/**
 * Datasets, models and jobs several views share, kept fresh by live events and by polling while
 * their work is unfinished.
 */
import type { TadsClient } from '../../src/client/index.js';
import { useApi } from './api-context.js';
import { useRefresh, type LiveTopic } from './live.js';
import { useAsync, type AsyncState } from './use-async.js';
import type { Dataset, DatasetList } from '../../src/contract/datasets.js';
import type { JobListWire } from '../../src/contract/jobs.js';
import type { ModelListItemWire, ModelListWire, ModelWire } from '../../src/contract/models.js';

const unfinished = (s: string) => s === 'pending' || s === 'running';

/** Whether any item of a list is unfinished. */
const anyUnfinished = (list: { items: readonly { status: string }[] }) =>
  list.items.some((x) => unfinished(x.status));

/** Whether one run is unfinished. */
const isUnfinished = (run: { status: string }) => unfinished(run.status);

/**
 * What `load` answers, loaded again whenever `deps` change, refreshed by the live events of `topic`
 * and polled while `busy(data)`.
 */
function useKeptFresh<T>(
  load: (api: TadsClient) => Promise<T>,
  deps: readonly unknown[],
  topic: LiveTopic,
  busy: (data: T) => boolean,
): AsyncState<T> {
  const api = useApi();
  const state = useAsync(() => load(api), [api, ...deps]);
  useRefresh(state.reload, { topics: [topic], active: state.data !== undefined && busy(state.data) });
  return state;
}

/** Newest datasets (up to `limit`), refreshed while any is unfinished. */
export function useDatasets(limit = 100): AsyncState<DatasetList> {
  return useKeptFresh((api) => api.listDatasets({ limit }), [limit], 'datasets', anyUnfinished);
}

/** Newest models (up to `limit`), refreshed while any is unfinished. */
export function useModels(limit = 100): AsyncState<ModelListWire> {
  return useKeptFresh((api) => api.listModels({ limit }), [limit], 'models', anyUnfinished);
}

/** Newest scoring jobs (up to `limit`), of one model if given, refreshed while any is unfinished. */
export function useJobs(limit: number, modelId?: string): AsyncState<JobListWire> {
  const query = { limit, ...(modelId !== undefined ? { model_id: modelId } : {}) };
  return useKeptFresh((api) => api.listJobs(query), [limit, modelId], 'jobs', anyUnfinished);
}

/** One dataset, refreshed while it is being generated. */
export function useDataset(id: string): AsyncState<Dataset> {
  return useKeptFresh((api) => api.getDataset(id), [id], 'datasets', isUnfinished);
}

/** One model, refreshed while it is being trained. */
export function useModel(id: string): AsyncState<ModelWire> {
  return useKeptFresh((api) => api.getModel(id), [id], 'models', isUnfinished);
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
