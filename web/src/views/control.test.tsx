// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ControlView, generateRequest, sampleRecords } from './control.js';
import { dataset, fakeApi, model, renderWith } from '../test/support.js';

afterEach(cleanup);

const lists = {
  listDatasets: () => Promise.resolve({ items: [dataset()], next_cursor: null }),
  listModels: () => Promise.resolve({ items: [model()], next_cursor: null }),
};

function form(name: string) {
  return screen.getByRole('form', { name });
}

describe('Control: generate a dataset', () => {
  it('does not send a dataset with zero hosts, and says why', async () => {
    const createDataset = vi.fn();
    renderWith(fakeApi({ ...lists, createDataset }), <ControlView />);
    const f = form('Generate a dataset');
    fireEvent.change(within(f).getByLabelText('Hosts'), { target: { value: '0' } });
    fireEvent.click(within(f).getByRole('button', { name: 'Generate' }));
    expect(await within(f).findByText(/host_count must be an integer in \[1, 10000\]; got 0/)).toBeTruthy();
    expect(within(f).getByLabelText('Hosts').getAttribute('aria-invalid')).toBe('true');
    expect(createDataset).not.toHaveBeenCalled();
  });

  it('does not send an anomaly rate above 0.5', async () => {
    const createDataset = vi.fn();
    renderWith(fakeApi({ ...lists, createDataset }), <ControlView />);
    const f = form('Generate a dataset');
    fireEvent.change(within(f).getByLabelText('Anomaly rate'), { target: { value: '0.9' } });
    fireEvent.click(within(f).getByRole('button', { name: 'Generate' }));
    expect(await within(f).findByText(/anomaly_rate must be a number in \[0, 0.5\]; got 0.9/)).toBeTruthy();
    expect(createDataset).not.toHaveBeenCalled();
  });

  it('sends valid parameters as numbers, then refreshes the list', async () => {
    const createDataset = vi.fn(() => Promise.resolve(dataset({ status: 'pending', name: 'small' })));
    const listDatasets = vi.fn(lists.listDatasets);
    renderWith(fakeApi({ ...lists, listDatasets, createDataset }), <ControlView />);
    const f = form('Generate a dataset');
    await waitFor(() => expect(listDatasets).toHaveBeenCalledTimes(1));
    const set = (label: string, value: string) =>
      fireEvent.change(within(f).getByLabelText(label), { target: { value } });
    set('Name', 'small');
    set('Hosts', '5');
    set('Duration (s)', '7200');
    set('Interval (s)', '60');
    set('Seed', '7');
    set('Anomaly rate', '0.05');
    fireEvent.click(within(f).getByRole('button', { name: 'Generate' }));
    await waitFor(() => expect(createDataset).toHaveBeenCalledTimes(1));
    expect(createDataset).toHaveBeenCalledWith({
      name: 'small',
      host_count: 5,
      duration_s: 7200,
      interval_s: 60,
      seed: 7,
      anomaly_rate: 0.05,
    });
    await waitFor(() => expect(listDatasets).toHaveBeenCalledTimes(2));
  });

  it('shows the API refusal next to its field', async () => {
    const { ApiError } = await import('../../../src/client/index.js');
    const createDataset = vi.fn(() =>
      Promise.reject(
        new ApiError(400, 'invalid_input', 'bad', {
          issues: [{ path: 'body.duration_s', message: 'too many rows: 200000000 > 100000000' }],
        }),
      ),
    );
    renderWith(fakeApi({ ...lists, createDataset }), <ControlView />);
    const f = form('Generate a dataset');
    fireEvent.click(within(f).getByRole('button', { name: 'Generate' }));
    expect(await within(f).findByText('too many rows: 200000000 > 100000000')).toBeTruthy();
    expect(
      within(f)
        .getByLabelText(/Duration/)
        .getAttribute('aria-invalid'),
    ).toBe('true');
  });

  it('leaves blank fields to the API defaults', () => {
    expect(
      generateRequest({
        name: ' ',
        host_count: '3',
        duration_s: '',
        interval_s: '',
        seed: '',
        anomaly_rate: '',
      }),
    ).toEqual({ host_count: 3 });
  });
});

