/**
 * The dashboard's view of the TADS API: the typed client of src/client, plus the routes it has
 * no method for yet, sent through the client's own checked `request` with the contract's
 * schemas. Views receive a {@link DashboardApi} from context, so tests can hand them test data.
 */
import { TadsClient } from '../../src/client/index.js';
import type {
  ListAlertsOptions,
  ListDatasetsOptions,
  ListInferenceRunsOptions,
  ListModelsOptions,
} from '../../src/client/index.js';
import type { AlertListWire } from '../../src/contract/alerts.js';
import {
  HistogramSchema,
  SummarySchema,
  TimeseriesSchema,
  TopKSchema,
  type BucketName,
  type Histogram,
  type Summary,
  type Timeseries,
  type TimeseriesAgg,
  type TopK,
  type TopKColumn,
  type AnalyticsMetric,
} from '../../src/contract/analytics.js';
import type { Health } from '../../src/contract/common.js';
import type { PolicyName } from '../../src/contract/vocabulary.js';
import type { CreateDatasetRequest, Dataset, DatasetList, Deleted } from '../../src/contract/datasets.js';
import {
  ErrorDistributionSchema,
  EvaluationSchema,
  type ErrorDistributionWire,
  type ErrorGrouping,
  type EvaluationWire,
} from '../../src/contract/evaluation.js';
import type {
  InferenceRequestWire,
  InferenceResponseWire,
  InferenceRunListWire,
  InferenceRunWire,
} from '../../src/contract/inference.js';
import {
  JobListSchema,
  JobProgressSchema,
  JobSchema,
  type JobListWire,
  type JobProgressWire,
  type JobWire,
} from '../../src/contract/jobs.js';
import type {
  ModelDeletedWire,
  ModelListWire,
  ModelWire,
  TrainAcceptedWire,
  TrainRequest,
} from '../../src/contract/models.js';

export { ApiError } from '../../src/client/index.js';

/** Query of {@link DashboardApi.timeseries}. */
export interface TimeseriesOptions {
  metrics: AnalyticsMetric[];
  aggs: TimeseriesAgg[];
  bucket: BucketName;
  host_id?: string;
  from?: string;
  to?: string;
}

/** Query of {@link DashboardApi.histogram}. */
export interface HistogramOptions {
  metric: AnalyticsMetric;
  bins?: number;
  range?: string;
  host_id?: string;
}

/** Query of {@link DashboardApi.listJobs}. */
export interface ListJobsOptions {
  limit?: number;
  cursor?: string;
  model_id?: string;
  dataset_id?: string;
  status?: JobWire['status'];
}

/** Body of {@link DashboardApi.scoreDataset}. */
export interface ScoreDatasetBody {
  model_id: string;
  dataset_id: string;
  chunk_rows?: number;
  policy?: PolicyName;
}

/** Every API call the dashboard makes. */
export interface DashboardApi {
  /** Base URL of the API ('' when it is the page's own origin). */
  readonly baseUrl: string;
  health(): Promise<Health>;
  listDatasets(options?: ListDatasetsOptions): Promise<DatasetList>;
  getDataset(id: string): Promise<Dataset>;
  createDataset(params: CreateDatasetRequest): Promise<Dataset>;
  deleteDataset(id: string): Promise<Deleted>;
  listModels(options?: ListModelsOptions): Promise<ModelListWire>;
  getModel(id: string): Promise<ModelWire>;
  train(body: TrainRequest): Promise<TrainAcceptedWire>;
  deleteModel(id: string): Promise<ModelDeletedWire>;
  inference(body: InferenceRequestWire): Promise<InferenceResponseWire>;
  listInferenceRuns(options?: ListInferenceRunsOptions): Promise<InferenceRunListWire>;
  getInferenceRun(id: string): Promise<InferenceRunWire>;
  listAlerts(options?: ListAlertsOptions): Promise<AlertListWire>;
  summary(datasetId: string): Promise<Summary>;
  topk(datasetId: string, column: TopKColumn, k?: number): Promise<TopK>;
  timeseries(datasetId: string, options: TimeseriesOptions): Promise<Timeseries>;
  histogram(datasetId: string, options: HistogramOptions): Promise<Histogram>;
  scoreDataset(body: ScoreDatasetBody): Promise<JobWire>;
  listJobs(options?: ListJobsOptions): Promise<JobListWire>;
  getJob(id: string): Promise<JobWire>;
  jobProgress(id: string): Promise<JobProgressWire>;
  cancelJob(id: string): Promise<JobWire>;
  evaluate(modelId: string, datasetId: string, jobId?: string): Promise<EvaluationWire>;
  errorDistribution(
    modelId: string,
    datasetId: string,
    groupBy: ErrorGrouping,
    jobId?: string,
  ): Promise<ErrorDistributionWire>;
}

const seg = (id: string) => encodeURIComponent(id);

/**
 * The dashboard's API over one {@link TadsClient}.
 *
 * @param baseUrl - the API's base URL; '' for the page's own origin
 */
export function createApi(baseUrl: string): DashboardApi {
  const origin = baseUrl === '' ? window.location.origin : baseUrl;
  const c = new TadsClient(origin);
  return {
    baseUrl,
    health: () => c.health(),
    listDatasets: (o) => c.listDatasets(o),
    getDataset: (id) => c.getDataset(id),
    createDataset: (p) => c.createDataset(p),
    deleteDataset: (id) => c.deleteDataset(id),
    listModels: (o) => c.listModels(o),
    getModel: (id) => c.getModel(id),
    train: (b) => c.train(b),
    deleteModel: (id) => c.deleteModel(id),
    inference: (b) => c.inference(b),
    listInferenceRuns: (o) => c.listInferenceRuns(o),
    getInferenceRun: (id) => c.getInferenceRun(id),
    listAlerts: (o) => c.listAlerts(o),
    summary: (id) => c.request('GET', `/datasets/${seg(id)}/summary`, { response: SummarySchema }),
    topk: (id, column, k) =>
      c.request('GET', `/datasets/${seg(id)}/topk`, { query: { column, k }, response: TopKSchema }),
    timeseries: (id, o) =>
      c.request('GET', `/datasets/${seg(id)}/timeseries`, {
        query: { ...o, metrics: o.metrics.join(','), aggs: o.aggs.join(',') },
        response: TimeseriesSchema,
      }),
    histogram: (id, o) =>
      c.request('GET', `/datasets/${seg(id)}/histogram`, { query: { ...o }, response: HistogramSchema }),
    scoreDataset: (b) => c.request('POST', '/jobs/score_dataset', { body: b, response: JobSchema }),
    listJobs: (o = {}) => c.request('GET', '/jobs', { query: { ...o }, response: JobListSchema }),
    getJob: (id) => c.request('GET', `/jobs/${seg(id)}`, { response: JobSchema }),
    jobProgress: (id) => c.request('GET', `/jobs/${seg(id)}/progress`, { response: JobProgressSchema }),
    cancelJob: (id) => c.request('POST', `/jobs/${seg(id)}/cancel`, { response: JobSchema }),
    evaluate: (modelId, datasetId, jobId) =>
      c.request('GET', `/models/${seg(modelId)}/eval`, {
        query: { dataset_id: datasetId, job_id: jobId },
        response: EvaluationSchema,
      }),
    errorDistribution: (modelId, datasetId, groupBy, jobId) =>
      c.request('GET', `/models/${seg(modelId)}/error_distribution`, {
        query: { dataset_id: datasetId, group_by: groupBy, job_id: jobId },
        response: ErrorDistributionSchema,
      }),
  };
}
