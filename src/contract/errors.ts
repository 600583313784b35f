/**
 * The error body every API error response carries (DESIGN.md "HTTP API"):
 * `{ "error": { "code", "message", "details" } }`.
 */
import { z } from 'zod';

/** Machine-readable error codes, with the HTTP status each is sent with. */
export const ERROR_STATUS = {
  invalid_input: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  misdirected_request: 421,
  internal: 500,
  database_unavailable: 503,
  service_unavailable: 503,
} as const;

/** The error codes, in a fixed order. */
export const ERROR_CODES = Object.keys(ERROR_STATUS) as (keyof typeof ERROR_STATUS)[];
export type ErrorCode = keyof typeof ERROR_STATUS;

/** One invalid field: `path` is where (`body.host_count`, `query.limit`), `message` is what. */
export const FieldIssueSchema = z.object({ path: z.string(), message: z.string() });

/** The body of every error response. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
    /** Human-readable; names the parameter, what was expected and what arrived. */
    message: z.string(),
    /** Structured details (for invalid input: `{ issues: [{ path, message }] }`), or null. */
    details: z.unknown(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
