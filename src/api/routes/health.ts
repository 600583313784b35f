/**
 * `GET /health`: the server answers and its database does (503 when it does not).
 *
 * The database check (`SELECT 1`, src/db/pool.ts `pingDatabase`) is shared: a success is
 * remembered for {@link HEALTH_CHECK_TTL_MS} (1 s) from when its query was sent, and answered from
 * memory in the meantime, so that polling `/health` under load costs no database round trip per
 * call; checks asked for while one is running wait for that one. A failure is not remembered: every call after
 * it checks again. So a database that goes down shows as 503 within a second, and one that comes
 * back as `ok` on the next call. `database_ms` is the round trip of the latest check.
 *
 * The server runs the check on a probe connection of its own (`deps.probe`, src/db/pool.ts
 * `createProbePool` with {@link HEALTH_CHECK_TIMEOUT_MS}), so it does not queue behind a pool
 * whose every connection is busy, and gives up after that time: a stalled database answers 503
 * within it.
 */
import { HealthSchema } from '../../contract/common.js';
import { pingDatabase, type Queryable } from '../../db/pool.js';
import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';

/** How long a successful database check is reused, in milliseconds. */
export const HEALTH_CHECK_TTL_MS = 1000;

/** How long the database check waits for a connection and for its answer, in milliseconds. */
export const HEALTH_CHECK_TIMEOUT_MS = 2000;

/**
 * The database check behind `/health`: `SELECT 1`, a success reused for `ttlMs`, concurrent
 * checks coalesced, failures never reused.
 */
export class DatabaseCheck {
  readonly #db: Queryable;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #last: { at: number; ms: number } | undefined;
  #running: Promise<number> | undefined;

  /**
   * @param db - what runs the query (a probe pool beside the server's)
   * @param ttlMs - how long a success is reused (default {@link HEALTH_CHECK_TTL_MS})
   * @param now - the clock, in milliseconds (default `performance.now`)
   */
  constructor(db: Queryable, ttlMs = HEALTH_CHECK_TTL_MS, now: () => number = () => performance.now()) {
    this.#db = db;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /**
   * The round trip of a recent successful check, in ms, at once when one is fresh; else a
   * promise of a new check's (rejected with the database's error when it fails).
   */
  check(): number | Promise<number> {
    const last = this.#last;
    if (last && this.#now() - last.at < this.#ttlMs) return last.ms;
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<number> {
    const t0 = this.#now();
    try {
      await pingDatabase(this.#db);
      const ms = this.#now() - t0;
      this.#last = { at: t0, ms };
      return ms;
    } catch (err) {
      this.#last = undefined;
      throw err;
    } finally {
      this.#running = undefined;
    }
  }
}

/** Registers `GET /health`. */
export function register(router: Router, deps: ApiDeps): void {
  const database = new DatabaseCheck(deps.probe ?? deps.pool);
  const answer = (ms: number) => ({ status: 'ok' as const, version: deps.version, database_ms: ms });
  router.route({
    method: 'get',
    path: '/health',
    summary: 'Liveness and database reachability',
    description:
      'A successful database check is reused for 1 s; a failed one is not. The check has a connection of its own and gives up after 2 s.',
    tags: ['health'],
    response: HealthSchema,
    errors: [503],
    handler: () => {
      const ms = database.check();
      return typeof ms === 'number' ? answer(ms) : ms.then(answer);
    },
  });
}
