import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { IdParamsSchema } from '../../src/contract/common.js';
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import { uws, type us_listen_socket } from '../../src/api/http.js';
import {
  compileParamsCheck,
  emptyQueryOutput,
  isPureSchema,
  QUERY_MEMO_ENTRIES,
  QueryMemo,
  rawReply,
  reply,
  Router,
} from '../../src/api/router.js';

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

  it('answers 400 for an empty body and 415 for a non-JSON content type', async () => {
    expect((await post('')).json).toMatchObject({
      error: { message: 'body must be a JSON document; got an empty body' },
    });
    const r = await post('n=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
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

describe('router: compiled per-route steps', () => {
  it('tells pure response schemas (parse = encode) from those that change values', () => {
    const pure = [
      z.object({ id: z.uuid(), n: z.number().int().min(0), at: z.string(), tags: z.array(z.string()) }),
      z.object({ a: z.string().nullable().optional(), b: z.union([z.literal('x'), z.enum(['y', 'z'])]) }),
      z.discriminatedUnion('kind', [z.object({ kind: z.literal('a') }), z.object({ kind: z.literal('b') })]),
      z.record(z.string(), z.tuple([z.number(), z.boolean()])),
      z.object({ n: z.number().refine((v) => v > 0) }),
    ];
    for (const s of pure) expect(isPureSchema(s)).toBe(true);
    const impure = [
      z.object({ n: z.string().transform(Number) }),
      z.object({ n: z.number().default(1) }),
      z.object({ s: z.string().trim() }),
      z.object({
        at: z.codec(z.iso.datetime(), z.date(), {
          decode: (s) => new Date(s),
          encode: (d) => d.toISOString(),
        }),
      }),
      z.array(z.object({ n: z.number().catch(0) })),
    ];
    for (const s of impure) expect(isPureSchema(s)).toBe(false);
  });

  it('checks id path parameters exactly as the contract Id does', () => {
    const schema = IdParamsSchema;
    const fast = compileParamsCheck(schema, ['id']);
    expect(fast).toBeDefined();
    const samples = [
      '0b6f8f5e-3c4e-4f8e-9a57-1c2d3e4f5a6b',
      '0B6F8F5E-3C4E-4F8E-9A57-1C2D3E4F5A6B',
      '0b6f8f5e-3c4e-4f8e-9A57-1c2d3e4f5a6b',
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      '0b6f8f5e-3c4e-0f8e-9a57-1c2d3e4f5a6b', // version 0
      '0b6f8f5e-3c4e-4f8e-7a57-1c2d3e4f5a6b', // bad variant
      '0b6f8f5e3c4e4f8e9a571c2d3e4f5a6b',
      '0b6f8f5e-3c4e-4f8e-9a57-1c2d3e4f5a6b ',
      '0b6f8f5e-3c4e-4f8e-9a57-1c2d3e4f5a6b\n',
      '',
      'nope',
    ];
    for (const id of samples) {
      // Passing the fast check means zod accepts the value and outputs it unchanged.
      const parsed = schema.safeParse({ id });
      const same = parsed.success && parsed.data.id === id;
      expect(fast!({ id }), id).toBe(same);
    }
    // Any other schema keeps zod.
    expect(compileParamsCheck(z.object({ id: z.uuid() }), ['id'])).toBeUndefined();
    expect(compileParamsCheck(z.object({ name: z.string() }), ['name'])).toBeUndefined();
    expect(
      compileParamsCheck(
        IdParamsSchema.refine(() => true),
        ['id'],
      ),
    ).toBeUndefined();
    expect(compileParamsCheck(IdParamsSchema, ['key'])).toBeUndefined();
  });

  it('computes the output of an empty query once, and only when it is plain, stable data', () => {
    const paged = emptyQueryOutput(
      z.strictObject({ limit: z.string().optional() }).transform((q) => ({ limit: Number(q.limit ?? 50) })),
    );
    expect(paged).toEqual({ value: { limit: 50 } });
    expect(Object.isFrozen(paged!.value)).toBe(true);
    expect(emptyQueryOutput(z.strictObject({ column: z.string() }))).toBeUndefined();
    expect(emptyQueryOutput(z.strictObject({}).transform(() => ({ at: new Date() })))).toBeUndefined();
    let n = 0;
    expect(emptyQueryOutput(z.strictObject({}).transform(() => ({ n: n++ })))).toBeUndefined();
  });
  it('remembers parsed queries that are plain and stable, within a bound, and refuses bad ones every time', () => {
    const memo = new QueryMemo(
      z.strictObject({ metrics: z.string(), from: z.iso.datetime().optional() }).transform((q) => ({
        metrics: q.metrics.split(','),
        from: q.from === undefined ? undefined : new Date(q.from),
      })),
    );
    const a = memo.parse('metrics=a,b');
    expect(a).toEqual({ metrics: ['a', 'b'], from: undefined });
    expect(memo.parse('metrics=a,b')).toBe(a);
    expect(Object.isFrozen((a as { metrics: string[] }).metrics)).toBe(true);
    // A Date is not shared: parsed afresh each time.
    const withDate = memo.parse('metrics=a&from=2024-01-01T00:00:00Z');
    expect(memo.parse('metrics=a&from=2024-01-01T00:00:00Z')).not.toBe(withDate);
    for (let i = 0; i < 2; i++) expect(() => memo.parse('metrics=a&colour=red')).toThrow('colour');
    expect(() => memo.parse('')).toThrow();
    for (let i = 0; i < QUERY_MEMO_ENTRIES + 10; i++) memo.parse(`metrics=m${i}`);
    expect(memo.size).toBe(QUERY_MEMO_ENTRIES);
  });
});

describe('router: answering', () => {
  const id = '0b6f8f5e-3c4e-4f8e-9a57-1c2d3e4f5a6b';
  let srv: { url: string; close: () => void };
  let entered = false;
  let aborted = false;
  let seenQueries: unknown[] = [];
  beforeAll(async () => {
    const router = new Router(uws.App(), {
      bodyLimit: LIMIT,
      log: { error: (message) => logged.push(message) },
    });
    router.route({
      method: 'get',
      path: '/sync/:id',
      summary: 'answers at once',
      params: z.object({ id: z.uuid({ error: (i) => `id must be a UUID; got ${JSON.stringify(i.input)}` }) }),
      query: z
        .strictObject({ limit: z.string().regex(/^\d+$/).optional() })
        .transform((q) => ({ limit: Number(q.limit ?? 50) })),
      response: z.object({ id: z.string(), limit: z.number() }),
      handler: ({ params, query }) => {
        seenQueries.push(query);
        // An extra key: the response schema strips it.
        return { id: params.id, limit: query.limit, secret: 'x' } as { id: string; limit: number };
      },
    });
    router.route({
      method: 'get',
      path: '/sync-throws',
      summary: 'throws at once',
      response: z.object({}),
      handler: () => {
        throw new ConflictError('busy right now');
      },
    });
    router.route({
      method: 'get',
      path: '/sync-raw',
      summary: 'a raw reply at once',
      response: z.string(),
      handler: () => rawReply(200, Buffer.from('{"cached":true}'), 'application/json; charset=utf-8'),
    });
    router.route({
      method: 'get',
      path: '/headers',
      summary: 'echoes declared headers',
      headers: ['x-trace'],
      response: z.record(z.string(), z.string()),
      handler: ({ headers }) => Promise.resolve({ ...headers }),
    });
    router.route({
      method: 'get',
      path: '/slow',
      summary: 'waits for the client to go away',
      response: z.object({}),
      handler: ({ signal }) =>
        new Promise((resolve) => {
          entered = true;
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve({});
          });
        }),
    });
    srv = await listen(router);
  });
  afterAll(() => srv.close());

  it('answers synchronous results, stripping what the response schema does not list', async () => {
    seenQueries = [];
    const r = await call(`/sync/${id}`, {}, srv.url);
    expect(r).toMatchObject({ status: 200, json: { id, limit: 50 } });
    expect(r.text).not.toContain('secret');
    expect((await call(`/sync/${id}?limit=7`, {}, srv.url)).json).toEqual({ id, limit: 7 });
    await call(`/sync/${id}`, {}, srv.url);
    // The empty query's output is computed once and shared, frozen.
    expect(seenQueries[0]).toBe(seenQueries[2]);
    expect(Object.isFrozen(seenQueries[0])).toBe(true);
    const raw = await call('/sync-raw', {}, srv.url);
    expect(raw).toMatchObject({ status: 200, json: { cached: true } });
  });

  it('still answers 400 for bad parameters and queries, and maps synchronous throws', async () => {
    expect(await call('/sync/nope', {}, srv.url)).toMatchObject({
      status: 400,
      json: {
        error: { message: 'id must be a UUID; got "nope"', details: { issues: [{ path: 'params.id' }] } },
      },
    });
    expect((await call(`/sync/${id}?limit=x`, {}, srv.url)).status).toBe(400);
    expect((await call(`/sync/${id}?colour=red`, {}, srv.url)).text).toContain('colour');
    expect((await call('/sync-throws?x=1', {}, srv.url)).text).toContain('this route takes none');
    expect(await call('/sync-throws', {}, srv.url)).toMatchObject({
      status: 409,
      json: { error: { code: 'conflict', message: 'busy right now' } },
    });
    expect(await call('/sync/%E0%A4%A', {}, srv.url)).toMatchObject({
      status: 400,
      json: { error: { code: 'invalid_input', details: { issues: [{ path: 'params' }] } } },
    });
  });

  it('hands handlers the headers they declare, and no others', async () => {
    const r = await call('/headers', { headers: { 'x-trace': 'abc', 'x-other': 'no' } }, srv.url);
    expect(r.json).toEqual({ 'x-trace': 'abc' });
  });

  it('aborts the signal of a handler whose client went away', async () => {
    entered = false;
    aborted = false;
    const controller = new AbortController();
    const pending = fetch(`${srv.url}/slow`, { signal: controller.signal }).catch(() => 'gone');
    // Once the handler runs, the client goes away.
    while (!entered) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    expect(await pending).toBe('gone');
    while (!aborted) await new Promise((r) => setTimeout(r, 10));
  });
});
