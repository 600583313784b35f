/**
 * Background trainings inside the server process (`POST /train`): the request is checked and
 * the model recorded `pending` under this server's lease at once, so the caller gets its id
 * straight away; the training itself ({@link trainModel}) then runs in the background, renewing
 * the lease and recording progress every few seconds (readable at `GET /models/:id`).
 *
 * If the server dies, the lease expires and whichever server's reaper notices marks the model
 * failed ("interrupted"; src/db/models.ts `reapExpiredModels`). {@link TrainingRunner.stop} (a
 * clean shutdown) stops the trainings under way, which are failed with the same error.
 */
import { randomUUID } from 'node:crypto';
import { createModel, MODEL_INTERRUPTED, type ModelRow } from '../db/models.js';
import type { Pool } from '../db/pool.js';
import { checkTrainingInput, trainModel, type TrainModelInput, type TrainModelResult } from './training.js';

/** Where the runner reports trainings that end (the server's structured logger fits). */
export interface TrainingLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** What a training request asks for (the parsed `POST /train` body). */
export interface TrainingRequest {
  datasetId: string;
  name: string;
  variance?: number | undefined;
  nComponents?: number | undefined;
  alpha?: number | undefined;
  zLimit?: number | undefined;
  excludeLabelledAnomalies: boolean;
}

/** Runs trainings in the background of a server process. */
export interface TrainingRunner {
  /**
   * Checks the request, records the model as pending and starts training it in the background.
   *
   * @returns the model as recorded (pending)
   * @throws NotFoundError, ConflictError or ValidationError as {@link checkTrainingInput}
   */
  start(request: TrainingRequest): Promise<ModelRow>;
  /** Trainings under way in this process. */
  readonly active: number;
  /** Resolves when the training of `modelId` (started here) has settled; at once otherwise. */
  settled(modelId: string): Promise<void>;
  /** Stops every training under way (each is failed as "interrupted") and waits for them. */
  stop(): Promise<void>;
}

/** Options of {@link createTrainingRunner}. */
export interface TrainingRunnerOptions {
  pool: Pool;
  /** This server process's lease owner id. */
  owner: string;
  log?: TrainingLog;
  /**
   * Folder under which each model's `model.json` is written (`<dir>/<model id>/model.json`);
   * default: none (the model lives in the database only).
   */
  artifactsDir?: string;
  /** Rows per COPY chunk (see TrainModelInput.chunkRows). */
  chunkRows?: number;
}

/**
 * Creates the training runner of a server process.
 *
 * @example
 * const trainer = createTrainingRunner({ pool, owner });
 * const row = await trainer.start({ datasetId, name: 'pca_v1', excludeLabelledAnomalies: false });
 * // … later, on shutdown
 * await trainer.stop();
 */
export function createTrainingRunner(options: TrainingRunnerOptions): TrainingRunner {
  const { pool, owner, log } = options;
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();

  return {
    get active() {
      return running.size;
    },

    async start(request) {
      // Validate before recording, so a bad request leaves no model behind.
      const input: TrainModelInput = {
        datasetId: request.datasetId,
        name: request.name,
        options: {
          variance: request.variance,
          nComponents: request.nComponents,
          alpha: request.alpha,
          zLimit: request.zLimit,
        },
        excludeLabelledAnomalies: request.excludeLabelledAnomalies,
        owner,
        ...(options.chunkRows ? { chunkRows: options.chunkRows } : {}),
      };
      await checkTrainingInput(pool, input);

      // Record
      const modelId = randomUUID();
      const row = await createModel(pool, {
        id: modelId,
        name: request.name,
        datasetId: request.datasetId,
        params: {
          dataset_id: request.datasetId,
          variance: request.variance ?? null,
          n_components: request.nComponents ?? null,
          alpha: request.alpha ?? null,
          z_limit: request.zLimit ?? null,
          exclude_labelled_anomalies: request.excludeLabelledAnomalies,
        },
        owner,
      });

      // Train in the background; trainModel records success or failure on the model itself.
      const controller = new AbortController();
      const done = trainModel(pool, {
        ...input,
        modelId,
        signal: controller.signal,
        ...(options.artifactsDir ? { outputDir: `${options.artifactsDir}/${modelId}` } : {}),
      })
        .then((res: TrainModelResult) => {
          log?.info('training completed', { model_id: modelId, rows: res.rows, total_s: res.timings.totalS });
        })
        .catch((err: unknown) => {
          log?.warn('training failed', {
            model_id: modelId,
            error: err instanceof Error ? err.message : String(err),
          });
        })
        .finally(() => running.delete(modelId));
      running.set(modelId, { controller, done });
      return row;
    },

    async settled(modelId) {
      await running.get(modelId)?.done;
    },

    async stop() {
      for (const { controller } of running.values()) controller.abort(new Error(MODEL_INTERRUPTED));
      await Promise.all([...running.values()].map((r) => r.done));
    },
  };
}
