/**
 * Live scoring, wired: a {@link LiveScorer} over the database's alert store, fed by the
 * generator's live stream. `tads scorer` runs one shard ({@link runShardScorer}); `tads serve
 * --live N` runs a live fleet of N hosts and its scorer (shard 0 of 1) inside the server
 * ({@link startLive}).
 *
 * The live fleet scores with the given model, else the newest completed model; while there is
 * none it looks again every few seconds and starts once one appears. It keeps the model it
 * started with until stopped. A failed stream restarts and resumes its alerts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../api/deps.js';
import type { GenerateParamsInput } from '../contract/generator.js';
import { Detector, type PolicyName } from '../core/detector.js';
import { isTadsError } from '../core/errors.js';
import { parseGenerateParams } from '../core/generator.js';
import type { PcaModel } from '../core/pca.js';
import { migrate } from '../db/migrate.js';
import { listModels } from '../db/models.js';
import type { Pool } from '../db/pool.js';
import { GeneratorClient } from '../generator/client.js';
import { DbLiveAlertSink } from '../scorer/live-alert-store.js';
import { LiveScorer, type LiveScorerStats, type Shard } from '../scorer/live-scorer.js';
import { coalesceBatches } from '../scorer/live-source.js';
import { loadCompletedModel, resolveScorerModel } from '../scorer/models.js';
import type { System } from './system.js';

/** Seconds between two looks for a completed model, and before a failed live stream restarts. */
export const LIVE_RETRY_S = 5;

/** Options of {@link runLiveScorer}. */
export interface LiveRunOptions {
  pool: Pool;
  /** The generator service's client the stream comes from. */
  generator: GeneratorClient;
  /** The stored model's id (alerts name it) and the model. */
  modelId: string;
  model: PcaModel;
  shard: Shard;
  /** The detector policy of the alerts (default `default`). */
  policy?: PolicyName;
  /** The live fleet (hosts, seed, interval, anomaly rate); every shard of a fleet asks the same. */
  fleet: GenerateParamsInput;
  /** Records per second of the whole stream (0: real time). */
  rate: number;
  /** Most records scored at once. */
  batchSize: number;
  /** Stops the scorer after the batch in hand, its alerts saved. */
  signal: AbortSignal;
  /** Called once the scorer has resumed its shard's alerts, before the stream starts. */
  onStarted?: (scorer: LiveScorer) => void;
}

/**
 * Scores the live stream of one shard until `signal` aborts or the stream ends: resumes the
 * shard's open alerts, then scores in coalesced batches and saves the alerts after each.
 *
 * @returns the scorer's final figures
 * @throws whatever resuming, the stream or saving throws
 */
export async function runLiveScorer(options: LiveRunOptions): Promise<LiveScorerStats> {
  const { pool, modelId, model, shard, batchSize } = options;
  const alerts = { intervalS: parseGenerateParams(options.fleet).intervalS };
  const policy = options.policy ?? 'default';
  const scorer = new LiveScorer({
    model,
    shard,
    batchSize,
    policy,
    alerts,
    sink: new DbLiveAlertSink(pool, {
      modelId,
      metrics: model.metrics,
      cooldownMs: new Detector({ policy, alerts }).options.cooldownMs,
    }),
  });
  await scorer.start();
  options.onStarted?.(scorer);
  const stream = options.generator.streamTelemetry({
    params: options.fleet,
    rate: options.rate,
    shardIndex: shard.index,
    shardCount: shard.count,
  });
  return scorer.run(coalesceBatches(stream, { maxRecords: batchSize }), options.signal);
}

/** Options of {@link runShardScorer}. */
export interface ShardScorerOptions extends Omit<
  LiveRunOptions,
  'generator' | 'modelId' | 'model' | 'onStarted'
> {
  /** `host:port` of the generator service. */
  generatorAddress: string;
  /** A stored model's id, or a model.json file holding a stored model. */
  model: string;
  /** Called once the scorer has resumed its shard's alerts, before the stream starts. */
  onStarted?: (scorer: LiveScorer, modelId: string) => void;
}

/**
 * The live scorer of one shard (`tads scorer`): migrates the database, loads the model
 * (src/scorer/models.ts `resolveScorerModel`) and runs {@link runLiveScorer}.
 *
 * @returns the model's id and the scorer's final figures
 * @throws NotFoundError, ConflictError or ValidationError for a model that cannot score;
 *   whatever {@link runLiveScorer} throws
 */
export async function runShardScorer(
  options: ShardScorerOptions,
): Promise<{ modelId: string; stats: LiveScorerStats }> {
  const { generatorAddress, model: idOrFile, onStarted, ...run } = options;
  const generator = new GeneratorClient(generatorAddress);
  try {
    await migrate(run.pool);
    const { id: modelId, model } = await resolveScorerModel(run.pool, idOrFile);
    const stats = await runLiveScorer({
      ...run,
      generator,
      modelId,
      model,
      ...(onStarted ? { onStarted: (scorer: LiveScorer) => onStarted(scorer, modelId) } : {}),
    });
    return { modelId, stats };
  } finally {
    generator.close();
  }
}

