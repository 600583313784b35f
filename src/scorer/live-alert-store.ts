/**
 * The database side of the live scorer: a {@link LiveAlertSink} over the alert store
 * (src/db/alerts.ts, `source` = `live`). Saving is an upsert keyed by (source, host_id,
 * opened_at), so a scorer that restarts and resumes an alert updates the row its predecessor
 * inserted; loading gives a shard's open alerts and its hosts' latest closes (for cooldowns).
 */
import type { AlertEvent } from '../core/alerts.js';
import { listOpenAlerts, listRecentCloses, saveAlertEvents, saveSuppressedCounts } from '../db/alerts.js';
import { withTransaction, type Pool } from '../db/pool.js';
import type { LiveAlertSink, LiveShardState, Shard } from './live-scorer.js';

/** The source of every live alert. */
export const LIVE_SOURCE = 'live';

/** Options of {@link DbLiveAlertSink}. */
export interface DbLiveAlertSinkOptions {
  /** The model scoring the records (stored with each alert). */
  modelId: string;
  /** The model's metric names, to store and read top metrics by name. */
  metrics: readonly string[];
  /**
   * The alert manager's cooldown in ms (≥ 0): closes older than the newest stored close minus
   * this cannot hold a host in cooldown any more and are not loaded.
   */
  cooldownMs: number;
}

/**
 * Live alerts in the database.
 *
 * @example
 * const sink = new DbLiveAlertSink(pool, { modelId, metrics: model.metrics, cooldownMs: 300_000 });
 * const scorer = new LiveScorer({ model, shard, sink });
 */
export class DbLiveAlertSink implements LiveAlertSink {
  readonly #pool: Pool;
  readonly #options: DbLiveAlertSinkOptions;

  /**
   * @param pool - the database
   * @param options - see {@link DbLiveAlertSinkOptions}
   * @throws RangeError for a negative or non-finite cooldown
   */
  constructor(pool: Pool, options: DbLiveAlertSinkOptions) {
    if (!(Number.isFinite(options.cooldownMs) && options.cooldownMs >= 0)) {
      throw new RangeError(`options.cooldownMs must be a finite number ≥ 0; got ${options.cooldownMs}`);
    }
    this.#pool = pool;
    this.#options = { ...options, metrics: [...options.metrics] };
  }

  /**
   * The open live alerts and recent closes of every host (the scorer keeps its shard's): the
   * shard of a host depends on the shard count, which may change between runs.
   */
  async load(_shard: Shard): Promise<LiveShardState> {
    const open = await listOpenAlerts(this.#pool, LIVE_SOURCE);
    const closed = await listRecentCloses(this.#pool, LIVE_SOURCE, this.#options.cooldownMs);
    const metrics = this.#options.metrics;
    return {
      openAlerts: open.map((a) => ({
        hostId: a.hostId,
        openedAt: a.openedMs,
        peakScore: a.peakScore,
        topMetric: a.topMetric === null ? -1 : metrics.indexOf(a.topMetric),
        records: a.records,
        suppressed: a.suppressed,
      })),
      lastClosed: closed.map((c) => ({ hostId: c.hostId, closedAt: c.closedMs })),
    };
  }

  /** Stores a batch's events and suppressed counts in one transaction. */
  async save(events: readonly AlertEvent[], suppressed: ReadonlyMap<number, number>): Promise<void> {
    await withTransaction(this.#pool, async (client) => {
      if (events.length > 0) {
        await saveAlertEvents(
          client,
          { source: LIVE_SOURCE, modelId: this.#options.modelId },
          events,
          this.#options.metrics,
        );
      }
      if (suppressed.size > 0)
        await saveSuppressedCounts(client, { source: LIVE_SOURCE, jobId: null, counts: suppressed });
    });
  }
}
