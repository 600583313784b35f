/**
 * The connection pool every part of TADS shares, and the transaction helper built on it.
 */
import pg from 'pg';
import { Turns } from '../core/turns.js';
import { toDatabaseError } from './errors.js';

/** A pool of connections to TADS's database. */
export type Pool = pg.Pool;
/** One checked-out connection. */
export type PoolClient = pg.PoolClient;
/** Anything that runs queries: the pool itself or a checked-out client (inside a transaction). */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** Default most connections of a pool. */
export const DEFAULT_POOL_MAX = 10;
/** Default wait for a free connection (or a new one to open), in ms. */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 5000;
/** Default longest wait for the answer to a query run through `pool.query`, in ms. */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

/** Options of {@link createPool}. */
export interface PoolOptions {
  /** Most connections open at once (default {@link DEFAULT_POOL_MAX}). */
  max?: number;
  /**
   * How long to wait for a connection — a free one of the pool, or a new one to open — before
   * failing, in ms (default {@link DEFAULT_ACQUIRE_TIMEOUT_MS}).
   */
  connectionTimeoutMillis?: number;
  /**
   * Longest wait for the answer to a query run through `pool.query`, in ms (default
   * {@link DEFAULT_QUERY_TIMEOUT_MS}; 0: no limit). The driver then gives up and closes that
   * connection, so a stalled server fails such queries instead of hanging them. Queries on a
   * checked-out client (`pool.connect()`: COPYs, transactions, the long reads of jobs and
   * analytics) are not limited.
   */
  queryTimeoutMillis?: number;
  /** `application_name` shown in pg_stat_activity (default `tads`). */
  applicationName?: string;
}

/** True for a query given as an object of text and values (not a COPY stream or a cursor). */
function isQueryConfig(q: unknown): q is Record<string, unknown> {
  return typeof q === 'object' && q !== null && typeof (q as { submit?: unknown }).submit !== 'function';
}

/**
 * Creates a connection pool for `url` (a `postgres://` URL). Connecting is lazy: a server that
 * is down shows up as a DatabaseUnavailableError on the first query, not here.
 *
 * Errors of idle connections (the server restarting, say) are absorbed: the pool drops that
 * connection and the next query opens a new one, instead of the process crashing.
 *
 * @param url - the database URL, e.g. `postgres://postgres@127.0.0.1:5432/tads`
 * @param options - pool size and timeouts
 * @example
 * const pool = createPool(process.env.DATABASE_URL!);
 * await pool.query('SELECT 1');
 */
export function createPool(url: string, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? DEFAULT_POOL_MAX,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? DEFAULT_ACQUIRE_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'tads',
  });
  // An idle client's socket error is reported here; without a listener it would crash the process.
  pool.on('error', () => {});
  // A checked-out client (inside a transaction, a migration, a COPY) whose server goes away emits
  // 'error' too, with the pool's idle listener detached: keep that from crashing the process. The
  // failure still reaches the client's pending and later queries, which throw as usual.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  // The query timeout of `pool.query` only: the driver's own option would apply to every query of
  // every client, the long COPYs and reads of jobs included. A query that times out fails its
  // connection, which the pool then closes rather than reuses.
  const timeout = options.queryTimeoutMillis ?? DEFAULT_QUERY_TIMEOUT_MS;
  if (timeout > 0) {
    const query = pool.query.bind(pool) as (q: unknown, ...rest: unknown[]) => unknown;
    pool.query = ((q: unknown, ...rest: unknown[]) => {
      const limited =
        typeof q === 'string'
          ? { text: q, query_timeout: timeout }
          : isQueryConfig(q)
            ? { query_timeout: timeout, ...q }
            : q;
      return query(limited, ...rest);
    }) as Pool['query'];
  }
  return pool;
}

// The multi-connection checkouts take turns per pool (see connectSeveral).
const checkouts = new Turns<Pool>();