/** Options of {@link startLive}. */
export interface LiveOptions {
  system: System;
  /** The live fleet (hosts, seed, interval, anomaly rate). */
  params: GenerateParamsInput;
  /** Score with this model (else the newest completed one). */
  modelId?: string;
  /** The detector policy of the live alerts (default `default`). */
  policy?: PolicyName;
  log: Logger;
  /** Seconds between status lines (0: none). */
  reportEveryS?: number;
  /** Writes a status line (default: none). */
  report?: (stats: LiveScorerStats) => void;
}

/** A running live fleet and its scorer. */
export interface LiveHandle {
  /** Stops the scorer after the batch in hand, its alerts saved. Idempotent. */
  stop(): Promise<void>;
}

/** The model to score with: `modelId` once completed, else the newest completed model; or null. */
async function findModel(
  system: System,
  modelId: string | undefined,
): Promise<{ id: string; model: PcaModel } | null> {
  if (modelId !== undefined) {
    try {
      return { id: modelId, model: await loadCompletedModel(system.pool, modelId) };
    } catch (err) {
      // Not completed yet (pending or running): look again later. Unknown: the caller gives up.
      if (isTadsError(err) && err.code === 'conflict') return null;
      throw err;
    }
  }
  const page = await listModels(system.pool, { limit: 1, status: 'completed' });
  const newest = page.items[0];
  if (newest === undefined) return null;
  return { id: newest.id, model: await loadCompletedModel(system.pool, newest.id) };
}

/**
 * Starts the live fleet and its scorer in the background (see the module comment).
 *
 * @param options - see {@link LiveOptions}
 * @returns a handle to stop it
 */
export function startLive(options: LiveOptions): LiveHandle {
  const { system, log } = options;
  const params = parseGenerateParams(options.params);
  const stop = new AbortController();
  const generator = new GeneratorClient(system.generatorAddress);
  const pause = (s: number) => sleep(s * 1000, undefined, { signal: stop.signal }).catch(() => {});

  const loop = async () => {
    // Wait for a model.
    let waiting = false;
    let found: { id: string; model: PcaModel } | null = null;
    while (!stop.signal.aborted && found === null) {
      try {
        found = await findModel(system, options.modelId);
      } catch (err) {
        log.error('live scoring off: its model cannot be loaded', {
          model_id: options.modelId,
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      if (found === null) {
        if (!waiting) {
          log.info('live scoring waits for a completed model', {
            model_id: options.modelId ?? null,
            hint: 'train one in the dashboard (Control tab), with POST /train or tads train',
            retry_s: LIVE_RETRY_S,
          });
          waiting = true;
        }
        await pause(LIVE_RETRY_S);
      }
    }
    if (found === null) return;
    const { id: modelId, model } = found;

    // Score the fleet's stream until stopped; a failed stream restarts and resumes its alerts.
    while (!stop.signal.aborted) {
      let report: NodeJS.Timeout | undefined;
      try {
        const final = await runLiveScorer({
          pool: system.pool,
          generator,
          modelId,
          model,
          shard: { index: 0, count: 1 },
          ...(options.policy !== undefined ? { policy: options.policy } : {}),
          fleet: options.params,
          rate: 0,
          batchSize: 10_000,
          signal: stop.signal,
          onStarted: (scorer) => {
            const everyS = options.reportEveryS ?? 0;
            if (everyS > 0 && options.report) {
              const write = options.report;
              report = setInterval(() => write(scorer.stats()), everyS * 1000);
              report.unref();
            }
            log.info('live scoring started', {
              model_id: modelId,
              policy: options.policy ?? 'default',
              hosts: params.hostCount,
              interval_s: params.intervalS,
              anomaly_rate: params.anomalyRate,
              resumed_alerts: scorer.stats().alertsResumed,
            });
          },
        });
        log.info('live scoring stopped', {
          model_id: modelId,
          records: final.records,
          alerts_opened: final.alertsOpened,
          open_alerts: final.openAlerts,
        });
      } catch (err) {
        if (stop.signal.aborted) break;
        log.warn('live scoring failed; restarting', {
          error: err instanceof Error ? err.message : String(err),
          retry_s: LIVE_RETRY_S,
        });
        await pause(LIVE_RETRY_S);
      } finally {
        if (report) clearInterval(report);
      }
    }
  };

  const running = loop().catch((err: unknown) =>
    log.error('live scoring ended', { error: err instanceof Error ? err.message : String(err) }),
  );
  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        stop.abort();
        await running;
        generator.close();
      })();
      return stopping;
    },
  };
}
