/**
 * Keyset pagination for lists, newest first: a page is ordered by `(created_at DESC, id DESC)` and
 * the opaque cursor carries the last item's key. Reusable by every list (datasets, models,
 * inference runs, jobs, alerts): select {@link cursorTimestampSql} as `cursor_ts`, add
 * {@link keysetCondition} to the WHERE clause, fetch `limit + 1` rows and call {@link toPage}.
 */
import { ValidationError } from '../core/errors.js';

/** A decoded cursor: the sort key of the last item of the previous page. */
export interface CursorKey {
  /** `created_at` as RFC 3339 UTC with microseconds (exact, unlike a JS Date). */
  ts: string;
  /** The item's id, as text. */
  id: string;
}

/** One page of a list. */
export interface Page<T> {
  items: T[];
  /** Cursor of the next page, or null on the last page. */
  nextCursor: string | null;
}

const TS_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const ID_PATTERN = /^[0-9a-zA-Z-]{1,64}$/;

/**
 * SQL expression of a timestamp column as the exact text a cursor carries.
 *
 * @param column - a column name from the caller's code (default `created_at`), never input
 */
export function cursorTimestampSql(column = 'created_at'): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Encodes a key as an opaque cursor (base64url of JSON). */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.ts, key.id]), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor made by {@link encodeCursor}.
 *
 * @throws ValidationError naming `cursor` when it is not one of ours
 */
export function decodeCursor(cursor: string): CursorKey {
  const fail = () =>
    new ValidationError(
      `cursor must be a cursor returned by a previous page (next_cursor); got ${JSON.stringify(cursor.slice(0, 80))}`,
      [{ path: 'query.cursor', message: 'not a valid cursor' }],
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw fail();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    !TS_PATTERN.test(parsed[0]) ||
    !ID_PATTERN.test(parsed[1])
  ) {
    throw fail();
  }
  return { ts: parsed[0], id: parsed[1] };
}

/**
 * The WHERE condition selecting the rows after a cursor, with its parameters appended to
 * `params`.
 *
 * @param cursor - the opaque cursor, or undefined/null for the first page (condition `TRUE`)
 * @param params - the query's parameter list; the cursor's two values are pushed onto it
 * @param idType - SQL type of the id column (`uuid` or `bigint`)
 * @param column - the timestamp column (default `created_at`)
 * @throws ValidationError when the cursor is malformed
 */
export function keysetCondition(
  cursor: string | null | undefined,
  params: unknown[],
  idType: 'uuid' | 'bigint' = 'uuid',
  column = 'created_at',
): string {
  if (cursor === undefined || cursor === null) return 'TRUE';
  const key = decodeCursor(cursor);
  if (idType === 'bigint' && !/^\d+$/.test(key.id)) throw decodeCursorMismatch(cursor);
  params.push(key.ts, key.id);
  const n = params.length;
  return `(${column}, id) < ($${n - 1}::timestamptz, $${n}::${idType})`;
}

function decodeCursorMismatch(cursor: string): ValidationError {
  return new ValidationError(
    `cursor must be a cursor returned by this list; got ${JSON.stringify(cursor.slice(0, 80))}`,
    [{ path: 'query.cursor', message: 'cursor of another list' }],
  );
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row, when present, only tells that
 * there is a next page, whose cursor is the key of the last item kept.
 *
 * @param rows - rows in list order, at most `limit + 1`
 * @param limit - the page size asked for
 * @param keyOf - the sort key of a row (its `cursor_ts` and id)
 * @param map - turns a row into an item
 */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  keyOf: (row: R) => CursorKey,
  map: (row: R) => T,
): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  const nextCursor = rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null;
  return { items: kept.map(map), nextCursor };
}
