/**
 * Dataset scoring job routes (DESIGN.md "Jobs"): `POST /jobs/score_dataset`, `GET /jobs`,
 * `GET /jobs/:id`, `GET /jobs/:id/progress`, `POST /jobs/:id/cancel`.
 */
import {
  JobListSchema,
  JobParamsSchema,
  JobProgressSchema,
  JobSchema,
  ListJobsQuerySchema,
  ScoreDatasetRequestSchema,
  type JobProgressWire,
  type JobWire,
} from '../../contract/jobs.js';
import { listJobs, requireJob, type JobRecord } from '../../db/jobs.js';
import { cancelScoreDatasetJob, submitScoreDatasetJob } from '../../jobs/score-dataset.js';
import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';

/** The wire form of a job. */
export function jobToWire(j: JobRecord): JobWire {
  return {
    id: j.id,
    kind: j.kind,
    model_id: j.modelId,
    dataset_id: j.datasetId,
    status: j.status,
    phase: j.phase,
    error: j.error,
    chunk_rows: j.params.chunkRows,
    policy: j.params.policy,
    rows_total: j.rowsTotal,
    rows_done: j.rowsDone,
    timings: {
      scoring_ms: j.timings.scoringMs,
      alerts_ms: j.timings.alertsMs,
      runs: j.timings.runs,
      run_started_at: j.timings.runStartedAt?.toISOString() ?? null,
      run_start_rows: j.timings.runStartRows,
    },
    created_at: j.createdAt.toISOString(),
    started_at: j.startedAt?.toISOString() ?? null,
    finished_at: j.finishedAt?.toISOString() ?? null,
  };
}

/**
 * Progress of a job: rows done of the total, and the current run's rate (rows scored since the
 * run started over the time since) with the ETA at that rate.
 *
 * @param now - the current time (ms), for the rate
 */
export function jobProgress(j: JobRecord, now: number = Date.now()): JobProgressWire {
  const fraction = j.rowsTotal === 0 ? 1 : Math.min(1, j.rowsDone / j.rowsTotal);
  let rate: number | null = null;
  let eta: number | null = null;
  const started = j.timings.runStartedAt;
  const runRows = j.rowsDone - j.timings.runStartRows;
  if (j.status === 'running' && started && runRows > 0 && now > started.getTime()) {
    rate = runRows / ((now - started.getTime()) / 1000);
    eta = j.phase === 'scoring' ? (j.rowsTotal - j.rowsDone) / rate : 0;
  }
  return {
    job_id: j.id,
    status: j.status,
    phase: j.phase,
    rows_done: j.rowsDone,
    rows_total: j.rowsTotal,
    fraction,
    rate_rows_per_s: rate,
    eta_s: eta,
  };
}

/** Registers the job routes. */
export function register(router: Router, deps: ApiDeps): void {
  router.route({
    method: 'post',
    path: '/jobs/score_dataset',
    summary: 'Score a dataset with a model',
    description:
      'Starts a job that scores every row of a completed dataset with a completed model, then replays the scores into alerts. Answers 202 with the pending job; poll `GET /jobs/:id/progress`. `chunk_rows` (default 50 000) sets rows per transaction; `policy` (`default` or `smoothed`) the detector policy of the alerts.',
    tags: ['jobs'],
    body: ScoreDatasetRequestSchema,
    response: JobSchema,
    status: 202,
    errors: [404, 409, 413],
    handler: async ({ body }) => {
      const job = await submitScoreDatasetJob(deps.pool, body);
      deps.jobs?.submit(job.id);
      return jobToWire(job);
    },
  });

  router.route({
    method: 'get',
    path: '/jobs',
    summary: 'List jobs, newest first',
    tags: ['jobs'],
    query: ListJobsQuerySchema,
    response: JobListSchema,
    handler: async ({ query }) => {
      const page = await listJobs(deps.pool, query);
      return { items: page.items.map(jobToWire), next_cursor: page.nextCursor };
    },
  });

  router.route({
    method: 'get',
    path: '/jobs/:id',
    summary: 'One job: status, phase, timings, error',
    tags: ['jobs'],
    params: JobParamsSchema,
    response: JobSchema,
    errors: [404],
    handler: async ({ params }) => jobToWire(await requireJob(deps.pool, params.id)),
  });

  router.route({
    method: 'get',
    path: '/jobs/:id/progress',
    summary: "A job's progress: rows done and total, rate, ETA",
    tags: ['jobs'],
    params: JobParamsSchema,
    response: JobProgressSchema,
    errors: [404],
    handler: async ({ params }) => jobProgress(await requireJob(deps.pool, params.id)),
  });

  router.route({
    method: 'post',
    path: '/jobs/:id/cancel',
    summary: 'Cancel a pending or running job and delete its scores',
    tags: ['jobs'],
    params: JobParamsSchema,
    response: JobSchema,
    errors: [404, 409],
    handler: async ({ params }) => {
      const job = deps.jobs
        ? await deps.jobs.cancel(params.id)
        : await cancelScoreDatasetJob(deps.pool, params.id);
      return jobToWire(job);
    },
  });
}
