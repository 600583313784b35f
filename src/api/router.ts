/**
 * The API's router. Every route is declared with its zod schemas — path parameters, query, body
 * and response — so requests are validated at the edge and `/openapi.json` can be generated
 * from {@link Router.routes}. Handlers receive parsed input and return data (sent as JSON with
 * the route's status) or a {@link Reply}, or a promise of either; they throw domain errors
 * (src/core/errors.ts), which src/api/errors.ts maps to status codes. A handler that can answer
 * at once (a cache hit) returns its answer directly: it is then written inside the same uWS
 * callback, with no promise in between.
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
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { LOOPBACK_HOSTS } from '../config/env.js';
import type { ErrorBody } from '../contract/errors.js';
import { Id } from '../contract/common.js';
import { UnsupportedMediaTypeError, ValidationError } from '../core/errors.js';
import { toErrorResponse, validationErrorFrom } from './errors.js';
import {
  Exchange,
  hostName,
  JSON_CONTENT_TYPE,
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
  /**
   * The request headers the route declares in {@link RouteDef.headers} (lower-case names), those
   * present; no others are read.
   */
  headers: Readonly<Record<string, string>>;
  /** Aborted when the client disconnects before the response is sent (made when first read). */
  readonly signal: AbortSignal;
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
  /** Request headers the handler reads (lower-case names); only these are read from requests. */
  headers?: readonly string[];
  handler: (
    input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>,
  ) => MaybePromise<RouteResult<z.output<R>>>;
}

/** What a handler answers: data of the response schema or a {@link Reply}. */
export type RouteResult<T> = T | Reply<T> | Reply<string | Uint8Array>;

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

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
  /**
   * Host names requests may name in their `Host` header, port aside (default: the loopback
   * names); a request naming another gets 421.
   */
  allowedHosts?: readonly string[];
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

// A path parameter as sent, percent-decoded (a malformed escape is a 400 naming it).
function decodeParam(raw: string | undefined): string {
  if (raw === undefined || raw === '') return '';
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ValidationError(`path parameter must be percent-encoded UTF-8; got ${JSON.stringify(raw)}`, [
      { path: 'params', message: `malformed percent-encoding: ${raw}` },
    ]);
  }
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

// ---------------------------------------------------------------------------------------------
// Work done once per route, at registration, so that a request does as little as it can.
//
// Measured on the development machine (Node 20, zod 4.6, µs per call, loaded 2-core machine):
// `IdParamsSchema.safeParse` ≈ 1.0 against ≈ 0.35 for its UUID pattern alone; an empty strict
// query object ≈ 0.3 (plus URLSearchParams); `HealthSchema.safeEncode` 8–20 against 0.5 for
// `safeParse` of the same value (encoding runs zod's slower backward direction, without its
// compiled fast path for objects). Hence:
// - path parameters: ids (the contract's Id, which lower-cases) already in lower case are checked
//   with zod's own UUID pattern and passed on as they are; any other value still goes through
//   zod, for its error message or its lower-casing. Other parameter schemas are parsed with zod;
// - query: an empty query string skips both URLSearchParams and zod when the route's schema
//   accepts `{}` — its output is computed here, once, and shared (deep-frozen); other query
//   strings that parsed to plain data are remembered too (QueryMemo): the time series' three
//   parameters cost ≈ 6–9 µs through zod (plus ≈ 2 for URLSearchParams), a Map lookup ≈ 0.1;
// - response: every response is still checked, in production too (a broken contract is a 500,
//   never sent). A "pure" response schema (no transform, codec, default, catch or value-changing
//   check anywhere inside) encodes exactly as it parses, so it is checked with `safeParse`; any
//   other with `safeEncode`, as before. Pre-serialized answers (rawReply) were never re-checked
//   and still are not.
// ---------------------------------------------------------------------------------------------

/** The parts of a zod schema's internal definition read here (zod 4's `_zod.def`). */
interface LooseDef {
  type: string;
  checks?: readonly unknown[];
  [key: string]: unknown;
}

function defOf(schema: unknown): LooseDef | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const internals = (schema as { _zod?: { def?: LooseDef } })._zod;
  return typeof internals?.def?.type === 'string' ? internals.def : undefined;
}

