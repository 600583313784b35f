// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InferenceRunWire } from '../../../src/contract/inference.js';
import { InferenceView } from './inference.js';
import { fakeApi, model, pending, renderWith } from '../test/support.js';

afterEach(cleanup);

const run = (n: number): InferenceRunWire => ({
  id: `44444444-4444-4444-8444-${String(n).padStart(12, '0')}`,
  model_id: model().id,
  record_count: 100 * n,
  invalid_count: n - 1,
  anomalous_count: n,
  latency_ms: 1.5 * n,
  created_at: `2024-01-0${n}T00:00:00.000Z`,
});

const models = { listModels: () => Promise.resolve({ items: [model()], next_cursor: null }) };

describe('Inference History', () => {
  it('lists runs with counts and latencies, pages on, and shows a run on click', async () => {
    const listInferenceRuns = vi
      .fn()
      .mockResolvedValueOnce({ items: [run(2)], next_cursor: 'c1' })
      .mockResolvedValueOnce({ items: [run(1)], next_cursor: null });
    const getInferenceRun = vi.fn((id: string) => Promise.resolve(id === run(1).id ? run(1) : run(2)));
    renderWith(fakeApi({ ...models, listInferenceRuns, getInferenceRun }), <InferenceView />, '/inference');
    const table = await screen.findByRole('table', { name: 'Inference runs' });
    const cells = (i: number) =>
      within(within(table).getAllByRole('row')[i]!)
        .getAllByRole('cell')
        .map((c) => c.textContent);
    expect(cells(1)).toEqual(['2024-01-02 00:00:00 UTC', 'pca_v1', '200', '2', '1', '3 ms']);
    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await within(table).findByText('2024-01-01 00:00:00 UTC');
    expect(listInferenceRuns).toHaveBeenLastCalledWith({ limit: 50, cursor: 'c1' });
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();

    fireEvent.click(within(table).getByText('2024-01-01 00:00:00 UTC'));
    const detail = (await screen.findByRole('heading', { name: 'Inference run' })).closest('section')!;
    expect(await within(detail).findByText(run(1).id)).toBeTruthy();
    expect(getInferenceRun).toHaveBeenCalledWith(run(1).id);
  });

  it('shows loading, then the empty state', async () => {
    renderWith(fakeApi({ ...models, listInferenceRuns: pending }), <InferenceView />, '/inference');
    expect(screen.getByRole('status').textContent).toBe('Loading…');
    cleanup();
    renderWith(
      fakeApi({ ...models, listInferenceRuns: () => Promise.resolve({ items: [], next_cursor: null }) }),
      <InferenceView />,
      '/inference',
    );
    expect(await screen.findByText(/No inference run yet/)).toBeTruthy();
  });
});
