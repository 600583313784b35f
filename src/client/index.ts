/**
 * The typed TADS API client, shared by the dashboard and the CLI. Its request and response types
 * come from the wire contract's zod schemas (src/contract), and every response is checked
 * against its schema. It imports nothing of the server, so a browser bundle stays small.
 */
import type { z } from 'zod';
import {
  HistogramSchema,
  SummarySchema,
  TimeseriesSchema,
  TopKSchema,
  type AnalyticsMetric,
  type BucketName,
  type Histogram,
  type Summary,
  type Timeseries,
  type TimeseriesAgg,
  type TopK,
  type TopKColumn,
} from '../contract/analytics.js';
import { HealthSchema, type Health } from '../contract/common.js';
import {
  DatasetListSchema,
  DatasetSchema,
  DeletedSchema,
  type CreateDatasetRequest,
  type Dataset,
  type DatasetList,
  type Deleted,
} from '../contract/datasets.js';
import { AlertListSchema, type AlertListWire, type ListAlertsQueryWire } from '../contract/alerts.js';
import { ErrorBodySchema } from '../contract/errors.js';
import {
  InferenceResponseSchema,
  InferenceRunListSchema,
  InferenceRunSchema,
  type InferenceRequestWire,
  type InferenceResponseWire,
  type InferenceRunListWire,
  type InferenceRunWire,
} from '../contract/inference.js';
import {
  ModelDeletedSchema,
  ModelListSchema,
  ModelSchema,
  TrainAcceptedSchema,
  type ModelDeletedWire,
  type ModelListWire,
  type ModelWire,
  type TrainAcceptedWire,
  type TrainRequest,
} from '../contract/models.js';

import {
  JobListSchema,
  JobProgressSchema,
  JobSchema,
  type JobListWire,
  type JobProgressWire,
  type JobWire,
  type ScoreDatasetRequestSchema,
} from '../contract/jobs.js';
import {
  ErrorDistributionSchema,
  EvaluationSchema,
  type ErrorDistributionWire,
  type ErrorGrouping,
  type EvaluationWire,
} from '../contract/evaluation.js';

/** An error answered by the API (status ≥ 400), or a failure to reach it (status 0). */
export class ApiError extends Error {
  /** HTTP status, or 0 when the API could not be reached. */
  readonly status: number;
  /** The API's error code (`invalid_input`, `not_found`, …), or `unreachable`, or `bad_response`. */
  readonly code: string;
  readonly details: unknown;

