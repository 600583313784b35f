import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import { uws, type us_listen_socket } from '../../src/api/http.js';
import { rawReply, reply, Router } from '../../src/api/router.js';

const LIMIT = 1024;
const logged: string[] = [];

async function listen(router: Router): Promise<{ url: string; close: () => void }> {
  router.finish();
  const socket = await new Promise<us_listen_socket>((resolve, reject) =>
    router.app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen failed')))),
  );
  return {
    url: `http://127.0.0.1:${uws.us_socket_local_port(socket)}`,
    close: () => {
      uws.us_listen_socket_close(socket);
      (router.app as unknown as { close?: () => void }).close?.();
    },
  };
}

function buildRouter(origins: string[] = []): Router {
  const router = new Router(uws.App(), {
    bodyLimit: LIMIT,
    cors: { origins },
    log: { error: (message) => logged.push(message) },
  });
  const Item = z.object({ id: z.string(), n: z.number() });
  router.route({
    method: 'post',
    path: '/items',
    summary: 'create',
    body: z.strictObject({
      n: z
        .number({ error: (i) => `n must be a number; got ${JSON.stringify(i.input)}` })
        .int()
        .min(1, { error: (i) => `n must be at least 1; got ${JSON.stringify(i.input)}` }),
    }),
    response: Item,
    handler: ({ body }) => Promise.resolve(reply(202, { id: 'x', n: body.n })),
  });
  router.route({
    method: 'get',
    path: '/items/:id',
    summary: 'one',
    params: z.object({ id: z.uuid({ error: (i) => `id must be a UUID; got ${JSON.stringify(i.input)}` }) }),
    query: z.strictObject({ verbose: z.enum(['yes', 'no']).optional() }),
    response: Item,
    handler: ({ params }) => Promise.reject(new NotFoundError('item', params.id)),
  });
  router.route({
    method: 'delete',
    path: '/items/:id',
    summary: 'remove',
    response: z.object({}),
    handler: () => Promise.reject(new ConflictError('item is busy')),
  });
  router.route({
    method: 'get',
    path: '/boom',
    summary: 'fails',
    response: z.object({}),
    handler: () => Promise.reject(new Error('secret internals')),
  });
  router.route({
    method: 'get',
    path: '/db-down',
    summary: 'database refuses',
    response: z.object({}),
    handler: () =>
      Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })),
  });
  router.route({
    method: 'get',
    path: '/broken-contract',
    summary: 'answers what its schema forbids',
    response: z.object({ n: z.number() }),
    handler: () => Promise.resolve({ n: 'not a number' } as unknown as { n: number }),
  });
  router.route({
    method: 'get',
    path: '/text',
    summary: 'plain text',
    response: z.string(),
    handler: () => Promise.resolve(rawReply(200, 'hello', 'text/plain; charset=utf-8')),
  });
  return router;
}

let server: { url: string; close: () => void };
let corsServer: { url: string; close: () => void };
beforeAll(async () => {
  server = await listen(buildRouter());
  corsServer = await listen(buildRouter(['https://dash.example']));
});
afterAll(() => {
  server.close();
  corsServer.close();
});

async function call(path: string, init: RequestInit = {}, base = server.url) {
  const res = await fetch(base + path, init);
  const text = await res.text();
  const isJson = res.headers.get('content-type')?.startsWith('application/json') ?? false;
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: isJson ? (JSON.parse(text) as unknown) : undefined,
  };
}

const post = (
  body: string | Uint8Array,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) => call('/items', { method: 'POST', body, headers });

