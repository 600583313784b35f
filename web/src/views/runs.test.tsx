// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RunsView } from './runs.js';
import { dataset, fakeApi, model, pending, renderWith } from '../test/support.js';

afterEach(cleanup);

const noJobs = { listJobs: () => Promise.resolve({ items: [], next_cursor: null }) };

describe('Runs', () => {
  it('shows the loading state while the lists load', () => {
    renderWith(fakeApi({ listDatasets: pending, listModels: pending, listJobs: pending }), <RunsView />);
    expect(screen.getAllByRole('status').map((s) => s.textContent)).toEqual([
      'Loading…',
      'Loading…',
      'Loading…',
    ]);
  });

  it('shows the empty states', async () => {
    const none = () => Promise.resolve({ items: [], next_cursor: null });
    renderWith(fakeApi({ listDatasets: none, listModels: none, listJobs: none }), <RunsView />);
    expect(await screen.findByText(/No dataset yet/)).toBeTruthy();
    expect(screen.getByText(/No model yet/)).toBeTruthy();
    expect(screen.getByText(/No scoring job yet/)).toBeTruthy();
  });

  it("shows the API's error with a retry that loads again", async () => {
    const listDatasets = vi
      .fn()
      .mockRejectedValueOnce(new Error('cannot reach the TADS API at http://api: connection refused'))
      .mockResolvedValue({ items: [dataset()], next_cursor: null });
    renderWith(
      fakeApi({
        listDatasets,
        listModels: () => Promise.resolve({ items: [], next_cursor: null }),
        ...noJobs,
      }),
      <RunsView />,
    );
    const err = await screen.findByRole('alert');
    expect(err.textContent).toContain('connection refused');
    fireEvent.click(within(err).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByText('fleet-a')).toBeTruthy();
  });

  it('lists datasets and models with status, sizes and timings', async () => {
    renderWith(
      fakeApi({
        listDatasets: () =>
          Promise.resolve({
            items: [
              dataset({
                id: 'aaaaaaaa-1111-4111-8111-111111111111',
                name: 'big',
                status: 'running',
                row_count: 250,
                rows_total: 1000,
                progress: 0.25,
                finished_at: null,
              }),
              dataset(),
            ],
            next_cursor: null,
          }),
        listModels: () => Promise.resolve({ items: [model()], next_cursor: null }),
        ...noJobs,
      }),
      <RunsView />,
    );
    const table = await screen.findByRole('table', { name: 'Datasets' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows[0]?.textContent).toContain('big');
    expect(within(rows[0]!).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('25');
    expect(rows[1]?.textContent).toContain('600');
    expect(rows[1]?.textContent).toContain('2.00 s · 300 rows/s');
    const models = screen.getByRole('table', { name: 'Models' });
    expect(within(models).getAllByRole('row')[1]?.textContent).toContain('pca_v1');
  });

  it('deletes a dataset only after confirmation', async () => {
    const deleteDataset = vi.fn(() => Promise.resolve({ id: dataset().id, deleted: true as const }));
    renderWith(
      fakeApi({
        listDatasets: () => Promise.resolve({ items: [dataset()], next_cursor: null }),
        listModels: () => Promise.resolve({ items: [], next_cursor: null }),
        getDataset: () => Promise.resolve(dataset()),
        deleteDataset,
        ...noJobs,
      }),
      <RunsView />,
    );
    fireEvent.click(await screen.findByText('fleet-a'));
    const detail = (await screen.findByRole('heading', { name: 'Dataset' })).closest('section')!;
    expect(await within(detail).findByText(dataset().id)).toBeTruthy();
    // Its metric set: how many metrics, where from, and its labels; the names on hover.
    const metrics = within(detail).getByText('8 (generator) · labels project_id, region');
    expect(metrics.getAttribute('title')).toBe(dataset().metrics.join(', '));
    fireEvent.click(within(detail).getByRole('button', { name: 'Delete' }));
    expect(deleteDataset).not.toHaveBeenCalled();
    fireEvent.click(within(detail).getByRole('button', { name: 'Keep' }));
    fireEvent.click(within(detail).getByRole('button', { name: 'Delete' }));
    fireEvent.click(within(detail).getByRole('button', { name: 'Delete dataset and its rows' }));
    await waitFor(() => expect(deleteDataset).toHaveBeenCalledWith(dataset().id));
    await waitFor(() => expect(screen.queryByRole('heading', { name: 'Dataset' })).toBeNull());
  });
});