// Schema kinds that validate without changing a value, and wrappers that only admit more values.
const PURE_LEAVES = new Set([
  'string',
  'number',
  'boolean',
  'bigint',
  'null',
  'undefined',
  'void',
  'literal',
  'enum',
  'any',
  'unknown',
  'never',
  'date',
  'nan',
  'template_literal',
]);
const PURE_WRAPPERS = new Set(['optional', 'nullable', 'readonly', 'nonoptional']);

/**
 * True when `schema` only validates (and strips unknown object keys): no transform, pipe, codec,
 * default, catch or value-changing check (`trim`, `toLowerCase`…) anywhere inside, so that
 * parsing and encoding a value give the same result. Unknown kinds count as impure.
 */
export function isPureSchema(schema: unknown, seen = new Set<unknown>()): boolean {
  const def = defOf(schema);
  if (!def) return false;
  if (seen.has(schema)) return true;
  seen.add(schema);
  for (const check of def.checks ?? []) {
    const checkDef = (check as { _zod?: { def?: { check?: unknown } } } | null)?._zod?.def;
    if (checkDef?.check === 'overwrite') return false;
  }
  const all = (items: unknown): boolean => Array.isArray(items) && items.every((i) => isPureSchema(i, seen));
  switch (def.type) {
    case 'object':
      return (
        typeof def.shape === 'object' &&
        def.shape !== null &&
        all(Object.values(def.shape)) &&
        (def.catchall === undefined || isPureSchema(def.catchall, seen))
      );
    case 'array':
      return isPureSchema(def.element, seen);
    case 'union':
      return all(def.options);
    case 'intersection':
      return isPureSchema(def.left, seen) && isPureSchema(def.right, seen);
    case 'record':
      return isPureSchema(def.keyType, seen) && isPureSchema(def.valueType, seen);
    case 'tuple':
      return all(def.items) && (def.rest === null || def.rest === undefined || isPureSchema(def.rest, seen));
    case 'lazy':
      return typeof def.getter === 'function' && isPureSchema((def.getter as () => unknown)(), seen);
    default:
      if (PURE_LEAVES.has(def.type)) return true;
      if (PURE_WRAPPERS.has(def.type)) return isPureSchema(def.innerType, seen);
      return false;
  }
}

// What the contract's Id accepts (zod's UUID pattern), and a sign that Id would change the text.
const UUID = z.regexes.uuid();
const UPPER = /[A-Z]/;

/**
 * A check of raw path parameters equivalent to `schema`'s, without zod, when `schema` is an
 * object (no refinements) whose keys are exactly `names` and whose every field is the contract's {@link Id}: a
 * parameter Id accepts that is already in lower case is what Id outputs, so the raw parameters are
 * the output. Any other value still goes through zod, for its error message or its lower-casing.
 * Undefined for any other schema.
 */
export function compileParamsCheck(
  schema: AnySchema,
  names: readonly string[],
): ((raw: Readonly<Record<string, string>>) => boolean) | undefined {
  if (!(schema instanceof z.ZodObject) || (defOf(schema)?.checks?.length ?? 0) > 0) return undefined;
  const shape = schema.shape as Record<string, unknown>;
  const keys = Object.keys(shape);
  if (keys.length !== names.length || !names.every((n) => shape[n] === Id)) return undefined;
  return (raw) => {
    for (const name of names) {
      const v = raw[name]!;
      if (UPPER.test(v) || !UUID.test(v)) return false;
    }
    return true;
  };
}

// Plain data only (what a query schema's output for `{}` may be, to be shared between requests).
function isPlainData(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  if (Array.isArray(v)) return v.every(isPlainData);
  if (t !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return false;
  return Object.values(v).every(isPlainData);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const inner of Object.values(v)) deepFreeze(inner);
    Object.freeze(v);
  }
  return v;
}

/**
 * `schema`'s output for `input`, when it parses to plain data and the same on two parses (so no
 * clock or randomness is involved), deep-frozen to be shared between requests; undefined when
 * it fails or its output cannot be shared.
 */
