import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { uws, type us_listen_socket } from '../../src/api/http.js';
import { Router } from '../../src/api/router.js';

let socket: us_listen_socket;
let port: number;
let app: ReturnType<typeof uws.App>;

beforeAll(async () => {
  app = uws.App();
  const router = new Router(app, { bodyLimit: 1024, log: { error: () => undefined } });
  router.route({
    method: 'get',
    path: '/thing',
    summary: 'a thing',
    response: z.object({ name: z.string() }),
    handler: () => ({ name: 'thing' }),
  });
  router.finish();
  socket = await new Promise<us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen failed')))),
  );
  port = uws.us_socket_local_port(socket);
});
afterAll(() => {
  uws.us_listen_socket_close(socket);
  (app as unknown as { close?: () => void }).close?.();
});

/** Sends `text` on one connection and collects what arrives until `done` holds. */
function exchange(text: string, done: (got: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 3000);
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (done(got)) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

describe('fault 9: HEAD on API routes', () => {
  it('answers like GET, headers only, and the next request on the connection still parses', async () => {
    const head = 'HEAD /thing HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n';
    const get = 'GET /thing HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n';
    const got = await exchange(head + get, (g) => g.includes('{"name":"thing"}'));
    const responses = got.split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(2);
    // The HEAD answer: GET's status and headers, no body.
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(responses[0]).toMatch(/content-type: application\/json/i);
    expect(responses[0]!.endsWith('\r\n\r\n')).toBe(true);
    // The GET answer after it, whole.
    expect(responses[1]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(responses[1]!.endsWith('{"name":"thing"}')).toBe(true);
  });
});
