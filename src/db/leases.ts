/**
 * Leases on long-running work (dataset generations, trainings, scoring jobs). A row of `datasets`,
 * `models` or `jobs` that is `pending` or `running` is held by the server process named in
 * `lease_owner` until `lease_expires_at`; the holder pushes the expiry forward with a heartbeat.
 * A row whose lease has expired belongs to nobody: whichever server notices claims it and
 * either fails it (generations, trainings) or resumes it (jobs). Live work of another process,
 * whose lease is current, is never touched.
 *
 * The reaper runs the registered reap actions at start and every few seconds after.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConflictError } from '../core/errors.js';
import { toDatabaseError } from './errors.js';
import type { Pool, Queryable } from './pool.js';

/** Tables whose rows carry a lease (fixed list: table names never come from input). */
export const LEASED_TABLES = ['datasets', 'models', 'jobs'] as const;
export type LeasedTable = (typeof LEASED_TABLES)[number];

/** How long a lease lasts without a heartbeat, in ms. */
export const LEASE_TTL_MS = 15_000;

/** SQL for the expiry of a lease taken or renewed now ({@link LEASE_TTL_MS} from now). */
export const LEASE_EXPIRY_SQL = `now() + ${LEASE_TTL_MS} * interval '1 millisecond'`;
/** How often a holder should renew its lease, in ms (well inside the TTL). */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** How often the reaper looks for expired leases, in ms. */
export const REAP_INTERVAL_MS = 5_000;

function checkTable(table: LeasedTable): LeasedTable {
  if (!(LEASED_TABLES as readonly string[]).includes(table)) {
    throw new TypeError(`table must be one of ${LEASED_TABLES.join(', ')}; got ${String(table)}`);
  }
  return table;
}

/**
 * A new owner id for this server process: host, pid and a random suffix, so that a restarted
 * process with a recycled pid is a different owner.
 */
export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

const IdRow = z.object({ id: z.union([z.string(), z.number()]).transform(String) });

/**
 * Takes the lease of a pending or running row for `owner`, when it is free, already ours, or
 * expired.
 *
 * @returns true when `owner` now holds the lease
 */
