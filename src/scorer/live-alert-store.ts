/**
 * The database side of the live scorer: a {@link LiveAlertSink} over the alert store
 * (src/db/alerts.ts, `source` = `live`). Saving is an upsert keyed by (source, host_id,
 * opened_at), so a scorer that restarts and resumes an alert updates the row its predecessor
 * inserted; loading gives a shard's open alerts and its hosts' latest closes (for cooldowns).
 */
import { z } from 'zod';
import type { AlertEvent } from '../core/alerts.js';
import { saveAlertEvents, saveSuppressedCounts } from '../db/alerts.js';
import { toDatabaseError } from '../db/errors.js';
import { withTransaction, type Pool } from '../db/pool.js';
import type { LiveAlertSink, LiveShardState, Shard } from './live-scorer.js';

/** The source of every live alert. */
export const LIVE_SOURCE = 'live';

const OpenRow = z.object({
  host_id: z.string(),
  opened_ms: z.number(),
  peak_score: z.number(),
  top_metric: z.string().nullable(),
  records: z.number().int(),
  suppressed: z.boolean(),
});
const ClosedRow = z.object({ host_id: z.string(), closed_ms: z.number() });

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
    try {
      const open = await this.#pool.query(
        `SELECT host_id, (extract(epoch FROM opened_at) * 1000)::float8 AS opened_ms, peak_score,
                top_metric, records, suppressed
         FROM alerts WHERE source = $1 AND state = 'open' ORDER BY opened_at, host_id`,
        [LIVE_SOURCE],
      );
      const closed = await this.#pool.query(
        `SELECT DISTINCT ON (host_id) host_id, (extract(epoch FROM closed_at) * 1000)::float8 AS closed_ms
         FROM alerts
         WHERE source = $1 AND state = 'closed'
           AND closed_at >= (SELECT max(closed_at) FROM alerts WHERE source = $1 AND state = 'closed')
                            - $2 * interval '1 millisecond'
         ORDER BY host_id, closed_at DESC`,
        [LIVE_SOURCE, this.#options.cooldownMs],
      );
      const metrics = this.#options.metrics;
      return {
        openAlerts: open.rows.map((r) => {
          const a = OpenRow.parse(r);
          return {
            hostId: a.host_id,
            openedAt: a.opened_ms,
            peakScore: a.peak_score,
            topMetric: a.top_metric === null ? -1 : metrics.indexOf(a.top_metric),
            records: a.records,
            suppressed: a.suppressed,
          };
        }),
        lastClosed: closed.rows.map((r) => {
          const c = ClosedRow.parse(r);
          return { hostId: c.host_id, closedAt: c.closed_ms };
        }),
      };
    } catch (err) {
      throw toDatabaseError(err);
    }
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
