/**
 * Classifies PostgreSQL and driver errors: a server that cannot be reached, does not answer in
 * time, or whose pool has no connection free in time becomes a DatabaseUnavailableError (the API
 * answers 503 with `Retry-After`), anything else is left as it is.
 */
import { DatabaseUnavailableError, isTadsError } from '../core/errors.js';

// Socket-level failures reported by Node while connecting or talking to the server.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

// SQLSTATEs meaning "the server is not there for you right now": class 08 (connection exception),
// 57P01–57P03 (shutting down, crash recovery, cannot connect now), 53300 (too many connections).
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

// Messages node-postgres uses for connections it lost or could not establish in time.
const DRIVER_MESSAGES = [
  'Connection terminated',
  'timeout expired',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
  // the query timeout of `pool.query` and of probes (src/db/pool.ts): the server did not answer
  'Query read timeout',
];

// The pool's acquire timeout: every connection stayed in use (or none could open) in time.
const POOL_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';

/** The SQLSTATE (or Node error code) of `err`, if it has one. */
export function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** True when `err` is a unique violation (SQLSTATE 23505): the row is there already. */
export function isUniqueViolation(err: unknown): boolean {
  return codeOf(err) === '23505';
}

/**
 * True when `err` means the database cannot be reached (as opposed to a query that failed).
 * Looks through `AggregateError`s (a host with several addresses) and `cause` chains.
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  const code = codeOf(err);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  if (err instanceof Error) {
    if (DRIVER_MESSAGES.some((m) => err.message.includes(m))) return true;
    if (err.cause !== undefined && err.cause !== err) return isConnectionError(err.cause);
  }
  return false;
}

/**
 * Turns a connection failure into a DatabaseUnavailableError (keeping the original as `cause`);
 * returns any other error unchanged. Domain errors pass through.
 */
export function toDatabaseError(err: unknown): unknown {
  if (isTadsError(err)) return err;
  if (err instanceof Error && err.message.includes(POOL_TIMEOUT_MESSAGE)) {
    return new DatabaseUnavailableError(
      'database busy: no connection of the pool came free within the acquire timeout',
      { cause: err },
    );
  }
  if (isConnectionError(err)) {
    const reason = err instanceof Error && err.message ? err.message : String(codeOf(err) ?? 'unreachable');
    return new DatabaseUnavailableError(`database unavailable: ${reason}`, { cause: err });
  }
  return err;
}

/**
 * Runs `work`, turning a connection failure it throws into a DatabaseUnavailableError
 * ({@link toDatabaseError}); the repositories wrap each of their queries in it.
 */
export async function withDatabaseErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toDatabaseError(err);
  }
}