describe('Control: train and score', () => {
  it('asks for a dataset before training', async () => {
    const train = vi.fn();
    renderWith(fakeApi({ ...lists, train }), <ControlView />);
    const f = form('Train a model');
    fireEvent.click(within(f).getByRole('button', { name: 'Train' }));
    expect(await within(f).findByText('choose a completed dataset')).toBeTruthy();
    expect(train).not.toHaveBeenCalled();
  });

  it('refuses variance and components together', async () => {
    const train = vi.fn();
    renderWith(fakeApi({ ...lists, train }), <ControlView />);
    const f = form('Train a model');
    await within(f).findByRole('option', { name: /fleet-a/ });
    fireEvent.change(within(f).getByLabelText('Dataset'), { target: { value: dataset().id } });
    fireEvent.change(within(f).getByLabelText('Components (k)'), { target: { value: '2' } });
    fireEvent.click(within(f).getByRole('button', { name: 'Train' }));
    expect(await within(f).findByText('give either variance or n_components, not both')).toBeTruthy();
    expect(train).not.toHaveBeenCalled();
  });

  it('refuses records that are not a JSON array of records', async () => {
    const inference = vi.fn();
    renderWith(fakeApi({ ...lists, inference }), <ControlView />);
    const f = form('Score samples');
    await within(f).findByRole('option', { name: /pca_v1/ });
    fireEvent.change(within(f).getByLabelText('Model'), { target: { value: model().id } });
    const box = within(f).getByLabelText('Records');
    fireEvent.change(box, { target: { value: 'not json' } });
    fireEvent.click(within(f).getByRole('button', { name: 'Score' }));
    expect(await within(f).findByText('records must be a JSON array of telemetry records')).toBeTruthy();
    fireEvent.change(box, { target: { value: '[{"host_id": "h", "ts": "yesterday"}]' } });
    fireEvent.click(within(f).getByRole('button', { name: 'Score' }));
    expect(await within(f).findByText(/records\.0\.ts: ts must be an RFC 3339 timestamp/)).toBeTruthy();
    expect(inference).not.toHaveBeenCalled();
  });

  it('scores valid records and shows one row per result', async () => {
    const inference = vi.fn(() =>
      Promise.resolve({
        run_id: '44444444-4444-4444-8444-444444444444',
        model_id: model().id,
        results: [
          {
            fused: 0.4,
            spe: 1.2,
            t2: 2,
            z_max: 1.1,
            anomalous: false,
            top_metric: 'cpu_usage' as const,
            valid: true,
          },
          {
            fused: 3.5,
            spe: 9,
            t2: 4,
            z_max: 12,
            anomalous: true,
            top_metric: 'latency_ms' as const,
            valid: true,
          },
        ],
        record_count: 2,
        invalid_count: 0,
        anomalous_count: 1,
        latency_ms: 0.8,
      }),
    );
    renderWith(fakeApi({ ...lists, inference }), <ControlView />);
    const f = form('Score samples');
    await within(f).findByRole('option', { name: /pca_v1/ });
    fireEvent.change(within(f).getByLabelText('Model'), { target: { value: model().id } });
    const recs = sampleRecords(
      ['cpu_usage', 'latency_ms'],
      [40, 20],
      [5, 2],
      new Date('2024-01-01T00:00:00Z'),
    );
    fireEvent.change(within(f).getByLabelText('Records'), { target: { value: JSON.stringify(recs) } });
    fireEvent.click(within(f).getByRole('button', { name: 'Score' }));
    expect(await screen.findByText(/2 records · 1 anomalous · 0 invalid/)).toBeTruthy();
    expect(inference).toHaveBeenCalledWith({ model_id: model().id, records: recs });
    const rows = within(screen.getByRole('table', { name: 'Scores' })).getAllByRole('row');
    expect(rows.map((r) => r.textContent)).toEqual([
      '#fusedSPET²max |z|anomaloustop metric',
      '10.41.221.1nocpu_usage',
      '23.59412anomalouslatency_ms',
    ]);
  });

  it('builds sample records: one typical, one far off on latency', () => {
    const [a, b] = sampleRecords(
      ['cpu_usage', 'latency_ms'],
      [40, 20],
      [5, 2],
      new Date('2024-01-01T00:00:00Z'),
    );
    expect(a).toEqual({
      host_id: 'host-0001',
      ts: '2024-01-01T00:00:00.000Z',
      cpu_usage: 40,
      latency_ms: 20,
    });
    expect(b).toEqual({
      host_id: 'host-0001',
      ts: '2024-01-01T00:01:00.000Z',
      cpu_usage: 40,
      latency_ms: 44,
    });
  });
});
