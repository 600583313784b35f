// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EvaluationWire } from '../../../src/contract/evaluation.js';
import type { JobWire } from '../../../src/contract/jobs.js';
import type { ModelWire } from '../../../src/contract/models.js';
import { ApiError } from '../../../src/client/index.js';
import { ModelsView } from './models.js';
import { dataset, fakeApi, model, renderWith } from '../test/support.js';

afterEach(cleanup);

const M = model();
const D = dataset();
const JOB_ID = '33333333-3333-4333-8333-333333333333';

const full: ModelWire = {
  ...M,
  timings: {
    moments_s: 0.5,
    robust_s: 0.3,
    limits_s: 0.01,
    artifact_write_s: 0,
    total_s: 0.9,
    passes: 3,
    rows_per_s: 1333,
    peak_rss_mb: 80,
  },
  summary: {
    metrics: ['cpu_usage', 'memory_usage', 'latency_ms'],
    n_components: 2,
    n_samples: 600,
    eigenvalues: [2.1, 0.7],
    explained_variance_ratio: [0.7, 0.233],
    cumulative_explained_variance: 0.933,
    spe_limit: 0.97,
    t2_limit: 18.6,
    z_limit: 6,
    limits: {},
    median: [48.9, 54, 43.4],
    mad: [6, 5.9, 4.7],
    z_scale: [8.9, 8.8, 7],
  },
  model: {},
};

const job: JobWire = {
  id: JOB_ID,
  kind: 'score_dataset',
  model_id: M.id,
  dataset_id: D.id,
  status: 'completed',
  phase: 'done',
  error: null,
  chunk_rows: 50_000,
  policy: 'default',
  rows_total: 600,
  rows_done: 600,
  timings: { scoring_ms: 50, alerts_ms: 120, runs: 1, run_started_at: null, run_start_rows: 0 },
  created_at: '2024-01-01T00:02:00.000Z',
  started_at: '2024-01-01T00:02:01.000Z',
  finished_at: '2024-01-01T00:02:02.000Z',
};

const evaluation: EvaluationWire = {
  model_id: M.id,
  dataset_id: D.id,
  job_id: JOB_ID,
  policy: 'default',
  records: 600,
  invalid_records: 0,
  anomalies: 40,
  pointwise: { precision: 0.9, recall: 0.45, f1: 0.6, confusion: { tp: 18, fp: 2, tn: 558, fn: 22 } },
  roc_auc: 0.93,
  pr_auc: 0.81,
  roc_curve: [
    { threshold: null, fpr: 0, tpr: 0 },
    { threshold: 1, fpr: 0.004, tpr: 0.45 },
    { threshold: 0.1, fpr: 1, tpr: 1 },
  ],
  pr_curve: [],
  events: {
    overall: {
      episodes: 4,
      detected: 3,
      recall: 0.75,
      mean_time_to_detect_records: 4,
      median_time_to_detect_records: 3,
    },
    by_type: {
      spike: {
        episodes: 2,
        detected: 2,
        recall: 1,
        mean_time_to_detect_records: 2,
        median_time_to_detect_records: 2,
      },
      stuck: {
        episodes: 2,
        detected: 1,
        recall: 0.5,
        mean_time_to_detect_records: 8,
        median_time_to_detect_records: 8,
      },
    },
    alerts: 5,
    alerts_per_episode: 1.33,
    false_alerts: 1,
    false_alerts_per_host_day: 0.2,
  },
};

const base = {
  listModels: () => Promise.resolve({ items: [M], next_cursor: null }),
  getModel: () => Promise.resolve(full),
  listDatasets: () => Promise.resolve({ items: [D], next_cursor: null }),
  listJobs: () => Promise.resolve({ items: [job], next_cursor: null }),
};

