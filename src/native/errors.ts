/**
 * Errors of the PCA layer and the translation of native errors into them. The addon throws
 * TypeError and RangeError for bad arguments and an Error carrying a `PCA_*` code when the maths
 * cannot proceed; {@link translateNativeError} rebuilds each as a JavaScript error whose stack is
 * the caller's (native errors have none worth reading).
 */

/** A failure of the maths (too few rows, degenerate data, …), with a stable string `code`. */
export class PcaError extends Error {
  /** Stable identifier, e.g. `PCA_TOO_FEW_ROWS`, `PCA_DEGENERATE`, `PCA_RANK_DEFICIENT`. */
  readonly code: string;

  /**
   * @param code - the stable identifier (`PCA_*`)
   * @param message - what went wrong, for people
   */
  constructor(code: string, message: string) {
    super(message);
    this.name = 'PcaError';
    this.code = code;
  }
}

/**
 * Rebuilds an error thrown by the addon as a TypeError, RangeError or PcaError with the current
 * JavaScript stack; `prefix` (e.g. `m.data`) names the parameter a native RangeError's message
 * refers to.
 * Anything else is returned unchanged.
 */
export function translateNativeError(err: unknown, prefix?: string): unknown {
  if (!(err instanceof Error)) return err;
  let out: Error;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('PCA_')) out = new PcaError(code, err.message);
  else if (err instanceof TypeError) out = new TypeError(err.message);
  else if (err instanceof RangeError) out = new RangeError(prefix ? `${prefix} ${err.message}` : err.message);
  else return err;
  Error.captureStackTrace(out, translateNativeError);
  return out;
}
