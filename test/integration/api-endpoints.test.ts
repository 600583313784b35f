/**
 * Every endpoint's error manners, driven by the router's own route list against a real server,
 * PostgreSQL and generator: a non-UUID id is a 400 and an unknown one a 404, each with the error
 * body; every body route answers 413 over the size limit, 400 to broken JSON and 415 to a body
 * not declared as JSON; every list
 * refuses a bad limit or cursor and pages newest first; unknown paths and methods are 404s; CORS
 * headers only for configured origins (none by default); and the analytics answers served from
 * memory stop the moment their dataset is deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteDef } from '../../src/api/router.js';
import { ErrorBodySchema } from '../../src/contract/errors.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BODY_LIMIT = 64 * 1024;
const ORIGIN = 'http://dashboard.example';
const UNKNOWN = '00000000-0000-4000-8000-00000000abcd';

/** A valid query for routes that require one (so that only the id can be wrong). */
const VALID_QUERY: Record<string, string> = {
  '/datasets/:id/topk': 'column=region',
  '/datasets/:id/timeseries': 'metrics=cpu_usage&aggs=mean&bucket=1h',
  '/datasets/:id/histogram': 'metric=cpu_usage',
  '/models/:id/eval': `dataset_id=${UNKNOWN}`,
  '/models/:id/error_distribution': `dataset_id=${UNKNOWN}&group_by=region`,
};

let srv: TestServer;
let plain: TestServer;
let routes: readonly RouteDef[];

async function call(method: string, path: string, init: RequestInit = {}) {
  const res = await fetch(`${srv.apiUrl}${path}`, { method, ...init });
  const text = await res.text();
  return { res, json: text ? (JSON.parse(text) as unknown) : null };
}

function expectError(json: unknown, code: string): void {
  const body = ErrorBodySchema.parse(json);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
}

async function waitCompleted(id: string): Promise<void> {
  while ((await srv.client.getDataset(id)).status !== 'completed')
    await new Promise((r) => setTimeout(r, 50));
}

beforeAll(async () => {
  [srv, plain] = await Promise.all([
    startTestServer({ bodyLimit: BODY_LIMIT, corsOrigins: [ORIGIN] }),
    startTestServer(),
  ]);
  routes = srv.system.api.router.routes;
});
afterAll(async () => {
  await Promise.all([srv?.close(), plain?.close()]);
});

describe('ids', () => {
  it('answers 400 naming params.id for a non-UUID id, on every route with one', async () => {
    const withId = routes.filter((r) => r.path.includes(':id'));
    expect(withId.length).toBeGreaterThan(8);
    for (const r of withId) {
      const path = r.path.replace(':id', 'not-a-uuid');
      const q = VALID_QUERY[r.path];
      const { res, json } = await call(r.method.toUpperCase(), q ? `${path}?${q}` : path);
      expect(res.status, `${r.method} ${r.path}`).toBe(400);
      expectError(json, 'invalid_input');
      expect(JSON.stringify(json), r.path).toContain('params.id');
    }
  });

  it('answers 404 for an unknown id, on every route with one', async () => {
    for (const r of routes.filter((d) => d.path.includes(':id'))) {
      const path = r.path.replace(':id', UNKNOWN);
      const q = VALID_QUERY[r.path];
      const { res, json } = await call(r.method.toUpperCase(), q ? `${path}?${q}` : path);
      expect(res.status, `${r.method} ${r.path}`).toBe(404);
      expectError(json, 'not_found');
    }
  });
});

describe('bodies', () => {
  it('answers 413 over the size limit, 400 to broken JSON and 415 to a non-JSON type, on every route with a body', async () => {
    const withBody = routes.filter((r) => r.body !== undefined);
    expect(withBody.map((r) => r.path)).toEqual(
      expect.arrayContaining(['/datasets', '/train', '/inference', '/jobs/score_dataset']),
    );
    for (const r of withBody) {
      const big = JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT) });
      const tooLarge = await call('POST', r.path, {
        headers: { 'content-type': 'application/json' },
        body: big,
      });
      expect(tooLarge.res.status, r.path).toBe(413);
      expectError(tooLarge.json, 'payload_too_large');
      const broken = await call('POST', r.path, {
        headers: { 'content-type': 'application/json' },
        body: '{"a":',
      });
      expect(broken.res.status, r.path).toBe(400);
      expectError(broken.json, 'invalid_input');
      const wrongType = await call('POST', r.path, { headers: { 'content-type': 'text/plain' }, body: '{}' });
      expect(wrongType.res.status, r.path).toBe(415);
      expectError(wrongType.json, 'unsupported_media_type');
      const untyped = await call('POST', r.path, { body: new Uint8Array(Buffer.from('{}')) });
      expect(untyped.res.status, r.path).toBe(415);
    }
  });
});

