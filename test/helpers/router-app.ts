/**
 * A bare router on uWebSockets.js for tests of the HTTP edge: the routes a test declares, on a
 * free loopback port, and a raw socket exchange for what `fetch` would hide (framing, headers).
 */
import { connect } from 'node:net';
import { uws, type us_listen_socket } from '../../src/api/http.js';
import { Router, type RouterOptions } from '../../src/api/router.js';

/** A listening router app. */
export interface RouterApp {
  readonly port: number;
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  /** Stops listening and closes every connection. */
  close(): void;
}

/**
 * Starts a router (body limit 1 KiB, and `options`) with the routes `declare` adds, on a free
 * port.
 */
export async function startRouterApp(
  declare: (router: Router) => void,
  options: Partial<RouterOptions> = {},
): Promise<RouterApp> {
  const app = uws.App();
  const router = new Router(app, { bodyLimit: 1024, log: { error: () => undefined }, ...options });
  declare(router);
  router.finish();
  const socket = await new Promise<us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen failed')))),
  );
  const port = uws.us_socket_local_port(socket);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close() {
      uws.us_listen_socket_close(socket);
      (app as unknown as { close?: () => void }).close?.();
    },
  };
}

/**
 * Sends `text` on one connection and collects what arrives (as latin1) until `done` holds, the
 * server closes the connection, or `timeoutMs` passes.
 */
export function exchange(
  port: number,
  text: string,
  done: (got: string) => boolean,
  timeoutMs = 3000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(finish, timeoutMs);
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (done(got)) finish();
    });
    s.on('close', finish);
    s.on('error', reject);
  });
}
