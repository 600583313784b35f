/**
 * Maps errors to HTTP: domain errors (src/core/errors.ts) to their status and the error body of
 * DESIGN.md, zod failures to a 400 naming each field, unreachable or busy databases to 503 (with
 * `Retry-After`), anything else (an `internal` TadsError included) to a 500 that reveals nothing
 * of the server.
 */
import type { z } from 'zod';
import { ERROR_STATUS, type ErrorBody } from '../contract/errors.js';
import { isTadsError, ValidationError, type FieldIssue } from '../core/errors.js';
import { toDatabaseError } from '../db/errors.js';

/** Seconds a client is asked to wait before trying again after a 503 (`Retry-After`). */
export const RETRY_AFTER_SECONDS = 1;

/** An error turned into a response. */
export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  /** Headers to send with it: `Retry-After` on a 503 (the database or a service unavailable). */
  headers: Record<string, string>;
  /** True for an unexpected failure (a bug or an unknown condition): worth logging. */
  unexpected: boolean;
}

/**
 * Turns any thrown value into the status and body to send.
 *
 * @example
 * toErrorResponse(new NotFoundError('dataset', id)).status; // 404
 */
export function toErrorResponse(err: unknown): ErrorResponse {
  const e = toDatabaseError(err);
  // An internal error's message may carry anything (a database's or a library's text): it is
  // logged, never sent.
  if (isTadsError(e) && e.code !== 'internal') {
    const status = ERROR_STATUS[e.code];
    return {
      status,
      body: { error: { code: e.code, message: e.message, details: e.details } },
      headers: status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {},
      unexpected: false,
    };
  }
  return {
    status: 500,
    body: { error: { code: 'internal', message: 'internal server error', details: null } },
    headers: {},
    unexpected: true,
  };
}

/**
 * Turns a zod failure on one part of a request into a ValidationError whose issues name each
 * field as `<where>.<path>` (`body.host_count`, `query.limit`, `params.id`).
 *
 * Messages written by the contract ("host_count must be an integer in [1, 10000]; got -1") are
 * kept as they are; zod's generic ones are prefixed with the field's name.
 *
 * @param error - the failure
 * @param where - which part of the request was parsed
 */
export function validationErrorFrom(error: z.ZodError, where: 'body' | 'query' | 'params'): ValidationError {
  const issues: FieldIssue[] = error.issues.map((i) => {
    const field = i.path.map(String).join('.');
    const path = field ? `${where}.${field}` : where;
    const leaf = i.path.length > 0 ? String(i.path[i.path.length - 1]) : '';
    const named = leaf !== '' && (i.message.startsWith(leaf) || i.message.includes(`${leaf} must`));
    const selfExplaining = leaf === '' && / must |unknown /.test(i.message);
    return { path, message: named || selfExplaining ? i.message : `${field || where}: ${i.message}` };
  });
  const first = issues[0]?.message ?? `invalid ${where}`;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new ValidationError(`${first}${more}`, issues);
}
