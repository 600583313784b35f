/**
 * Component-test support: test data shaped by the wire contract, a stand-in for the API client
 * built from it, and a render wrapper. A method a test does not give rejects, naming itself, so an
 * unexpected call shows as an error state rather than passing silently.
 */
import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { ApiContext } from '../api-context.js';
import type { TadsClient } from '../../../src/client/index.js';
import type { AlertWire } from '../../../src/contract/alerts.js';
import type { Dataset } from '../../../src/contract/datasets.js';
import type { ModelListItemWire } from '../../../src/contract/models.js';
import { METRICS } from '../../../src/contract/vocabulary.js';

/** An API client whose methods are those given; any other rejects. */
export function fakeApi(methods: Partial<TadsClient>): TadsClient {
  const given: Record<string, unknown> = { ...methods };
  return new Proxy(given, {
    get(target, prop: string) {
      if (prop in target) return target[prop];
      return () => Promise.reject(new Error(`${prop} is not part of this test`));
    },
  }) as unknown as TadsClient;
}

/** Renders `ui` with `api` as the dashboard's API, at `path` (relative to the base). */
export function renderWith(api: TadsClient, ui: ReactElement, path = '/'): RenderResult {
  window.history.replaceState(null, '', path);
  return render(<ApiContext.Provider value={api}>{ui}</ApiContext.Provider>);
}

/** A promise that never settles: the loading state stays on screen. */
export function pending<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

export function dataset(over: Partial<Dataset> = {}): Dataset {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    name: 'fleet-a',
    status: 'completed',
    error: null,
    params: { host_count: 5, duration_s: 7200, interval_s: 60, seed: 7, anomaly_rate: 0.05 },
    row_count: 600,
    rows_total: 600,
    host_count: 5,
    source: 'generator',
    metrics: [...METRICS],
    labels: ['project_id', 'region'],
    progress: 1,
    stats: null,
    created_at: '2024-01-01T00:00:00.000Z',
    started_at: '2024-01-01T00:00:01.000Z',
    finished_at: '2024-01-01T00:00:03.000Z',
    ...over,
  };
}

export function model(over: Partial<ModelListItemWire> = {}): ModelListItemWire {
  return {
    id: '22222222-2222-4222-8222-222222222222',
    name: 'pca_v1',
    status: 'completed',
    error: null,
    dataset_id: '11111111-1111-4111-8111-111111111111',
    params: { variance: 0.95 },
    progress: { phase: 'done', pass: 3, rows_done: 600, rows_total: 600 },
    n_samples: 600,
    n_components: 3,
    artifact_path: null,
    created_at: '2024-01-01T00:01:00.000Z',
    started_at: '2024-01-01T00:01:01.000Z',
    finished_at: '2024-01-01T00:01:02.000Z',
    ...over,
  };
}

export function alert(over: Partial<AlertWire> = {}): AlertWire {
  return {
    id: '1',
    source: '33333333-3333-4333-8333-333333333333',
    job_id: '33333333-3333-4333-8333-333333333333',
    model_id: '22222222-2222-4222-8222-222222222222',
    dataset_id: '11111111-1111-4111-8111-111111111111',
    host_id: 'host-0003',
    state: 'closed',
    suppressed: false,
    opened_at: '2024-01-01T01:00:00.000Z',
    closed_at: '2024-01-01T01:20:00.000Z',
    peak_score: 4.25,
    top_metric: 'latency_ms',
    records: 20,
    updated_at: '2024-01-01T02:00:00.000Z',
    ...over,
  };
}