  constructor(
    status: number,
    code: string,
    message: string,
    details: unknown = null,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Options of {@link TadsClient}. */
export interface TadsClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** The fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Per-request timeout in ms (default 30 000). */
  timeoutMs?: number;
}

/** Query values a request may carry. */
export type QueryValues = Record<string, string | number | boolean | undefined | null>;

/** A generic request, for routes that have no method of their own yet. */
export interface RequestOptions<S extends z.ZodType> {
  /** Query parameters; undefined and null values are left out. */
  query?: QueryValues;
  /** JSON body. */
  body?: unknown;
  /** Schema the response is checked against. */
  response: S;
  signal?: AbortSignal;
}

/** Query of {@link TadsClient.listDatasets}. */
export interface ListDatasetsOptions {
  /** Page size, 1–500 (default 50). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
  status?: Dataset['status'];
}

/** Query of {@link TadsClient.listModels}. */
export interface ListModelsOptions {
  /** Page size, 1–500 (default 50). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
  status?: ModelWire['status'];
  /** Only models trained on this dataset. */
  dataset_id?: string;
}

/** Query of {@link TadsClient.listInferenceRuns}. */
export interface ListInferenceRunsOptions {
  /** Page size, 1–500 (default 50). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
  /** Only the runs of this model. */
  model_id?: string;
}

/** Query of {@link TadsClient.listJobs}: page and filters (combined with AND). */
export interface ListJobsOptions {
  /** Page size, 1–500 (default 50). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
  /** Only the jobs of this model. */
  model_id?: string;
  /** Only the jobs on this dataset. */
  dataset_id?: string;
  status?: JobWire['status'];
}

/** Query of {@link TadsClient.timeseries}. */
export interface TimeseriesOptions {
  /** Metrics to aggregate, at least one, each once. */
  metrics: AnalyticsMetric[];
  /** Aggregates of each metric per bucket, at least one, each once. */
  aggs: TimeseriesAgg[];
  bucket: BucketName;
  /** Only this host's rows. */
  host_id?: string;
  /** First instant (inclusive), ISO 8601. */
  from?: string;
  /** Last instant (exclusive), ISO 8601. */
  to?: string;
}

/** Query of {@link TadsClient.histogram}. */
export interface HistogramOptions {
  metric: AnalyticsMetric;
  /** Number of bins, 1–1000 (default 40). */
  bins?: number;
  /** `minmax` (the default), `p1p99`, or `<lo>,<hi>`. */
  range?: string;
  /** Only this host's rows. */
  host_id?: string;
}

/** Query of {@link TadsClient.listAlerts}: page and filters (combined with AND). */
export type ListAlertsOptions = Omit<ListAlertsQueryWire, 'limit' | 'suppressed'> & {
  /** Page size, 1–500 (default 50). */
  limit?: number;
  suppressed?: boolean;
};

/**
 * A client of one TADS API.
 *
 * @example
 * const api = new TadsClient('http://127.0.0.1:8080');
 * const ds = await api.createDataset({ host_count: 10 });
 * const done = await api.getDataset(ds.id);
 */
export class TadsClient {
  readonly baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  /** @param options - the base URL, or the full options */
  constructor(options: string | TadsClientOptions) {
    const o = typeof options === 'string' ? { baseUrl: options } : options;
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.#fetch = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** `GET /health`. */
  health(): Promise<Health> {
    return this.request('GET', '/health', { response: HealthSchema });
  }

  /** `POST /datasets`: starts a generation; resolves with the dataset (pending or running). */
  createDataset(params: CreateDatasetRequest): Promise<Dataset> {
    return this.request('POST', '/datasets', { body: params, response: DatasetSchema });
  }

  /** `GET /datasets`: one page, newest first. */
  listDatasets(options: ListDatasetsOptions = {}): Promise<DatasetList> {
    return this.request('GET', '/datasets', { query: { ...options }, response: DatasetListSchema });
  }

  /** `GET /datasets/:id`. */
  getDataset(id: string): Promise<Dataset> {
    return this.request('GET', `/datasets/${encodeURIComponent(id)}`, { response: DatasetSchema });
  }

  /** `DELETE /datasets/:id`. */
  deleteDataset(id: string): Promise<Deleted> {
    return this.request('DELETE', `/datasets/${encodeURIComponent(id)}`, { response: DeletedSchema });
  }

  /** `GET /datasets/:id/summary`: counts, time range, metric figures and anomalies of a completed dataset. */
  summary(datasetId: string): Promise<Summary> {
    return this.request('GET', `/datasets/${encodeURIComponent(datasetId)}/summary`, {
      response: SummarySchema,
    });
  }

  /** `GET /datasets/:id/topk`: the `k` most frequent values of `column` (default 10). */
  topk(datasetId: string, column: TopKColumn, k?: number): Promise<TopK> {
    return this.request('GET', `/datasets/${encodeURIComponent(datasetId)}/topk`, {
      query: { column, k },
      response: TopKSchema,
    });
  }

  /** `GET /datasets/:id/timeseries`: the chosen aggregates of the chosen metrics per time bucket. */
  timeseries(datasetId: string, options: TimeseriesOptions): Promise<Timeseries> {
    return this.request('GET', `/datasets/${encodeURIComponent(datasetId)}/timeseries`, {
      query: { ...options, metrics: options.metrics.join(','), aggs: options.aggs.join(',') },
      response: TimeseriesSchema,
    });
  }

  /** `GET /datasets/:id/histogram`: bin edges and counts of one metric. */
  histogram(datasetId: string, options: HistogramOptions): Promise<Histogram> {
    return this.request('GET', `/datasets/${encodeURIComponent(datasetId)}/histogram`, {
      query: { ...options },
      response: HistogramSchema,
    });
  }

  /**
   * `POST /train`: records a model and starts training it in the background; resolves with its
   * id at once (poll {@link getModel} for status and progress).
   */
  train(body: TrainRequest): Promise<TrainAcceptedWire> {
    return this.request('POST', '/train', { body, response: TrainAcceptedSchema });
  }

  /** `GET /models`: one page, newest first. */
  listModels(options: ListModelsOptions = {}): Promise<ModelListWire> {
    return this.request('GET', '/models', { query: { ...options }, response: ModelListSchema });
  }

  /** `GET /models/:id`: status, progress and, once completed, the summary and model.json. */
  getModel(id: string): Promise<ModelWire> {
    return this.request('GET', `/models/${encodeURIComponent(id)}`, { response: ModelSchema });
  }

  /** `DELETE /models/:id`. */
  deleteModel(id: string): Promise<ModelDeletedWire> {
    return this.request('DELETE', `/models/${encodeURIComponent(id)}`, { response: ModelDeletedSchema });
  }

  /**
   * `POST /inference`: scores records with a completed model; one result per record, in order
   * (invalid records have null scores and `valid` false).
   */
  inference(body: InferenceRequestWire, signal?: AbortSignal): Promise<InferenceResponseWire> {
    return this.request('POST', '/inference', {
      body,
      response: InferenceResponseSchema,
      ...(signal ? { signal } : {}),
    });
  }

  /** `GET /inference_runs`: one page, newest first. */
  listInferenceRuns(options: ListInferenceRunsOptions = {}): Promise<InferenceRunListWire> {
    return this.request('GET', '/inference_runs', {
      query: { ...options },
      response: InferenceRunListSchema,
    });
  }

  /** `GET /inference_runs/:id`. */
  getInferenceRun(id: string): Promise<InferenceRunWire> {
    return this.request('GET', `/inference_runs/${encodeURIComponent(id)}`, { response: InferenceRunSchema });
  }

  /** `GET /alerts`: one page, newest first, filtered. */
  listAlerts(options: ListAlertsOptions = {}): Promise<AlertListWire> {
    return this.request('GET', '/alerts', { query: { ...options }, response: AlertListSchema });
  }

  /** `POST /jobs/score_dataset`: starts scoring a dataset with a model; resolves with the pending job. */
  scoreDataset(body: z.input<typeof ScoreDatasetRequestSchema>): Promise<JobWire> {
    return this.request('POST', '/jobs/score_dataset', { body, response: JobSchema });
  }

  /** `GET /jobs`: one page, newest first, optionally filtered. */
  listJobs(options: ListJobsOptions = {}): Promise<JobListWire> {
    return this.request('GET', '/jobs', { query: { ...options }, response: JobListSchema });
  }

  /** `GET /jobs/:id`: status, phase, timings, error. */
  getJob(id: string): Promise<JobWire> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}`, { response: JobSchema });
  }

  /** `GET /jobs/:id/progress`: rows done and total, rate, ETA. */
  getJobProgress(id: string): Promise<JobProgressWire> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}/progress`, { response: JobProgressSchema });
  }

