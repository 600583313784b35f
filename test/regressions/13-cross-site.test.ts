import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startRouterApp, type RouterApp } from '../helpers/router-app.js';

let server: RouterApp;
let made = 0;

beforeAll(async () => {
  server = await startRouterApp((router) =>
    router.route({
      method: 'post',
      path: '/things',
      summary: 'make a thing',
      body: z.object({ n: z.number() }),
      response: z.object({ n: z.number() }),
      handler: ({ body }) => {
        made++;
        return { n: body.n };
      },
    }),
  );
});
afterAll(() => server.close());

describe('fault 13: a JSON body must say it is JSON', () => {
  // What a web page can send cross-site without a preflight: text/plain, a form, or no type.
  it.each([
    ['text/plain;charset=UTF-8'],
    ['application/x-www-form-urlencoded'],
    ['multipart/form-data; boundary=x'],
  ])('415 with a JSON error for %s, and the handler does not run', async (type) => {
    const before = made;
    const res = await fetch(`${server.url}/things`, {
      method: 'POST',
      headers: { 'content-type': type },
      body: '{"n":1}',
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
    expect(made).toBe(before);
  });

  it('415 for a body without a content-type', async () => {
    const before = made;
    const res = await fetch(`${server.url}/things`, {
      method: 'POST',
      body: new Uint8Array(Buffer.from('{"n":1}')),
    });
    expect(res.status).toBe(415);
    expect(made).toBe(before);
  });

  it('application/json still works', async () => {
    const res = await fetch(`${server.url}/things`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    expect(res.status).toBe(200);
  });
});