function shareableOutput(schema: AnySchema, input: unknown): { value: unknown } | undefined {
  const first = schema.safeParse(input);
  if (!first.success || !isPlainData(first.data)) return undefined;
  const second = schema.safeParse(input);
  if (!second.success || !isDeepStrictEqual(first.data, second.data)) return undefined;
  return { value: deepFreeze(first.data) };
}

/** What `schema` makes of an empty query, computed once (see {@link QueryMemo}). */
export function emptyQueryOutput(schema: AnySchema): { value: unknown } | undefined {
  return shareableOutput(schema, {});
}

/** Most query strings whose parsed output a route keeps. */
export const QUERY_MEMO_ENTRIES = 256;

/** Longest query string whose parsed output is kept. */
const QUERY_MEMO_MAX_LENGTH = 512;

/**
 * A route's query parsing, remembered: the output for an empty query string is computed at
 * registration, and that of the last {@link QUERY_MEMO_ENTRIES} distinct query strings that
 * parsed to shareable data (plain, stable, frozen) when first seen; a query that fails is parsed
 * — and refused — every time. Query schemas are pure functions of the query's text (the contract
 * is zod alone); the double parse before keeping an output guards against a clock or randomness
 * creeping in.
 */
export class QueryMemo {
  readonly #schema: AnySchema;
  readonly #empty: { value: unknown } | undefined;
  readonly #entries = new Map<string, unknown>();

  constructor(schema: AnySchema) {
    this.#schema = schema;
    this.#empty = emptyQueryOutput(schema);
  }

