/**
 * The API's router. Every route is declared with its zod schemas — path parameters, query, body
 * and response — so requests are validated at the edge and `/openapi.json` can be generated
 * from {@link Router.routes}. Handlers are async functions that receive parsed input and return
 * data (sent as JSON with the route's status) or a {@link Reply}; they throw domain errors
 * (src/core/errors.ts), which src/api/errors.ts maps to status codes.
 *
 * A route group is one file `src/api/routes/<group>.ts` exporting
 * `register(router: Router, deps: ApiDeps): void`, listed in src/api/routes/index.ts.
 *
 * @example
 * // src/api/routes/models.ts
 * export function register(router: Router, deps: ApiDeps): void {
 *   router.route({
 *     method: 'get',
 *     path: '/models/:id',
 *     summary: 'One model',
 *     params: IdParamsSchema,
 *     response: ModelSchema,
 *     handler: async ({ params }) => toWire(await requireModel(deps.pool, params.id)),
 *   });
 * }
 */
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { toErrorResponse, validationErrorFrom } from './errors.js';
import {
  Exchange,
  type CorsPolicy,
  type HttpRequest,
  type HttpResponse,
  type TemplatedApp,
  type WebSocketBehavior,
} from './http.js';

/** HTTP methods routes may use. */
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** What a handler receives: the parsed (zod output) parameters, query and body. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Request headers, lower-case names. */
  headers: Readonly<Record<string, string>>;
  /** Aborted when the client disconnects before the response is sent. */
  signal: AbortSignal;
}

/**
 * A response other than the route's default: another status, extra headers, or a body that is
 * not JSON (set `contentType`; the body is then sent as it is, without response validation).
 */
export class Reply<T = unknown> {
  constructor(
    readonly status: number,
    readonly body: T,
    readonly headers: Readonly<Record<string, string>> = {},
    /** Content type of a non-JSON body (a string or bytes); undefined for JSON. */
    readonly contentType?: string,
  ) {}
}

/** A JSON reply with another status than the route's default (e.g. 202 Accepted). */
export function reply<T>(status: number, body: T, headers: Record<string, string> = {}): Reply<T> {
  return new Reply(status, body, headers);
}

/** A non-JSON reply: static files, redirects (body `''` and a `location` header), text. */
export function rawReply(
  status: number,
  body: string | Uint8Array,
  contentType: string,
  headers: Record<string, string> = {},
): Reply<string | Uint8Array> {
  return new Reply(status, body, headers, contentType);
}

/** Schemas of a route's parts; omitted parts are not accepted (query) or not read (body). */
type AnySchema = z.ZodType;

/**
 * A route declaration.
 *
 * @typeParam P - schema of the path parameters (an object keyed by the `:name`s of `path`)
 * @typeParam Q - schema of the query (an object; values arrive as strings, or string arrays
 *   when a key repeats)
 * @typeParam B - schema of the JSON body
 * @typeParam R - schema of the success response; the handler's result is checked with
 *   `R.encode`, so a plain object schema or a zod codec — not a one-way transform
 */
export interface RouteDef<
  P extends AnySchema = AnySchema,
  Q extends AnySchema = AnySchema,
  B extends AnySchema = AnySchema,
  R extends AnySchema = AnySchema,
> {
  method: HttpMethod;
  /** uWS pattern: `/datasets/:id`; a trailing `/*` matches any rest (for static files). */
  path: string;
  /** One line for the API documentation. */
  summary: string;
  /** More documentation, Markdown. */
  description?: string;
  /** Groups in the API documentation (default: the first path segment). */
  tags?: string[];
  params?: P;
  query?: Q;
  body?: B;
  response: R;
  /** Status of a plain (non-Reply) result; default 200. */
  status?: number;
  /** Error statuses the route may answer with besides 400/503, for the documentation. */
  errors?: number[];
  handler: (
    input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>,
  ) => Promise<z.output<R> | Reply<z.output<R>> | Reply<string | Uint8Array>>;
}

/** Something that logs (the server's logger). */
export interface RouteLogger {
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of a {@link Router}. */
export interface RouterOptions {
  /** Largest request body in bytes (larger: 413). */
  bodyLimit: number;
  /** CORS policy (default: none). */
  cors?: CorsPolicy;
  /** Where unexpected errors are reported (default: stderr). */
  log?: RouteLogger;
}

// Path parameter names of a uWS pattern, in order (uWS hands them out by index).
function paramNames(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s.startsWith(':'))
    .map((s) => s.slice(1));
}

function parseQuery(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function parseWith<S extends AnySchema>(
  schema: S,
  value: unknown,
  where: 'body' | 'query' | 'params',
): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationErrorFrom(r.error, where);
  return r.data;
}

function parseJsonBody(buf: Buffer, contentType: string | undefined): unknown {
  if (contentType && !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType)) {
    throw new ValidationError(`content-type must be application/json; got ${JSON.stringify(contentType)}`, [
      { path: 'headers.content-type', message: `expected application/json; got ${contentType}` },
    ]);
  }
  if (buf.length === 0) {
    throw new ValidationError('body must be a JSON document; got an empty body', [
      { path: 'body', message: 'empty body' },
    ]);
  }
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ValidationError(`body must be valid JSON; got a parse error: ${reason}`, [
      { path: 'body', message: `invalid JSON: ${reason}` },
    ]);
  }
}

const defaultLog: RouteLogger = {
  error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })),
};

/**
 * The route registry over one uWS app. Route groups call {@link Router.route}; the server adds
 * the fallback with {@link Router.finish} once every group is in.
 */
