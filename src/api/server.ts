/**
 * The HTTP API server: a uWS app with every route group registered on a {@link Router},
 * listening on the configured host and port.
 */
import type { ApiDeps } from './deps.js';
import { uws, type TemplatedApp, type us_listen_socket } from './http.js';
import { Router } from './router.js';
import { ROUTE_GROUPS, type RouteGroup } from './routes/index.js';

/** uWS's listen option that binds without SO_REUSEPORT (`ListenOptions` in its typings). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/** `app.listen(host, port, options, cb)`: this uWS build has the overload, its typings do not. */
function listenExclusive(
  app: TemplatedApp,
  host: string,
  port: number,
  cb: (socket: us_listen_socket | false) => void,
): void {
  const listen = app.listen.bind(app) as unknown as (
    host: string,
    port: number,
    options: number,
    cb: (socket: us_listen_socket | false) => void,
  ) => TemplatedApp;
  listen(host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, cb);
}

/** A listening API server. */
export interface ApiServer {
  /** The port it listens on (the actual one when 0 was asked for). */
  readonly port: number;
  readonly host: string;
  /** `http://host:port`. */
  readonly url: string;
  /** The router, with every route declared (for `/openapi.json` and tests). */
  readonly router: Router;
  /** Stops listening and closes every open connection. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startApiServer}. */
export interface ApiServerOptions {
  deps: ApiDeps;
  /** Route groups to register (default: every group of src/api/routes/index.ts). */
  groups?: readonly RouteGroup[];
}

/**
 * Starts the API on `deps.config.host`:`deps.config.port`.
 *
 * @throws Error when the port cannot be bound (in use, or not allowed)
 * @example
 * const api = await startApiServer({ deps });
 * console.log(api.url); // http://127.0.0.1:8080
 * await api.close();
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { deps } = options;
  const { host, port, bodyLimit, corsOrigins, allowedHosts } = deps.config;

  // Compose: every group declares its routes, then the fallback goes in.
  const app = uws.App();
  const router = new Router(app, { bodyLimit, cors: { origins: corsOrigins }, allowedHosts, log: deps.log });
  for (const group of options.groups ?? ROUTE_GROUPS) group.register(router, deps);
  router.finish();

  // Listen, exclusively: uWS's default binds with SO_REUSEPORT, so a second server on a port in
  // use would start silently and the kernel would split the connections between the two.
  const socket = await new Promise<us_listen_socket>((resolve, reject) => {
    listenExclusive(app, host, port, (s) => {
      if (s) resolve(s);
      else reject(new Error(`the API cannot listen on ${host}:${port}: the port is in use (or not allowed)`));
    });
  });
  const actualPort = uws.us_socket_local_port(socket);
  let closed = false;
  return {
    port: actualPort,
    host,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    router,
    close() {
      if (!closed) {
        closed = true;
        uws.us_listen_socket_close(socket);
        // Close kept-alive connections too (App.close exists in this uWS build, untyped).
        (app as unknown as { close?: () => void }).close?.();
      }
      return Promise.resolve();
    },
  };
}