describe('router: bad input', () => {
  it('answers 400 naming the problem for malformed JSON', async () => {
    const r = await post('{"n": 1');
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: { code: 'invalid_input' } });
    expect(r.text).toMatch(/"message":"body must be valid JSON/);
  });

  it('answers 400 for an empty body and for a non-JSON content type', async () => {
    expect((await post('')).json).toMatchObject({
      error: { message: 'body must be a JSON document; got an empty body' },
    });
    const r = await post('n=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(400);
    expect(r.text).toContain(
      'content-type must be application/json; got \\"application/x-www-form-urlencoded\\"',
    );
  });

  it('answers 400 naming each bad field, what was expected and what arrived', async () => {
    const r = await post(JSON.stringify({ n: -3 }));
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      error: {
        code: 'invalid_input',
        message: 'n must be at least 1; got -3',
        details: { issues: [{ path: 'body.n', message: 'n must be at least 1; got -3' }] },
      },
    });
    const unknown = await post(JSON.stringify({ n: 1, extra: true }));
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ error: { details: { issues: [{ path: 'body' }] } } });
    expect(unknown.text).toContain('extra');
  });

  it('answers 400 for a malformed path parameter and an unknown query parameter', async () => {
    const p = await call('/items/nope');
    expect(p.status).toBe(400);
    expect(p.json).toMatchObject({
      error: { message: 'id must be a UUID; got "nope"', details: { issues: [{ path: 'params.id' }] } },
    });
    const q = await call('/items/0b6f8f5e-3c4e-4f8e-9a57-1c2d3e4f5a6b?colour=red');
    expect(q.status).toBe(400);
    expect(q.text).toContain('colour');
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ n: 1, pad: 'x'.repeat(LIMIT) });
    const declared = await post(big);
    expect(declared.status).toBe(413);
    expect(declared.json).toMatchObject({
      error: { code: 'payload_too_large', details: { limit_bytes: LIMIT } },
    });

    // Without a Content-Length: chunked upload, cut off once past the limit.
    const chunk = new TextEncoder().encode('x'.repeat(512));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(server.url + '/items', {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    });
    expect(res.status).toBe(413);
  });
});

describe('router: answers', () => {
  it('sends the handler result with the route status, and raw replies as they are', async () => {
    const r = await post(JSON.stringify({ n: 2 }));
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ id: 'x', n: 2 });
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const t = await call('/text');
    expect(t.text).toBe('hello');
    expect(t.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  });

  it('maps domain errors: 404 not found, 409 conflict, 503 database down', async () => {
    const id = '0b6f8f5e-3c4e-4f8e-9a57-1c2d3e4f5a6b';
    expect(await call(`/items/${id}`)).toMatchObject({
      status: 404,
      json: { error: { code: 'not_found', message: `item ${id} not found` } },
    });
    expect(await call(`/items/${id}`, { method: 'DELETE' })).toMatchObject({
      status: 409,
      json: { error: { code: 'conflict', message: 'item is busy' } },
    });
    expect(await call('/db-down')).toMatchObject({
      status: 503,
      json: { error: { code: 'database_unavailable' } },
    });
  });

  it('answers 404 with the error body for unknown paths and methods', async () => {
    expect(await call('/nowhere')).toMatchObject({
      status: 404,
      json: { error: { code: 'not_found', message: 'no route GET /nowhere' } },
    });
    expect((await call('/text', { method: 'PUT' })).status).toBe(404);
  });

  it('answers 500 without internals for unexpected failures and broken contracts, and logs them', async () => {
    logged.length = 0;
    const r = await call('/boom');
    expect(r).toMatchObject({
      status: 500,
      json: { error: { code: 'internal', message: 'internal server error' } },
    });
    expect(r.text).not.toContain('secret');
    expect((await call('/broken-contract')).status).toBe(500);
    expect(logged).toEqual(['request failed', 'request failed']);
  });

  it('refuses a route declared twice', () => {
    const router = buildRouter();
    expect(() =>
      router.route({
        method: 'get',
        path: '/boom',
        summary: 'again',
        response: z.object({}),
        handler: () => Promise.resolve({}),
      }),
    ).toThrow('route GET /boom is declared twice');
    expect(router.routes.map((r) => `${r.method} ${r.path}`)).toContain('post /items');
  });
});

describe('router: CORS', () => {
  it('sends no CORS headers by default', async () => {
    const r = await call('/text', { headers: { origin: 'https://dash.example' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows configured origins only, and answers preflights', async () => {
    const ok = await call('/text', { headers: { origin: 'https://dash.example' } }, corsServer.url);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://dash.example');
    const other = await call('/text', { headers: { origin: 'https://evil.example' } }, corsServer.url);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await call(
      '/items',
      {
        method: 'OPTIONS',
        headers: { origin: 'https://dash.example', 'access-control-request-method': 'POST' },
      },
      corsServer.url,
    );
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
  });
});