export class Router {
  /** The uWS app, for what routes cannot express (WebSocket behaviours via {@link Router.ws}). */
  readonly app: TemplatedApp;
  readonly #routes: RouteDef[] = [];
  readonly #options: Required<RouterOptions>;
  #finished = false;

  constructor(app: TemplatedApp, options: RouterOptions) {
    this.app = app;
    this.#options = { cors: { origins: [] }, log: defaultLog, ...options };
  }

  /** Every declared route, in declaration order (for `/openapi.json`). */
  get routes(): readonly RouteDef[] {
    return this.#routes;
  }

  /** The CORS policy of this router (for other uWS handlers, e.g. static files). */
  get cors(): CorsPolicy {
    return this.#options.cors;
  }

  /**
   * Declares a route.
   *
   * Per request: read the request's parts (synchronously, as uWS requires), parse the path
   * parameters and query, read and parse the body under the size limit, run the handler, check
   * and send its result; any error becomes the error body of DESIGN.md with its status.
   *
   * @throws Error when the same method and path are declared twice, or after {@link finish}
   */
  route<P extends AnySchema, Q extends AnySchema, B extends AnySchema, R extends AnySchema>(
    def: RouteDef<P, Q, B, R>,
  ): void {
    if (this.#finished)
      throw new Error(`route ${def.method.toUpperCase()} ${def.path} declared after the server started`);
    if (this.#routes.some((r) => r.method === def.method && r.path === def.path)) {
      throw new Error(`route ${def.method.toUpperCase()} ${def.path} is declared twice`);
    }
    this.#routes.push(def);
    const names = paramNames(def.path);
    const handler = (res: HttpResponse, req: HttpRequest) => {
      // Read: the request object is only valid until this function returns.
      const ex = new Exchange(res, req, this.#options.cors);
      const rawParams: Record<string, string> = {};
      names.forEach((n, i) => {
        rawParams[n] = decodeURIComponent(req.getParameter(i) ?? '');
      });
      void this.#serve(def, ex, rawParams);
    };
    const method = def.method === 'delete' ? 'del' : def.method;
    this.app[method](def.path, handler);
  }

  /** Registers a WebSocket route on the app (see uWS `app.ws`). */
  ws<U>(pattern: string, behavior: WebSocketBehavior<U>): void {
    this.app.ws(pattern, behavior);
  }

  /**
   * Adds the fallback (404 with the error body for any unknown path or method) and the CORS
   * preflight; called by the server once every group is registered.
   */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.app.any('/*', (res, req) => {
      const ex = new Exchange(res, req, this.#options.cors);
      if (ex.method === 'OPTIONS' && this.#options.cors.origins.length > 0) {
        ex.send(204, '', {
          'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
          'access-control-allow-headers': ex.headers['access-control-request-headers'] ?? 'content-type',
          'access-control-max-age': '600',
        });
        return;
      }
      ex.sendJson(404, {
        error: {
          code: 'not_found',
          message: `no route ${ex.method} ${ex.url}`,
          details: { method: ex.method, path: ex.url },
        },
      });
    });
  }

  async #serve(def: RouteDef, ex: Exchange, rawParams: Record<string, string>): Promise<void> {
    try {
      // Validate the path parameters and the query.
      const params = def.params ? parseWith(def.params, rawParams, 'params') : rawParams;
      const rawQuery = parseQuery(ex.rawQuery);
      let query: unknown = rawQuery;
      if (def.query) query = parseWith(def.query, rawQuery, 'query');
      else if (Object.keys(rawQuery).length > 0) {
        const keys = Object.keys(rawQuery);
        throw new ValidationError(
          `unknown query parameter${keys.length > 1 ? 's' : ''} ${keys.join(', ')}; this route takes none`,
          keys.map((k) => ({ path: `query.${k}`, message: 'unknown parameter' })),
        );
      }

      // Read and validate the body.
      let body: unknown = undefined;
      if (def.body) {
        const buf = await ex.readBody(this.#options.bodyLimit);
        body = parseWith(def.body, parseJsonBody(buf, ex.headers['content-type']), 'body');
      }

      // Run, then check the result against the contract and send it.
      const result = await def.handler({ params, query, body, headers: ex.headers, signal: ex.signal });
      if (result instanceof Reply && result.contentType !== undefined) {
        ex.send(result.status, result.body as string | Uint8Array, {
          'content-type': result.contentType,
          ...result.headers,
        });
        return;
      }
      const status = result instanceof Reply ? result.status : (def.status ?? 200);
      const payload: unknown = result instanceof Reply ? result.body : result;
      const encoded = def.response.safeEncode(payload);
      if (!encoded.success) {
        throw new Error(
          `response of ${def.method.toUpperCase()} ${def.path} breaks its schema: ${encoded.error.message}`,
        );
      }
      if (status === 204) ex.send(204, '', result instanceof Reply ? { ...result.headers } : {});
      else {
        ex.send(status, JSON.stringify(encoded.data), {
          'content-type': 'application/json; charset=utf-8',
          ...(result instanceof Reply ? result.headers : {}),
        });
      }
    } catch (err) {
      if (ex.finished) return;
      const { status, body, unexpected } = toErrorResponse(err);
      if (unexpected) {
        this.#options.log.error('request failed', {
          method: ex.method,
          path: ex.url,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        });
      }
      // After a 413 the rest of the upload is not read: close the connection.
      ex.sendJson(status, body, status === 413);
    }
  }
}
