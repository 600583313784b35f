import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exchange, startRouterApp, type RouterApp } from '../helpers/router-app.js';

let server: RouterApp;

beforeAll(async () => {
  server = await startRouterApp((router) =>
    router.route({
      method: 'post',
      path: '/things',
      summary: 'make a thing',
      body: z.object({ n: z.number() }),
      response: z.object({ n: z.number() }),
      handler: ({ body }) => ({ n: body.n }),
    }),
  );
});
afterAll(() => server.close());

/** Sends a POST with the given content-length lines and a small body; returns the raw answer. */
function post(lengthLines: string[]): Promise<string> {
  const text =
    'POST /things HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
    lengthLines.map((l) => `content-length: ${l}\r\n`).join('') +
    '\r\n' +
    '{"n":1}';
  return exchange(server.port, text, (got) => /\r\n\r\n[\s\S]*\}$/.test(got), 2000);
}

function errorOf(raw: string): { status: number; code: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  const parsed = JSON.parse(body) as { error: { code: string } };
  return { status, code: parsed.error.code };
}

describe('fault 15a: bad Content-Length', () => {
  it('413 with a JSON error for a length over the limit', async () => {
    expect(errorOf(await post(['900000000']))).toEqual({ status: 413, code: 'payload_too_large' });
  });

  it('400 with a JSON error for an empty length', async () => {
    expect(errorOf(await post(['']))).toEqual({ status: 400, code: 'invalid_input' });
  });

  it('400 with a JSON error for two different lengths', async () => {
    expect(errorOf(await post(['7', '9']))).toEqual({ status: 400, code: 'invalid_input' });
  });

  // uWS's HTTP parser refuses these itself and closes the connection before any answer: the
  // request is never accepted.
  it.each([['10000000000'], ['-1'], ['abc'], ['7x']])('%j is never accepted', async (v) => {
    expect(await post([v])).not.toMatch(/^HTTP\/1\.1 2/);
  });

  it('a good length, even repeated, still works', async () => {
    for (const lines of [['7'], ['7', '7']]) {
      const raw = await post(lines);
      expect(raw).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(raw.endsWith('{"n":1}')).toBe(true);
    }
  });
});
