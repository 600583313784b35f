/**
 * Domain errors of TADS. Services (storage, generator, jobs, scorer) throw these; the HTTP layer
 * (src/api/errors.ts) and the CLI map them to status codes and exit codes. Nothing here knows
 * about HTTP: a `code` is a stable machine-readable name, never a status number.
 */
import type { ErrorCode } from '../contract/errors.js';

export type { ErrorCode } from '../contract/errors.js';

/**
 * Base of every domain error: a message that names what was wrong, a stable `code` and optional
 * structured `details` (e.g. the list of invalid fields).
 */
export class TadsError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  /**
   * @param code - the stable error code
   * @param message - human-readable; names the parameter, what was expected and what arrived
   * @param details - optional structured details, serialised as they are (must be JSON-safe)
   * @param options - standard `ErrorOptions` (a `cause`)
   */
  constructor(code: ErrorCode, message: string, details?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details ?? null;
  }
}

/** One invalid field of an input: where it is, what was expected, what arrived. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `body.host_count` or `query.limit`. */
  path: string;
  message: string;
}

/** Bad input: a field out of range, of the wrong type, unknown, or a malformed document. */
export class ValidationError extends TadsError {
  readonly issues: FieldIssue[];

  /**
   * @param message - the summary, e.g. `host_count must be an integer in [1, 10000]; got -1`
   * @param issues - every invalid field (defaults to none)
   */
  constructor(message: string, issues: FieldIssue[] = [], options?: ErrorOptions) {
    super('invalid_input', message, issues.length > 0 ? { issues } : null, options);
    this.issues = issues;
  }
}

/** A resource that does not exist (an unknown id). */
export class NotFoundError extends TadsError {
  /**
   * @param resource - the kind of resource, e.g. `dataset`
   * @param id - the id that was looked up
   */
  constructor(resource: string, id: string) {
    super('not_found', `${resource} ${id} not found`, { resource, id });
  }
}

/** A request that conflicts with the resource's state (deleting a running dataset, a lost lease). */
export class ConflictError extends TadsError {
  constructor(message: string, details?: unknown) {
    super('conflict', message, details);
  }
}

/** An input larger than the documented limit. */
export class PayloadTooLargeError extends TadsError {
  /**
   * @param limitBytes - the limit that applies
   * @param what - what was too large (default `request body`)
   */
  constructor(limitBytes: number, what = 'request body') {
    super('payload_too_large', `${what} must be at most ${limitBytes} bytes`, { limit_bytes: limitBytes });
  }
}

/** A request body not declared as JSON (`content-type` missing or another type). */
export class UnsupportedMediaTypeError extends TadsError {
  /** @param contentType - the request's `content-type`, if any */
  constructor(contentType: string | undefined) {
    super(
      'unsupported_media_type',
      `content-type must be application/json; got ${contentType === undefined ? 'none' : JSON.stringify(contentType)}`,
      { content_type: contentType ?? null },
    );
  }
}

/** The database cannot be reached (refused, dropped, shutting down, too many connections). */
export class DatabaseUnavailableError extends TadsError {
  constructor(message = 'database unavailable', options?: ErrorOptions) {
    super('database_unavailable', message, null, options);
  }
}

/** Another service TADS depends on (the generator) cannot be reached. */
export class ServiceUnavailableError extends TadsError {
  /**
   * @param service - which service, e.g. `generator`
   * @param message - what happened
   */
  constructor(service: string, message: string, options?: ErrorOptions) {
    super('service_unavailable', `${service} unavailable: ${message}`, { service }, options);
  }
}

/** True when `err` is one of TADS's domain errors. */
export function isTadsError(err: unknown): err is TadsError {
  return err instanceof TadsError;
}

/** Where in an imported file a fault is: its line and column, as far as they are known. */
export interface ImportLocation {
  /** 1-based physical line of the record (its first line, for a record over several), or null. */
  line: number | null;
  /** 1-based index of the column, or null. */
  column: number | null;
  /** The column's name (from the header, or the name given to it), or null. */
  columnName: string | null;
}

/**
 * Bad content of an imported file (CSV, SMD or a label file) or bad import options: the message
 * names the line and column (`line 5, column 3 (cpu): not a number; got "abc"`), which are also
 * kept as fields. An options fault has no line; its issue path is `options.<name>`.
 */
export class ImportError extends ValidationError {
  readonly line: number | null;
  readonly column: number | null;
  readonly columnName: string | null;

  /**
   * @param message - what was wrong, already naming where
   * @param where - the line and column (each null when not known)
   * @param path - the issue's path: `body` for the file's content, `options.<name>` for an option
   */
  constructor(message: string, where: Partial<ImportLocation> = {}, path = 'body', options?: ErrorOptions) {
    super(message, [{ path, message }], options);
    this.line = where.line ?? null;
    this.column = where.column ?? null;
    this.columnName = where.columnName ?? null;
  }
}