describe('Models', () => {
  it("shows the artifact summary and the evaluation of the model's scored dataset", async () => {
    const evaluate = vi.fn(() => Promise.resolve(evaluation));
    const errorDistribution = vi.fn(() =>
      Promise.resolve({
        model_id: M.id,
        dataset_id: D.id,
        job_id: JOB_ID,
        group_by: 'anomaly_type' as const,
        groups: [
          {
            group: null,
            records: 560,
            anomalies: 0,
            caught: 0,
            missed: 0,
            false_alarms: 2,
            mean_score: 0.2,
            episodes: 0,
            event_recall: null,
          },
          {
            group: 'spike',
            records: 20,
            anomalies: 20,
            caught: 15,
            missed: 5,
            false_alarms: 0,
            mean_score: 3.1,
            episodes: 2,
            event_recall: 1,
          },
        ],
      }),
    );
    renderWith(fakeApi({ ...base, evaluate, errorDistribution }), <ModelsView />, '/models');
    const stats = await screen.findByRole('table', { name: 'Robust statistics' });
    expect(within(stats).getAllByRole('row')).toHaveLength(4);
    expect(screen.getByText('93.30 %')).toBeTruthy();

    const confusion = await screen.findByRole('table', { name: 'Confusion matrix' });
    expect(confusion.textContent).toContain('TP 18');
    expect(confusion.textContent).toContain('FN 22');
    expect(confusion.textContent).toContain('FP 2');
    expect(confusion.textContent).toContain('TN 558');
    expect(evaluate).toHaveBeenCalledWith(M.id, D.id, undefined);
    expect(screen.getByText('3 of 4 episodes')).toBeTruthy();
    const events = screen.getByRole('table', { name: 'Events by anomaly type' });
    expect(
      within(events)
        .getAllByRole('row')
        .map((r) => r.firstChild?.textContent),
    ).toEqual(['type', 'all', 'spike', 'stuck']);

    expect(screen.getByText(/ROC-AUC 0.93 · dashed: chance/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Curve'), { target: { value: 'pr' } });
    expect(screen.getByText('No precision–recall curve: it needs anomalous records.')).toBeTruthy();

    const dist = await screen.findByRole('table', { name: 'Error distribution' });
    const cells = within(within(dist).getAllByRole('row')[2]!).getAllByRole('cell');
    expect(cells.map((c) => c.textContent)).toEqual([
      'spike',
      '20',
      '20',
      '15',
      '5',
      '0',
      '3.1',
      '2',
      '100.0 %',
    ]);
    fireEvent.change(screen.getByLabelText('Group by'), { target: { value: 'region' } });
    expect(errorDistribution).toHaveBeenLastCalledWith(M.id, D.id, 'region', undefined);
  });

  it("shows the API's refusal when the evaluation cannot be made", async () => {
    const evaluate = () =>
      Promise.reject(new ApiError(409, 'conflict', 'the dataset was never scored by this model'));
    renderWith(fakeApi({ ...base, evaluate }), <ModelsView />, '/models');
    const err = await screen.findByRole('alert');
    expect(err.textContent).toContain('the dataset was never scored by this model');
  });

  it('asks for a dataset before starting a scoring job', async () => {
    const scoreDataset = vi.fn();
    renderWith(
      fakeApi({ ...base, listJobs: () => Promise.resolve({ items: [], next_cursor: null }), scoreDataset }),
      <ModelsView />,
      '/models',
    );
    const form = await screen.findByRole('form', { name: 'Score a dataset' });
    expect(await screen.findByText(/No completed scoring job for this model yet/)).toBeTruthy();
    fireEvent.click(within(form).getByRole('button', { name: 'Start scoring job' }));
    expect(await within(form).findByText('choose a completed dataset')).toBeTruthy();
    expect(scoreDataset).not.toHaveBeenCalled();
  });

  it('says so when no model is trained yet', async () => {
    renderWith(
      fakeApi({ ...base, listModels: () => Promise.resolve({ items: [], next_cursor: null }) }),
      <ModelsView />,
      '/models',
    );
    expect(await screen.findByText(/No trained model yet/)).toBeTruthy();
  });

  it('follows a running job and cancels it after confirmation', async () => {
    const running: JobWire = {
      ...job,
      status: 'running',
      phase: 'scoring',
      rows_done: 150,
      finished_at: null,
    };
    const cancelJob = vi.fn(() => Promise.resolve({ ...running, status: 'cancelled' as const }));
    const getJobProgress = vi.fn(() =>
      Promise.resolve({
        job_id: JOB_ID,
        status: 'running' as const,
        phase: 'scoring' as const,
        rows_done: 150,
        rows_total: 600,
        fraction: 0.25,
        rate_rows_per_s: 1000,
        eta_s: 0.45,
      }),
    );
    renderWith(
      fakeApi({
        ...base,
        listJobs: () => Promise.resolve({ items: [running], next_cursor: null }),
        getJobProgress,
        cancelJob,
      }),
      <ModelsView />,
      '/models',
    );
    const bar = await screen.findByRole('progressbar');
    expect(bar.getAttribute('aria-valuenow')).toBe('25');
    expect(bar.getAttribute('aria-label')).toContain('scoring 150 / 600 rows');
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(cancelJob).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('button', { name: 'Cancel job' }));
    await vi.waitFor(() => expect(cancelJob).toHaveBeenCalledWith(JOB_ID));
  });
});
