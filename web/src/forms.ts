/** Form helpers: turning zod issues and the API's invalid-input details into per-field messages. */
import type { z } from 'zod';
import { ApiError } from './api.js';

/** Messages by field name (the first element of each issue's path); '' holds form-wide ones. */
export type FieldErrors = Record<string, string>;

/** The first message of each field of a failed parse. */
export function fieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '';
    const field = key.split('.')[0] ?? '';
    out[field] ??= issue.message;
  }
  return out;
}

/**
 * Field messages of an API error: an invalid-input answer's `details.issues` (`body.host_count`
 * → `host_count`), else the error's message form-wide.
 */
export function apiFieldErrors(err: unknown): FieldErrors {
  if (err instanceof ApiError && err.code === 'invalid_input') {
    const issues = (err.details as { issues?: unknown } | null)?.issues;
    if (Array.isArray(issues) && issues.length > 0) {
      const out: FieldErrors = {};
      for (const i of issues as { path?: unknown; message?: unknown }[]) {
        const path = typeof i.path === 'string' ? i.path.replace(/^body\.?/, '') : '';
        const field = path.split('.')[0] ?? '';
        if (typeof i.message === 'string') out[field] ??= i.message;
      }
      if (Object.keys(out).length > 0) return out;
    }
  }
  return { '': err instanceof Error ? err.message : String(err) };
}

/** A number input's text as a number: undefined when blank, NaN when not a number. */
export function numberOrUndefined(text: string): number | undefined {
  const t = text.trim();
  return t === '' ? undefined : Number(t);
}