export async function acquireLease(
  db: Queryable,
  table: LeasedTable,
  id: string,
  owner: string,
  ttlMs: number = LEASE_TTL_MS,
): Promise<boolean> {
  try {
    const { rowCount } = await db.query(
      `UPDATE ${checkTable(table)}
          SET lease_owner = $2, lease_expires_at = now() + $3 * interval '1 millisecond'
        WHERE id = $1 AND status IN ('pending', 'running')
          AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < now())`,
      [id, owner, ttlMs],
    );
    return rowCount === 1;
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/**
 * Renews `owner`'s lease on a row (the heartbeat).
 *
 * @returns false when the lease is no longer ours (expired and claimed by another server, or the
 *   row finished or was deleted): the holder must stop working on it
 */
export async function heartbeatLease(
  db: Queryable,
  table: LeasedTable,
  id: string,
  owner: string,
  ttlMs: number = LEASE_TTL_MS,
): Promise<boolean> {
  try {
    const { rowCount } = await db.query(
      `UPDATE ${checkTable(table)}
          SET lease_expires_at = now() + $3 * interval '1 millisecond'
        WHERE id = $1 AND lease_owner = $2 AND status IN ('pending', 'running')`,
      [id, owner, ttlMs],
    );
    return rowCount === 1;
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/**
 * Moves a pending row held by `owner` to `running`, stamps `started_at` and renews the lease.
 *
 * @throws LeaseLostError when the row is not pending under `owner`'s lease
 */
export async function startLeasedWork(
  db: Queryable,
  table: LeasedTable,
  id: string,
  owner: string,
  ttlMs: number = LEASE_TTL_MS,
): Promise<void> {
  let rowCount: number | null;
  try {
    ({ rowCount } = await db.query(
      `UPDATE ${checkTable(table)}
          SET status = 'running', started_at = now(), lease_expires_at = now() + $3 * interval '1 millisecond'
        WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
      [id, owner, ttlMs],
    ));
  } catch (err) {
    throw toDatabaseError(err);
  }
  if (rowCount !== 1) throw new LeaseLostError(table, id, owner, 'pending');
}

/**
 * Work whose row is no longer `expected` under `owner`'s lease (taken over by another server,
 * cancelled, failed or ended): it must stop, and a transaction it is in must roll back.
 */
export class LeaseLostError extends ConflictError {
  constructor(table: LeasedTable, id: string, owner: string, expected: 'pending' | 'running' = 'running') {
    const kind = table === 'datasets' ? 'dataset' : table === 'models' ? 'model' : 'job';
    super(`${kind} ${id} is not ${expected} under a lease held by ${owner}`, { id, owner });
  }
}

/**
 * A fenced write: updates a running row only while `owner` holds its lease. `set` is the SET
 * list (SQL written by the caller, never from input), whose parameters start at $3 (`values`),
 * after the id ($1) and the owner ($2).
 *
 * @param returning - a RETURNING list, when the caller wants the updated row
 * @returns the updated row (with `returning`), else an empty list
 * @throws LeaseLostError when the row is not running under `owner`'s lease
 */
export async function updateLeasedRunning(
  db: Queryable,
  table: LeasedTable,
  id: string,
  owner: string,
  set: string,
  values: readonly unknown[],
  returning?: string,
): Promise<Record<string, unknown>[]> {
  let result: { rowCount: number | null; rows: Record<string, unknown>[] };
  try {
    result = await db.query(
      `UPDATE ${checkTable(table)} SET ${set}
        WHERE id = $1 AND lease_owner = $2 AND status = 'running'${returning ? ` RETURNING ${returning}` : ''}`,
      [id, owner, ...values],
    );
  } catch (err) {
    throw toDatabaseError(err);
  }
  if (result.rowCount !== 1) throw new LeaseLostError(table, id, owner);
  return result.rows;
}

/** Gives up `owner`'s lease on a row (no-op when it is not ours). */
export async function releaseLease(
  db: Queryable,
  table: LeasedTable,
  id: string,
  owner: string,
): Promise<void> {
  try {
    await db.query(
      `UPDATE ${checkTable(table)} SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2`,
      [id, owner],
    );
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/**
 * Claims every pending or running row of `table` whose lease has expired, giving the lease to
 * `owner`; rows locked by a concurrent claimer are skipped, so two servers never claim the same
 * row. The caller then fails or resumes each claimed row.
 *
 * @param limit - most rows claimed in one call (default 100)
 * @returns the claimed ids
 */
export async function claimExpiredLeases(
  db: Queryable,
  table: LeasedTable,
  owner: string,
  ttlMs: number = LEASE_TTL_MS,
  limit = 100,
): Promise<string[]> {
  const t = checkTable(table);
  try {
    const { rows } = await db.query(
      `UPDATE ${t}
          SET lease_owner = $1, lease_expires_at = now() + $2 * interval '1 millisecond'
        WHERE id IN (SELECT id FROM ${t}
                      WHERE status IN ('pending', 'running') AND lease_expires_at < now()
                      ORDER BY lease_expires_at
                      LIMIT $3
                      FOR UPDATE SKIP LOCKED)
      RETURNING id`,
      [owner, ttlMs, limit],
    );
    return rows.map((r) => IdRow.parse(r).id);
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/**
 * A reap action: looks for expired leases of one kind of work and deals with them.
 *
 * @returns how many rows it handled (for logs and tests)
 */
export type ReapAction = (pool: Pool, owner: string) => Promise<number>;

/** The reaper of one server process: a registry of reap actions run on a timer. */
export interface Reaper {
  /** This process's owner id (the one passed to every action). */
  readonly owner: string;
  /**
   * Adds a reap action under a unique name (e.g. `datasets`, `models`, `jobs`).
   *
   * @throws Error when the name is already registered
   */
  register(name: string, action: ReapAction): void;
  /** Runs every action once, in registration order; returns what each handled, by name. */
  runOnce(): Promise<Record<string, number>>;
  /** Runs once now, then every `intervalMs` (a failing action is reported, never fatal). */
  start(): void;
  /** Stops the timer and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

/** Options of {@link createReaper}. */
export interface ReaperOptions {
  /** This process's owner id (default: a new one). */
  owner?: string;
  /** Time between runs, in ms (default {@link REAP_INTERVAL_MS}). */
  intervalMs?: number;
  /** Called with an action's failure (default: ignored; the next run retries). */
  onError?: (name: string, err: unknown) => void;
}

/**
 * Creates the reaper of a server process. Register each kind of work's action, then `start()`.
 *
 * @example
 * const reaper = createReaper(pool, { owner });
 * reaper.register('datasets', reapExpiredDatasets);
 * reaper.start();
 * // … on shutdown
 * await reaper.stop();
 */
export function createReaper(pool: Pool, options: ReaperOptions = {}): Reaper {
  const owner = options.owner ?? newOwnerId();
  const intervalMs = options.intervalMs ?? REAP_INTERVAL_MS;
  const actions = new Map<string, ReapAction>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<Record<string, number>> | undefined;

  async function runAll(): Promise<Record<string, number>> {
    const handled: Record<string, number> = {};
    for (const [name, action] of actions) {
      try {
        handled[name] = await action(pool, owner);
      } catch (err) {
        handled[name] = 0;
        options.onError?.(name, err);
      }
    }
    return handled;
  }

  const reaper: Reaper = {
    owner,
    register(name, action) {
      if (actions.has(name)) throw new Error(`a reap action named ${name} is already registered`);
      actions.set(name, action);
    },
    async runOnce() {
      // Runs never overlap: a caller during a run waits for that run, then starts its own.
      while (running) await running;
      running = runAll();
      try {
        return await running;
      } finally {
        running = undefined;
      }
    },
    start() {
      if (timer) return;
      const tick = () => {
        void reaper.runOnce().finally(() => {
          if (timer) timer = setTimeout(tick, intervalMs).unref();
        });
      };
      timer = setTimeout(tick, 0).unref();
    },
    async stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (running) await running.catch(() => {});
    },
  };
  return reaper;
}
