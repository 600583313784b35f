/**
 * The job runner of a server process: runs dataset scoring jobs inside the process (DESIGN.md
 * "Jobs"), a few at a time, each under its lease.
 *
 * - Submitted jobs start at once when a slot is free, else wait in a local queue (they stay
 *   `pending` and unleased, so another server may take them meanwhile).
 * - Its reap action (registered with the process's reaper, src/db/leases.ts, which runs it at
 *   start and every few seconds) takes over jobs no server is running — pending ones nobody
 *   started and running ones whose lease expired because their server died — and resumes them
 *   from their checkpoint. It also drops score partitions left behind by cancelled jobs.
 * - Cancelling marks the job cancelled (which fences every further write of whoever runs it),
 *   stops a local run, and deletes the job's scores and alerts.
 * - `stop()` (server shutdown) stops local runs at their next chunk and releases their leases so
 *   another server resumes them at once instead of after the lease expiry.
 */
import { EventEmitter } from 'node:events';
import { listLeftoverScorePartitions } from '../db/job-scores.js';
import { findOrphanedJobs, markJobCancelled, type JobRecord } from '../db/jobs.js';
import { releaseLease, type Reaper } from '../db/leases.js';
import type { Pool } from '../db/pool.js';
import { toDatabaseError } from '../db/errors.js';
import {
  deleteJobOutputs,
  runScoreDatasetJob,
  type JobProgressEvent,
  type RunResult,
} from './score-dataset.js';

/** Options of {@link JobRunner}. */
export interface JobRunnerOptions {
  /** The database pool. */
  pool: Pool;
  /** This process's lease owner id (the reaper's). */
  owner: string;
  /** Jobs run at once by this process (default 1). */
  concurrency?: number;
  /** Lease lifetime and heartbeat period in ms (defaults: src/db/leases.ts). */
  leaseTtlMs?: number;
  heartbeatMs?: number;
}

/** Events of a {@link JobRunner}. */
export interface JobRunnerEvents {
  /** After every committed chunk and phase change of a local run. */
  progress: [JobProgressEvent];
  /** When a local run ends, however it ended. */
  finished: [{ jobId: string; result: RunResult }];
}

interface ActiveRun {
  controller: AbortController;
  done: Promise<RunResult>;
}

/**
 * Runs scoring jobs inside a server process.
 *
 * @example
 * const runner = new JobRunner({ pool, owner: reaper.owner });
 * runner.attach(reaper);          // resume orphaned jobs at start and every few seconds
 * const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 50_000 });
 * runner.submit(job.id);
 */
export class JobRunner extends EventEmitter<JobRunnerEvents> {
  readonly owner: string;
  readonly #pool: Pool;
  readonly #concurrency: number;
  readonly #ttl: number | undefined;
  readonly #beat: number | undefined;
  readonly #active = new Map<string, ActiveRun>();
  readonly #queue: string[] = [];
  #stopped = false;

  /**
   * @param options - pool, owner, concurrency (an integer ≥ 1, default 1), lease timing
   * @throws RangeError for a bad concurrency
   */
  constructor(options: JobRunnerOptions) {
    super();
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be an integer ≥ 1; got ${concurrency}`);
    }
    this.#pool = options.pool;
    this.owner = options.owner;
    this.#concurrency = concurrency;
    this.#ttl = options.leaseTtlMs;
    this.#beat = options.heartbeatMs;
  }

  /** Registers the runner's reap action (`jobs`) with the process's reaper. */
  attach(reaper: Reaper): void {
    reaper.register('jobs', () => this.resumeOrphans());
  }

  /** Ids of the jobs this process is running now. */
  get running(): string[] {
    return [...this.#active.keys()];
  }

  /** True when this process is running the job. */
  isRunning(jobId: string): boolean {
    return this.#active.has(jobId);
  }

  /**
   * Asks the runner to run a job: now if a slot is free, else when one frees up. A job already
   * running or queued here is not queued twice.
   */
  submit(jobId: string): void {
    if (this.#stopped || this.#active.has(jobId) || this.#queue.includes(jobId)) return;
    this.#queue.push(jobId);
    this.#pump();
  }

  /**
   * The reap action: queues every job no server is running (pending and unleased, or with an
   * expired lease), and drops score partitions of cancelled jobs that a racing run recreated.
   *
   * @returns how many jobs were queued
   */
  async resumeOrphans(): Promise<number> {
    if (this.#stopped) return 0;
    const ids = await findOrphanedJobs(this.#pool);
    let queued = 0;
    for (const id of ids) {
      if (this.#active.has(id) || this.#queue.includes(id)) continue;
      this.submit(id);
      queued += 1;
    }
    await this.#dropCancelledLeftovers();
    return queued;
  }

  /**
   * Cancels a pending or running job: marks it cancelled, stops the local run if there is one,
   * and deletes its scores and alerts.
   *
   * @returns the job as cancelled
   * @throws NotFoundError for an unknown id; ConflictError when the job is already over
   */
  async cancel(jobId: string): Promise<JobRecord> {
    const job = await markJobCancelled(this.#pool, jobId);
    const idx = this.#queue.indexOf(jobId);
    if (idx >= 0) this.#queue.splice(idx, 1);
    const active = this.#active.get(jobId);
    if (active) {
      active.controller.abort();
      await active.done;
    }
    await this.#deleteOutputs(jobId);
    return job;
  }

  /**
   * Stops the runner: no new runs; local runs stop at their next chunk and their leases are
   * released so another server can resume them at once.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queue.length = 0;
    const runs = [...this.#active.values()];
    for (const r of runs) r.controller.abort();
    await Promise.all(runs.map((r) => r.done));
  }

  /** Starts queued jobs while slots are free. */
  #pump(): void {
    while (!this.#stopped && this.#active.size < this.#concurrency && this.#queue.length > 0) {
      const jobId = this.#queue.shift()!;
      const controller = new AbortController();
      const done = this.#run(jobId, controller.signal);
      this.#active.set(jobId, { controller, done });
    }
  }

  async #run(jobId: string, signal: AbortSignal): Promise<RunResult> {
    let result: RunResult;
    try {
      result = await runScoreDatasetJob(this.#pool, jobId, {
        owner: this.owner,
        signal,
        ...(this.#ttl !== undefined ? { leaseTtlMs: this.#ttl } : {}),
        ...(this.#beat !== undefined ? { heartbeatMs: this.#beat } : {}),
        onProgress: (e) => this.emit('progress', e),
      });
      // A stopped run hands its lease back (a cancelled one lost it already).
      if (result.outcome === 'stopped') {
        await releaseLease(this.#pool, 'jobs', jobId, this.owner).catch(() => {});
      }
    } catch (err) {
      result = { outcome: 'unavailable', job: null, error: toDatabaseError(err) };
    }
    this.#active.delete(jobId);
    this.emit('finished', { jobId, result });
    this.#pump();
    return result;
  }

  /** Deletes a cancelled job's scores and alerts (idempotent). */
  async #deleteOutputs(jobId: string): Promise<void> {
    await deleteJobOutputs(this.#pool, jobId);
  }

  /**
   * Deletes the outputs of jobs whose score partitions nobody needs any more (cancelled jobs, and
   * jobs whose row is gone: src/db/job-scores.ts `listLeftoverScorePartitions`), except runs here.
   */
  async #dropCancelledLeftovers(): Promise<void> {
    for (const id of await listLeftoverScorePartitions(this.#pool))
      if (!this.#active.has(id)) await this.#deleteOutputs(id);
  }
}
