/**
 * Pieces shared by the wire schemas: list pagination (limit and opaque cursor, newest first),
 * uuid path parameters, query-string integers, and the health response.
 */
import { z } from 'zod';

/** Shows an arriving value in an error message (JSON, shortened). */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? typeof v : s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return typeof v;
  }
}

/**
 * The `when` of every refinement that reads more than one field (`.refine(f, { ..., ...onceParsed })`):
 * run it only when the fields parsed cleanly. By default zod runs an object's refinements after a
 * field failed with a non-aborting issue, and the refinement then sees that field's raw,
 * untransformed value (a string where a Date was expected).
 */
export const onceParsed = {
  when: (payload: { issues: readonly unknown[] }): boolean => payload.issues.length === 0,
};

/**
 * Text as it enters TADS (bodies, query strings, gRPC): a string without NUL (U+0000), which
 * PostgreSQL text cannot hold. Chain length and pattern checks after it. Every text field of a
 * request uses it.
 *
 * @param name - the field's name as the caller spells it, for messages
 * @param typeError - the message for a value that is not a string (default `<name> must be a
 *   text; got …`)
 */
export function text(name: string, typeError?: (iss: { input?: unknown }) => string) {
  return z
    .string({ error: typeError ?? ((iss) => `${name} must be a text; got ${showValue(iss.input)}`) })
    .refine((s) => !s.includes('\u0000'), { error: `${name} must not contain NUL (U+0000)`, abort: true });
}

/**
 * An integer query parameter (query values arrive as text): digits only, within [min, max].
 *
 * @param name - the parameter's name as the caller spells it, for messages
 */
export function queryInt(name: string, min: number, max: number) {
  const msg = (iss: { input?: unknown }) =>
    `${name} must be an integer in [${min}, ${max}]; got ${showValue(iss.input)}`;
  return z
    .string({ error: msg })
    .regex(/^\d{1,16}$/, { error: msg })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: (iss) => msg({ input: String(iss.input) }) });
}

/**
 * A value from a fixed list (query parameter or field), refused with a message naming the field
 * and every allowed value.
 *
 * @param name - the field's name as the caller spells it, for messages
 */
export function oneOf<T extends readonly [string, ...string[]]>(name: string, values: T) {
  return z.enum(values, {
    error: (iss) => `${name} must be one of ${values.join(', ')}; got ${showValue(iss.input)}`,
  });
}

/** A query string's parameters: exactly these, an unknown one refused by name. */
export function queryObject<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject(shape, { error: (iss) => unknownQueryMessage(iss) });
}

/**
 * An id: a UUID in any case, given out in lower case, so that one id has one spelling from the
 * edge inward (cache keys, comparisons, SQL literals). Every id a request carries (path
 * parameter, query or body field) and every id checked further in uses it. Its message names
 * the field by its key (`dataset_id must be a UUID; got "x"`), `id` when parsed alone.
 */
export const Id = z
  .uuid({
    error: (iss) => {
      const last = iss.path?.at(-1);
      return `${typeof last === 'string' ? last : 'id'} must be a UUID; got ${showValue(iss.input)}`;
    },
  })
  .toLowerCase();

/** Page sizes of lists. */
export const PAGE_LIMITS = { default: 50, max: 500 } as const;

/** Longest cursor accepted (ours are far shorter). */
export const MAX_CURSOR_LENGTH = 200;

/** `limit` and `cursor` of a list's query. */
export const paginationQueryShape = {
  limit: queryInt('limit', 1, PAGE_LIMITS.max).optional(),
  cursor: z
    .string()
    .min(1, { error: 'cursor must be a cursor returned by a previous page (next_cursor); got an empty text' })
    .max(MAX_CURSOR_LENGTH, {
      error: 'cursor must be a cursor returned by a previous page (next_cursor); got a longer text',
    })
    .optional(),
};

/** Query of a plain list: `?limit=50&cursor=…`. */
export const PaginationQuerySchema = queryObject(paginationQueryShape).transform((q) => ({
  limit: q.limit ?? PAGE_LIMITS.default,
  cursor: q.cursor,
}));

/** Message for a query with unknown parameters. */
export function unknownQueryMessage(iss: { code?: string; keys?: string[]; input?: unknown }): string {
  if (iss.code === 'unrecognized_keys' && iss.keys) {
    return `unknown query parameter${iss.keys.length > 1 ? 's' : ''} ${iss.keys.join(', ')}`;
  }
  return `query must be key=value pairs; got ${showValue(iss.input)}`;
}

/**
 * A page of a list: `{ items, next_cursor }`, newest first; `next_cursor` is null on the last
 * page.
 */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() });
}

/** Path parameters `{ id }` holding a UUID. */
export const IdParamsSchema = z.object({ id: Id });

/** An RFC 3339 UTC timestamp as the API writes it (`2024-01-01T00:00:00.000Z`). */
export const TimestampSchema = z.iso.datetime();

/** `GET /health`. */
export const HealthSchema = z.object({
  status: z.literal('ok'),
  /** The package version. */
  version: z.string(),
  /** Round-trip time of `SELECT 1`, in milliseconds. */
  database_ms: z.number().nonnegative(),
});
export type Health = z.infer<typeof HealthSchema>;
