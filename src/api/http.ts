/**
 * The uWebSockets.js plumbing, in one place: abort tracking, reading a request body under a size
 * limit, corked writes of status + headers + body, JSON responses and CORS headers.
 *
 * uWS rules this module honours: everything needed from the request (`HttpRequest`) is read
 * synchronously in the handler, before any await, because the request object is stack
 * allocated; `onAborted` is attached before the handler returns so that an asynchronous response
 * is allowed; after an abort the response object must not be touched; writes after the first
 * await happen inside `res.cork`; the status is written before any header.
 */
import { createRequire } from 'node:module';
import type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  us_listen_socket,
  WebSocketBehavior,
} from '@trufflesuite/uws-js-unofficial';
import { PayloadTooLargeError } from '../core/errors.js';

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
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The `writeStatus` line of a status code (`404 Not Found`). */
export function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? 'Status'}`;
}

/** The CORS policy: which origins may call the API from a browser (none by default). */
export interface CorsPolicy {
  /** Allowed origins; `*` allows any. Empty: no CORS headers at all. */
  origins: readonly string[];
}

/**
 * One exchange: the response plus what was read from the request up front, and whether the
 * client has gone away. Create it synchronously in the uWS handler.
 */
export class Exchange {
  readonly method: string;
  readonly url: string;
  readonly rawQuery: string;
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Aborted when the client disconnects before the response is sent. */
  readonly signal: AbortSignal;
  #res: HttpResponse;
  #controller = new AbortController();
  #done = false;
  #cors: CorsPolicy;

  /**
   * @param res - the uWS response
   * @param req - the uWS request (read here, never kept)
   * @param cors - the CORS policy to apply to every response
   */
  constructor(res: HttpResponse, req: HttpRequest, cors: CorsPolicy) {
    this.#res = res;
    this.#cors = cors;
    this.method = req.getMethod().toUpperCase();
    this.url = req.getUrl();
    this.rawQuery = req.getQuery() ?? '';
    const headers: Record<string, string> = {};
    req.forEach((k, v) => {
      headers[k] = v;
    });
    this.headers = headers;
    this.signal = this.#controller.signal;
    res.onAborted(() => {
      this.#done = true;
      this.#controller.abort();
    });
  }

  /** True once a response was sent or the client went away. */
  get finished(): boolean {
    return this.#done;
  }

  /**
   * Reads the whole body, failing with PayloadTooLargeError as soon as it exceeds `limit` bytes
   * (checked against Content-Length first, then while streaming).
   */
  readBody(limit: number): Promise<Buffer> {
    const declared = Number(this.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return Promise.reject(new PayloadTooLargeError(limit));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      this.signal.addEventListener('abort', () => reject(new Error('client disconnected')), { once: true });
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
   * Sends a response (once; later calls and calls after an abort do nothing).
   *
   * @param status - the status code
   * @param body - the body (empty for none)
   * @param headers - extra headers (content type included)
   * @param closeConnection - close the connection after sending (after a 413 mid-upload)
   */
  send(
    status: number,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
    closeConnection = false,
  ): void {
    if (this.#done) return;
    this.#done = true;
    const res = this.#res;
    res.cork(() => {
      res.writeStatus(statusLine(status));
      for (const [k, v] of Object.entries(this.#corsHeaders())) res.writeHeader(k, v);
      for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
      res.end(body, closeConnection);
    });
  }

  /** Sends `value` as JSON. */
  sendJson(status: number, value: unknown, closeConnection = false): void {
    this.send(
      status,
      JSON.stringify(value),
      { 'content-type': 'application/json; charset=utf-8' },
      closeConnection,
    );
  }

  #corsHeaders(): Record<string, string> {
    const origin = this.headers.origin;
    const allowed = this.#cors.origins;
    if (!origin || allowed.length === 0) return {};
    if (allowed.includes('*')) return { 'access-control-allow-origin': '*' };
    if (allowed.includes(origin)) return { 'access-control-allow-origin': origin, vary: 'Origin' };
    return {};
  }
}
