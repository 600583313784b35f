/**
 * The connection pool every part of TADS shares, and the transaction helper built on it.
 */
import pg from 'pg';
import { toDatabaseError } from './errors.js';

/** A pool of connections to TADS's database. */
export type Pool = pg.Pool;
/** One checked-out connection. */
export type PoolClient = pg.PoolClient;
/** Anything that runs queries: the pool itself or a checked-out client (inside a transaction). */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** Options of {@link createPool}. */
export interface PoolOptions {
  /** Most connections open at once (default 10). */
  max?: number;
  /** How long to wait for a connection before failing, in ms (default 5000). */
  connectionTimeoutMillis?: number;
  /** `application_name` shown in pg_stat_activity (default `tads`). */
  applicationName?: string;
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
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
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
  return pool;
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
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // The connection itself failed: do not return it to the pool.
      broken = true;
    }
    throw toDatabaseError(err);
  } finally {
    client.release(broken);
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
