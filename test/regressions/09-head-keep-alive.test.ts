import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exchange, startRouterApp, type RouterApp } from '../helpers/router-app.js';

let server: RouterApp;

beforeAll(async () => {
  server = await startRouterApp((router) =>
    router.route({
      method: 'get',
      path: '/thing',
      summary: 'a thing',
      response: z.object({ name: z.string() }),
      handler: () => ({ name: 'thing' }),
    }),
  );
});
afterAll(() => server.close());

describe('fault 9: HEAD on API routes', () => {
  it('answers like GET, headers only, and the next request on the connection still parses', async () => {
    const head = 'HEAD /thing HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n';
    const get = 'GET /thing HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n';
    const got = await exchange(server.port, head + get, (g) => g.includes('{"name":"thing"}'));
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