  /** Entries held (the empty query's aside). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The parsed query.
   *
   * @throws ValidationError naming each bad parameter
   */
  parse(raw: string): unknown {
    if (raw === '' && this.#empty) return this.#empty.value;
    const known = this.#entries.get(raw);
    if (known !== undefined) return known;
    const parsed = parseWith(this.#schema, parseQuery(raw), 'query');
    if (raw.length <= QUERY_MEMO_MAX_LENGTH && isPlainData(parsed)) {
      const shared = shareableOutput(this.#schema, parseQuery(raw));
      if (shared) {
        if (this.#entries.size >= QUERY_MEMO_ENTRIES) {
          const oldest = this.#entries.keys().next();
          if (!oldest.done) this.#entries.delete(oldest.value);
        }
        this.#entries.set(raw, shared.value);
        return shared.value;
      }
    }
    return parsed;
  }
}

/** A route's per-request steps, compiled at registration. */
interface CompiledRoute {
  def: RouteDef;
  method: string;
  names: readonly string[];
  headerNames: readonly string[];
  params: (raw: Record<string, string>) => unknown;
  query: (raw: string) => unknown;
  checkResponse: (value: unknown) => z.ZodSafeParseResult<unknown>;
}

function compileRoute(def: RouteDef): CompiledRoute {
  const names = paramNames(def.path);

  // Path parameters: the fast check where it is equivalent, else zod.
  let params: (raw: Record<string, string>) => unknown = (raw) => raw;
  const paramsSchema = def.params;
  if (paramsSchema) {
    const fast = compileParamsCheck(paramsSchema, names);
    params = fast
      ? (raw) => (fast(raw) ? raw : parseWith(paramsSchema, raw, 'params'))
      : (raw) => parseWith(paramsSchema, raw, 'params');
  }

  // Query: none accepted without a schema; else parsed through the route's memo.
  const querySchema = def.query;
  let query: (raw: string) => unknown;
  if (querySchema) {
    const memo = new QueryMemo(querySchema);
    query = (raw) => memo.parse(raw);
  } else {
    query = (raw) => {
      if (raw === '') return {};
      const parsed = parseQuery(raw);
      const keys = Object.keys(parsed);
      if (keys.length === 0) return parsed;
      throw new ValidationError(
        `unknown query parameter${keys.length > 1 ? 's' : ''} ${keys.join(', ')}; this route takes none`,
        keys.map((k) => ({ path: `query.${k}`, message: 'unknown parameter' })),
      );
    };
  }

  // Headers: the declared ones, and those the body needs.
  const headerNames = new Set(def.headers?.map((h) => h.toLowerCase()));
  if (def.body) {
    headerNames.add('content-type');
    headerNames.add('content-length');
  }

  const response = def.response;
  const checkResponse = isPureSchema(response)
    ? (value: unknown) => response.safeParse(value)
    : (value: unknown) => response.safeEncode(value);

  return {
    def,
    method: def.method.toUpperCase(),
    names,
    headerNames: [...headerNames],
    params,
    query,
    checkResponse,
  };
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

// A body must say it is JSON: the content types a web page may send cross-site without a
// preflight (text/plain, forms) and a missing one are refused, so no such request reaches a
// handler. An empty body needs no content type (and is refused as empty where a body is due).
function parseJsonBody(buf: Buffer, contentType: string | undefined): unknown {
  if (buf.length > 0 && !(contentType && /^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType))) {
    throw new UnsupportedMediaTypeError(contentType);
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
  readonly #hosts: ReadonlySet<string>;
  #finished = false;

  constructor(app: TemplatedApp, options: RouterOptions) {
    this.app = app;
    this.#options = { cors: { origins: [] }, log: defaultLog, allowedHosts: LOOPBACK_HOSTS, ...options };
    this.#hosts = new Set(this.#options.allowedHosts.map(hostName));
  }

  /**
   * True when `name` (a host name, port aside, e.g. an origin's) is one this server answers to.
   */
  allowsHostName(name: string): boolean {
    return this.#hosts.has(hostName(name));
  }

  /**
   * Wraps a uWS handler (of a request or a WebSocket upgrade) so that it runs only for a request
   * whose `Host` header names an allowed host, port aside: any other gets 421 with the error body,
   * so that a page whose name was rebound to this server's address (DNS rebinding) reads nothing.
   * A request without `Host` (not a browser: HTTP/1.0 tools) passes. Every handler on the app
   * goes through it.
   */
  guard<A extends unknown[]>(
    handler: (res: HttpResponse, req: HttpRequest, ...rest: A) => void | Promise<void>,
  ): (res: HttpResponse, req: HttpRequest, ...rest: A) => void {
    return (res, req, ...rest) => {
      const host = req.getHeader('host');
      if (host === '' || this.#hosts.has(hostName(host))) {
        void handler(res, req, ...rest);
        return;
      }
      const body: ErrorBody = {
        error: {
          code: 'misdirected_request',
          message: `host ${JSON.stringify(host)} is not a name this server answers to (TADS_ALLOWED_HOSTS)`,
          details: { host },
        },
      };
      new Exchange(res, req, this.#options.cors).sendJson(421, body);
    };
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
   * Per request: read the request's parts (synchronously, as uWS requires: the URL, the query,
   * the path parameters, and only the headers the route declares or needs), parse the path
   * parameters and query, read and parse the body under the size limit, run the handler, check
   * and send its result; any error becomes the error body of DESIGN.md with its status. What can
   * be decided from the declaration alone (see "Work done once per route") is decided here.
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
    const route = compileRoute(def);
    const cors = this.#options.cors;
    const handler = (res: HttpResponse, req: HttpRequest) => {
      // Read: the request object is only valid until this function returns.
      const ex = new Exchange(res, req, cors, route.headerNames);
      const raw: Record<string, string> = {};
      try {
        for (let i = 0; i < route.names.length; i++) raw[route.names[i]!] = decodeParam(req.getParameter(i));
      } catch (err) {
        this.#fail(route, ex, err);
        return;
      }
      this.#serve(route, ex, raw);
    };
    const method = def.method === 'delete' ? 'del' : def.method;
    const guarded = this.guard(handler);
    this.app[method](def.path, guarded);
    // HEAD answers like GET, without the body (see Exchange.send).
    if (def.method === 'get') this.app.head(def.path, guarded);
  }

  /**
   * Registers a WebSocket route on the app (see uWS `app.ws`); its upgrade goes through
   * {@link guard} (uWS's default upgrade when the behaviour has none).
   */
  ws<U>(pattern: string, behavior: WebSocketBehavior<U>): void {
    const upgrade: NonNullable<WebSocketBehavior<U>['upgrade']> =
      behavior.upgrade ??
      ((res, req, context) =>
        res.upgrade(
          {} as U,
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        ));
    this.app.ws(pattern, { ...behavior, upgrade: this.guard(upgrade) });
  }

  /**
   * Adds the fallback (404 with the error body for any unknown path or method) and the CORS
   * preflight; called by the server once every group is registered.
   */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const cors = this.#options.cors;
    const headerNames = cors.origins.length > 0 ? ['access-control-request-headers'] : [];
    this.app.any(
      '/*',
      this.guard((res, req) => {
        const ex = new Exchange(res, req, cors, headerNames);
        if (ex.method === 'OPTIONS' && cors.origins.length > 0) {
          ex.send(204, '', undefined, {
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
      }),
    );
  }

  /**
   * Validates, runs the handler and answers — within the uWS callback when the handler answers
   * at once, else once its promise settles (aborts are tracked from then on).
   */
  #serve(route: CompiledRoute, ex: Exchange, rawParams: Record<string, string>): void {
    const def = route.def;
    try {
      // Validate the path parameters and the query.
      const params = route.params(rawParams);
      const query = route.query(ex.rawQuery);

      // Read and validate the body (later: it arrives in chunks).
      if (def.body) {
        const schema = def.body;
        ex.readBody(this.#options.bodyLimit).then(
          (buf) => {
            try {
              const body = parseWith(schema, parseJsonBody(buf, ex.headers['content-type']), 'body');
              this.#settle(route, ex, def.handler(this.#input(ex, params, query, body)));
            } catch (err) {
              this.#fail(route, ex, err);
            }
          },
          (err: unknown) => this.#fail(route, ex, err),
        );
        return;
      }

      // Run.
      this.#settle(route, ex, def.handler(this.#input(ex, params, query, undefined)));
    } catch (err) {
      this.#fail(route, ex, err);
    }
  }

  #input(
    ex: Exchange,
    params: unknown,
    query: unknown,
    body: unknown,
  ): RouteInput<unknown, unknown, unknown> {
    return {
      params,
      query,
      body,
      headers: ex.headers,
      get signal() {
        return ex.signal;
      },
    };
  }

  // Answers now, or once the handler's promise settles.
  #settle(route: CompiledRoute, ex: Exchange, result: unknown): void {
    if (!isPromiseLike(result)) {
      this.#answer(route, ex, result);
      return;
    }
    ex.trackAbort();
    result.then(
      (r) => this.#answer(route, ex, r),
      (err: unknown) => this.#fail(route, ex, err),
    );
  }

  // Checks the handler's result against the contract and sends it.
  #answer(route: CompiledRoute, ex: Exchange, result: unknown): void {
    if (ex.finished) return;
    const def = route.def;
    try {
      if (result instanceof Reply && result.contentType !== undefined) {
        ex.send(result.status, result.body as string | Uint8Array, result.contentType, result.headers);
        return;
      }
      const status = result instanceof Reply ? result.status : (def.status ?? 200);
      const payload: unknown = result instanceof Reply ? result.body : result;
      const headers = result instanceof Reply ? result.headers : undefined;
      const checked = route.checkResponse(payload);
      if (!checked.success) {
        throw new Error(
          `response of ${route.method} ${def.path} breaks its schema: ${checked.error.message}`,
        );
      }
      if (status === 204) ex.send(204, '', undefined, headers);
      else ex.send(status, JSON.stringify(checked.data), JSON_CONTENT_TYPE, headers);
    } catch (err) {
      this.#fail(route, ex, err);
    }
  }

  // Any error becomes the error body of DESIGN.md with its status (unexpected ones are logged).
  #fail(route: CompiledRoute, ex: Exchange, err: unknown): void {
    if (ex.finished) return;
    const { status, body, headers, unexpected } = toErrorResponse(err);
    if (unexpected) {
      this.#options.log.error('request failed', {
        method: ex.method,
        path: ex.url,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
    // After a 413 or a bad content-length the rest of the upload is not read: close the
    // connection.
    const unread =
      status === 413 || (err instanceof ValidationError && err.issues[0]?.path === 'headers.content-length');
    ex.send(status, JSON.stringify(body), JSON_CONTENT_TYPE, headers, unread);
  }
}