  /** `POST /jobs/:id/cancel`: stops a pending or running job and deletes its scores. */
  cancelJob(id: string): Promise<JobWire> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/cancel`, { response: JobSchema });
  }

  /** `GET /models/:id/eval`: the model's figures on a dataset it scored (latest job unless `jobId`). */
  evaluate(modelId: string, datasetId: string, jobId?: string): Promise<EvaluationWire> {
    return this.request('GET', `/models/${encodeURIComponent(modelId)}/eval`, {
      query: { dataset_id: datasetId, job_id: jobId },
      response: EvaluationSchema,
    });
  }

  /** `GET /models/:id/error_distribution`: errors per anomaly type, region or project. */
  errorDistribution(
    modelId: string,
    datasetId: string,
    groupBy: ErrorGrouping,
    jobId?: string,
  ): Promise<ErrorDistributionWire> {
    return this.request('GET', `/models/${encodeURIComponent(modelId)}/error_distribution`, {
      query: { dataset_id: datasetId, group_by: groupBy, job_id: jobId },
      response: ErrorDistributionSchema,
    });
  }

  /**
   * Sends a request and checks the response against `options.response`.
   *
   * @throws ApiError with the API's status, code, message and details when it answers an error;
   *   status 0 `unreachable` when it cannot be reached; `bad_response` when the answer breaks
   *   the contract
   */
  async request<S extends z.ZodType>(
    method: string,
    path: string,
    options: RequestOptions<S>,
  ): Promise<z.output<S>> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;

    // Send
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        signal,
        headers: options.body === undefined ? {} : { 'content-type': 'application/json' },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch (err) {
      const reason =
        err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new ApiError(0, 'unreachable', `cannot reach the TADS API at ${this.baseUrl}: ${reason}`, null, {
        cause: err,
      });
    }

    // Interpret
    const text = await res.text();
    let json: unknown = undefined;
    if (text.length > 0) {
      try {
        json = JSON.parse(text) as unknown;
      } catch {
        throw new ApiError(
          res.status,
          'bad_response',
          `${method} ${path}: the API answered ${res.status} with non-JSON text`,
        );
      }
    }
    if (!res.ok) {
      const body = ErrorBodySchema.safeParse(json);
      if (body.success) {
        throw new ApiError(
          res.status,
          body.data.error.code,
          body.data.error.message,
          body.data.error.details,
        );
      }
      throw new ApiError(res.status, 'bad_response', `${method} ${path}: the API answered ${res.status}`);
    }
    const parsed = options.response.safeParse(json);
    if (!parsed.success) {
      throw new ApiError(
        res.status,
        'bad_response',
        `${method} ${path}: response breaks the contract: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  }
}