describe('lists', () => {
  const lists = ['/datasets', '/models', '/jobs', '/inference_runs', '/alerts'];

  it('refuses a bad limit or cursor on every list', async () => {
    for (const path of lists) {
      expect(
        routes.some((r) => r.method === 'get' && r.path === path),
        path,
      ).toBe(true);
      for (const q of [
        'limit=0',
        'limit=501',
        'limit=ten',
        'cursor=',
        `cursor=${'z'.repeat(300)}`,
        'cursor=%%%',
      ]) {
        const { res, json } = await call('GET', `${path}?${q}`);
        expect(res.status, `${path}?${q}`).toBe(400);
        expectError(json, 'invalid_input');
      }
    }
  });

  it('pages datasets and jobs newest first with limit and cursor', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await srv.client.createDataset({
        host_count: 2,
        duration_s: 1800,
        seed: i + 1,
        anomaly_rate: 0,
      });
      await waitCompleted(d.id);
      made.push(d.id);
    }
    const model = await srv.client.train({ dataset_id: made[0]! });
    while (!['completed', 'failed'].includes((await srv.client.getModel(model.id)).status)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const jobs: string[] = [];
    for (const ds of made)
      jobs.push((await srv.client.scoreDataset({ model_id: model.id, dataset_id: ds })).id);

    for (const [path, ids] of [
      ['/datasets', made],
      ['/jobs', jobs],
    ] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const { res, json } = await call(
          'GET',
          `${path}?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(res.status).toBe(200);
        const page = json as { items: { id: string }[]; next_cursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(1);
        seen.push(...page.items.map((i) => i.id));
        cursor = page.next_cursor;
      } while (cursor !== null);
      expect(seen, path).toEqual([...ids].reverse());
    }
  });
});

describe('routing and CORS', () => {
  it('answers 404 with the error body for unknown paths and methods', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['PUT', '/datasets'],
      ['PATCH', '/health'],
    ] as const) {
      const { res, json } = await call(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expectError(json, 'not_found');
    }
  });

  it('sends CORS headers to configured origins only, and none by default', async () => {
    const allowed = await fetch(`${srv.apiUrl}/health`, { headers: { origin: ORIGIN } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const other = await fetch(`${srv.apiUrl}/health`, { headers: { origin: 'http://elsewhere.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${srv.apiUrl}/datasets`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    const byDefault = await fetch(`${plain.apiUrl}/health`, { headers: { origin: ORIGIN } });
    expect(byDefault.headers.get('access-control-allow-origin')).toBeNull();
    const noPreflight = await fetch(`${plain.apiUrl}/datasets`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN },
    });
    expect(noPreflight.status).toBe(404);
  });
});

describe('analytics from memory', () => {
  it('answers the same from memory, and 404 as soon as the dataset is deleted', async () => {
    const d = await srv.client.createDataset({ host_count: 2, duration_s: 1200, seed: 5 });
    await waitCompleted(d.id);
    const urls = [
      `/datasets/${d.id}/summary`,
      `/datasets/${d.id}/timeseries?metrics=cpu_usage&aggs=mean&bucket=5m`,
      `/datasets/${d.id}/topk?column=host_id`,
      `/datasets/${d.id}/histogram?metric=latency_ms&bins=10`,
    ];
    for (const u of urls) {
      const first = await call('GET', u);
      expect(first.res.status, u).toBe(200);
      expect(first.res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const second = await call('GET', u);
      expect(second.json, u).toEqual(first.json);
    }
    await srv.client.deleteDataset(d.id);
    for (const u of urls) {
      const after = await call('GET', u);
      expect(after.res.status, u).toBe(404);
      expectError(after.json, 'not_found');
    }
  });
});