/**
 * Checks out `n` connections for work that needs them side by side (a COPY and the heartbeat
 * that keeps its lease, say). Such checkouts take turns on each pool, so that two of them never
 * each hold part of what they need while waiting for the rest: ten generations on a pool of ten
 * connections would otherwise each take one and wait for a second until the acquire timeout.
 * Release every client when done.
 *
 * @param pool - the pool
 * @param n - how many connections, at least 1 and at most the pool's `max`
 * @throws RangeError when `n` is not in [1, max]; DatabaseUnavailableError when the connections
 *   cannot be had within the pool's acquire timeout (each one's) or the database is down
 */
export async function connectSeveral(pool: Pool, n: number): Promise<PoolClient[]> {
  const max = pool.options.max ?? DEFAULT_POOL_MAX;
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new RangeError(`connections wanted must be an integer in [1, ${max}] (the pool's max); got ${n}`);
  }
  return checkouts.run(pool, async () => {
    const clients: PoolClient[] = [];
    try {
      while (clients.length < n) clients.push(await pool.connect());
      return clients;
    } catch (err) {
      for (const c of clients) c.release();
      throw toDatabaseError(err);
    }
  });
}

/**
 * A pool of one connection to `pool`'s database, beside it, for probes that must not queue
 * behind its work (`/health`): opening its connection and each of its queries are limited to
 * `timeoutMs`, so a stalled server fails a probe within that time. Its connection closes after a
 * while unused and never keeps the process alive, so it needs no ending.
 *
 * @param pool - the pool whose database to probe
 * @param timeoutMs - the limit of connecting and of each query, in ms
 */
export function createProbePool(pool: Pool, timeoutMs: number): Pool {
  const probe = new pg.Pool({
    ...pool.options,
    max: 1,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    idleTimeoutMillis: 10_000,
    allowExitOnIdle: true,
    application_name: 'tads probe',
  });
  probe.on('error', () => {});
  probe.on('connect', (client) => {
    client.on('error', () => {});
  });
  return probe;
}

/**
 * Runs `fn` inside one transaction on a client of `pool`: BEGIN, then COMMIT when `fn` resolves
 * or ROLLBACK when it throws (the error is rethrown, a lost connection as a
 * DatabaseUnavailableError).
 *
 * @param pool - the pool to take a client from
 * @param fn - the work; it must use the client it is given, not the pool
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw toDatabaseError(err);
  }
  let broken = false;
  try {
    await begin(client);
    const result = await fn(client);
    await commit(client);
    return result;
  } catch (err) {
    // The connection itself failed when the rollback does: do not return it to the pool.
    broken = !(await rollback(client));
    throw toDatabaseError(err);
  } finally {
    client.release(broken);
  }
}

/** Begins a transaction on a checked-out client (for work that manages its own connections). */
export async function begin(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
}

/** Commits the transaction of a checked-out client. */
export async function commit(client: PoolClient): Promise<void> {
  await client.query('COMMIT');
}

/**
 * Rolls back the transaction of a checked-out client.
 *
 * @returns false when the connection itself failed (release it with `release(true)`)
 */
export async function rollback(client: PoolClient): Promise<boolean> {
  try {
    await client.query('ROLLBACK');
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes a client of `pool` and begins a read-only REPEATABLE READ transaction on it, so that
 * every query of the client sees the same snapshot (a training's passes read the same rows).
 * End it with {@link endSnapshot}; a client given up mid-way (say mid-COPY) is released with
 * `release(true)`, which discards the connection and with it the transaction.
 *
 * @throws DatabaseUnavailableError when no connection can be had
 */
export async function beginSnapshot(pool: Pool): Promise<PoolClient> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw toDatabaseError(err);
  }
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  } catch (err) {
    client.release(true);
    throw err;
  }
  return client;
}

/** Commits a transaction of {@link beginSnapshot} and returns its client to the pool. */
export async function endSnapshot(client: PoolClient): Promise<void> {
  await client.query('COMMIT');
  client.release();
}

/**
 * The database answers: one round trip (`SELECT 1`).
 *
 * @param db - the pool, or a client
 * @throws the database's error when it does not answer
 */
export async function pingDatabase(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}
