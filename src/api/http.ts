/**
 * The uWebSockets.js plumbing, in one place: abort tracking, reading a request body under a size
 * limit, corked writes of status + headers + body, JSON responses and CORS headers.
 *
 * uWS rules this module honours: everything needed from the request (`HttpRequest`) is read
 * synchronously in the handler, before any await, because the request object is stack
 * allocated; `onAborted` is attached before the handler returns whenever the response is sent
 * later (a response sent inside the handler needs none); after an abort the response object must
 * not be touched; every write happens inside `res.cork`; the status is written before any header.
 */
import { createRequire } from 'node:module';
import type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  us_listen_socket,
  WebSocketBehavior,
} from '@trufflesuite/uws-js-unofficial';
import { PayloadTooLargeError, ValidationError } from '../core/errors.js';

/** The uWebSockets.js module (loaded through require: it is a CommonJS native addon). */
export type UwsModule = typeof import('@trufflesuite/uws-js-unofficial');
export const uws = createRequire(import.meta.url)('@trufflesuite/uws-js-unofficial') as UwsModule;

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocketBehavior };

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  421: 'Misdirected Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

// `writeStatus` lines, built once.
const STATUS_LINES = new Map<number, string>(
  Object.entries(REASONS).map(([code, reason]) => [Number(code), `${code} ${reason}`]),
);

/** The `writeStatus` line of a status code (`404 Not Found`). */
export function statusLine(status: number): string {
  return STATUS_LINES.get(status) ?? `${status} Status`;
}

/** The CORS policy: which origins may call the API from a browser (none by default). */
export interface CorsPolicy {
  /** Allowed origins; `*` allows any. Empty: no CORS headers at all. */
  origins: readonly string[];
}

/**
 * The host name of a `Host` header or of an origin's host (`localhost:8080` → `localhost`,
 * `[::1]:8080` → `[::1]`), in lower case: the port is not part of the name.
 */
export function hostName(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/** The content type of JSON responses. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * One exchange: the response plus what was read from the request up front, and whether the
 * client has gone away. Create it synchronously in the uWS handler.
 *
 * Cheap on purpose, as it is made for every request: only the headers asked for are read (plus
 * `origin` when a CORS policy is set), and the client's going away is only tracked once
 * {@link Exchange.trackAbort} is called — which is required before the uWS handler returns
 * without having answered — with an AbortController made only when {@link Exchange.signal} is
 * read.
 */
export class Exchange {
  readonly method: string;
  readonly url: string;
  readonly rawQuery: string;
  /** The request headers asked for (lower-case names); absent or empty ones are left out. */
  readonly headers: Readonly<Record<string, string>>;
  #res: HttpResponse;
  #cors: CorsPolicy;
  #done = false;
  #aborted = false;
  #tracking = false;
  #controller: AbortController | undefined;
  #onAbort: (() => void) | undefined;
  #conflictingLength: string | undefined;

  /**
   * @param res - the uWS response
   * @param req - the uWS request (read here, never kept)
   * @param cors - the CORS policy to apply to every response
   * @param headerNames - the request headers to read (lower-case); `origin` is read besides
   *   when `cors` allows any origin
   */
  constructor(res: HttpResponse, req: HttpRequest, cors: CorsPolicy, headerNames: readonly string[] = []) {
    this.#res = res;
    this.#cors = cors;
    this.method = req.getMethod().toUpperCase();
    this.url = req.getUrl();
    this.rawQuery = req.getQuery() ?? '';
    const headers: Record<string, string> = {};
    for (const name of headerNames) {
      const v = req.getHeader(name);
      if (v !== '') headers[name] = v;
    }
    // `getHeader` reads only the first of repeated headers: two different lengths are caught here.
    if (headers['content-length'] !== undefined) {
      req.forEach((name, value) => {
        if (name === 'content-length' && value !== headers['content-length']) this.#conflictingLength = value;
      });
    }
    if (cors.origins.length > 0 && headers.origin === undefined) {
      const origin = req.getHeader('origin');
      if (origin !== '') headers.origin = origin;
    }
    this.headers = headers;
  }

  /** True once a response was sent or the client went away. */
  get finished(): boolean {
    return this.#done;
  }

  /** True once the client went away (only known after {@link trackAbort}). */
  get aborted(): boolean {
    return this.#aborted;
  }

  /**
   * Aborted when the client disconnects before the response is sent (made on first use; it can
   * only fire after {@link trackAbort}).
   */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /**
   * Starts tracking the client's going away (uWS `onAborted`). Call it synchronously in the uWS
   * handler whenever the response will be sent later; a response sent before the handler returns
   * needs none. Idempotent.
   */
  trackAbort(): void {
    if (this.#tracking || this.#done) return;
    this.#tracking = true;
    this.#res.onAborted(() => {
      this.#done = true;
      this.#aborted = true;
      this.#controller?.abort();
      this.#onAbort?.();
    });
  }

  /**
   * Reads the whole body, failing with PayloadTooLargeError as soon as it exceeds `limit` bytes
   * (checked against Content-Length first, then while streaming). Call it synchronously in the
   * uWS handler (it tracks aborts); the `content-length` header is used when it was read, and a
   * malformed one (not a decimal number, or repeated with another value) fails with
   * ValidationError. (Values uWS's own parser refuses — negative, non-numeric, 10 digits or
   * more — never get here: uWS closes the connection.)
   */
  readBody(limit: number): Promise<Buffer> {
    this.trackAbort();
    const length = this.headers['content-length'];
    if (length !== undefined) {
      if (this.#conflictingLength !== undefined) {
        return Promise.reject(
          new ValidationError(
            `content-length must be given once; got ${JSON.stringify(length)} and ${JSON.stringify(this.#conflictingLength)}`,
            [{ path: 'headers.content-length', message: 'conflicting content-length headers' }],
          ),
        );
      }
      if (!/^\d+$/.test(length)) {
        return Promise.reject(
          new ValidationError(
            `content-length must be a decimal number of bytes; got ${JSON.stringify(length)}`,
            [{ path: 'headers.content-length', message: `expected a number of bytes; got ${length}` }],
          ),
        );
      }
      if (Number(length) > limit) return Promise.reject(new PayloadTooLargeError(limit));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      this.#onAbort = () => reject(new Error('client disconnected'));
      this.#res.onData((chunk, isLast) => {
        if (failed) return;
        size += chunk.byteLength;
        if (size > limit) {
          failed = true;
          reject(new PayloadTooLargeError(limit));
          return;
        }
        // uWS neuters the chunk when this callback returns: copy it.
        chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) resolve(Buffer.concat(chunks, size));
      });
    });
  }

  /**
   * Sends a response (once; later calls and calls after an abort do nothing), corked: status,
   * CORS headers, `content-type`, the other headers, then the body (none to a HEAD request).
   *
   * @param status - the status code
   * @param body - the body (empty for none)
   * @param contentType - the `content-type` header, or undefined for none (a `content-type` in
   *   `headers` wins)
   * @param headers - extra headers
   * @param closeConnection - close the connection after sending (after a 413 mid-upload)
   */
  send(
    status: number,
    body: string | Uint8Array,
    contentType?: string,
    headers?: Readonly<Record<string, string>>,
    closeConnection = false,
  ): void {
    if (this.#done) return;
    this.#done = true;
    const res = this.#res;
    res.cork(() => {
      res.writeStatus(statusLine(status));
      this.#writeCors(res);
      if (contentType !== undefined && headers?.['content-type'] === undefined) {
        res.writeHeader('content-type', contentType);
      }
      if (headers) for (const k of Object.keys(headers)) res.writeHeader(k, headers[k]!);
      // HEAD: GET's headers (its content-length included) and no body, or the next request on a
      // kept-alive connection would be read from the body's bytes. This uWS build aborts the
      // process when `endWithoutBody` is given a length, so the header is written here. A HEAD
      // request has no body to cut short, so `closeConnection` does not apply to it.
      if (this.method === 'HEAD') {
        const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
        res.writeHeader('content-length', String(length));
        res.endWithoutBody();
      } else res.end(body, closeConnection);
    });
  }

  /** Sends `value` as JSON. */
  sendJson(status: number, value: unknown, closeConnection = false): void {
    this.send(status, JSON.stringify(value), JSON_CONTENT_TYPE, undefined, closeConnection);
  }

  #writeCors(res: HttpResponse): void {
    const allowed = this.#cors.origins;
    if (allowed.length === 0) return;
    const origin = this.headers.origin;
    if (!origin) return;
    if (allowed.includes('*')) res.writeHeader('access-control-allow-origin', '*');
    else if (allowed.includes(origin)) {
      res.writeHeader('access-control-allow-origin', origin);
      res.writeHeader('vary', 'Origin');
    }
  }
}
