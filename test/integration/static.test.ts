/**
 * The dashboard under `/app/` (src/api/static.ts), served by a full server from the fixture
 * build test/fixtures/web-dist: misses and odd paths first, then content types, caching,
 * revalidation, gzip, HEAD, the client-route fallback and the redirects; and the answer when no
 * dashboard is built.
 */
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiDeps } from '../../src/api/deps.js';
import { silentLogger } from '../../src/api/deps.js';
import { uws } from '../../src/api/http.js';
import { Router } from '../../src/api/router.js';
import * as dashboard from '../../src/api/static.js';
import {
  defaultStaticDir,
  IMMUTABLE,
  loadStaticSite,
  lookupStatic,
  packageRoot,
} from '../../src/api/static.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FIXTURE = join(packageRoot(), 'test', 'fixtures', 'web-dist');
const JS = 'assets/index-b7d04e55.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

let srv: TestServer;
const indexHtml = readFileSync(join(FIXTURE, 'index.html'));

beforeAll(async () => {
  srv = await startTestServer({ staticDir: FIXTURE });
});
afterAll(async () => {
  await srv?.close();
});

describe('dashboard misses', () => {
  it('answers 404 with the error body for a missing asset, never the index', async () => {
    const r = await get(srv.apiUrl, '/app/assets/index-00000000.js');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(r.body.toString())).toMatchObject({ error: { code: 'not_found' } });
  });

  it('answers 404 for an undecodable path', async () => {
    const r = await get(srv.apiUrl, '/app/assets/%E0%A4%A');
    expect(r.status).toBe(404);
  });

  it('never serves a file outside the directory', async () => {
    const r = await get(srv.apiUrl, '/app/..%2F..%2F..%2Fpackage.json');
    expect(r.status).toBe(200);
    expect(r.body.equals(indexHtml)).toBe(true);
  });

  it('says how to build the dashboard when there is none', async () => {
    expect(loadStaticSite(join(FIXTURE, 'no-such-dir'))).toBeNull();
    const router = new Router(uws.App(), { bodyLimit: 1024 });
    dashboard.register(router, {
      staticDir: join(FIXTURE, 'no-such-dir'),
      log: silentLogger,
    } as unknown as ApiDeps);
    router.finish();
    const socket = await new Promise<NonNullable<Parameters<Parameters<typeof router.app.listen>[2]>[0]>>(
      (resolve, reject) =>
        router.app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('cannot listen')))),
    );
    try {
      const base = `http://127.0.0.1:${uws.us_socket_local_port(socket)}`;
      const r = await get(base, '/app/');
      expect(r.status).toBe(404);
      expect((JSON.parse(r.body.toString()) as { error: { message: string } }).error.message).toMatch(
        /npm run build/,
      );
    } finally {
      uws.us_listen_socket_close(socket);
    }
  });
});

describe('dashboard files', () => {
  it('defaults to the package’s web/dist', () => {
    expect(defaultStaticDir()).toBe(join(packageRoot(), 'web', 'dist'));
  });

  it('serves index.html at /app/ with no-cache and an ETag', async () => {
    const r = await get(srv.apiUrl, '/app/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers.etag).toMatch(/^"[\w-]+"$/);
    expect(r.body.equals(indexHtml)).toBe(true);
  });

  it('falls back to index.html for client-side routes', async () => {
    for (const path of ['/app/alerts', '/app/runs/42/detail', '/app/analytics?dataset=x']) {
      const r = await get(srv.apiUrl, path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type'], path).toBe('text/html; charset=utf-8');
      expect(r.body.equals(indexHtml), path).toBe(true);
    }
  });

  it('serves hashed assets as immutable, with their content types', async () => {
    const js = await get(srv.apiUrl, `/app/${JS}`);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe(IMMUTABLE);
    expect(js.body.equals(readFileSync(join(FIXTURE, JS)))).toBe(true);
    const css = await get(srv.apiUrl, '/app/assets/index-3f9a1c2e.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe(IMMUTABLE);
    const icon = await get(srv.apiUrl, '/app/favicon.svg');
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('sends gzip to clients that accept it, and the same bytes once inflated', async () => {
    const r = await get(srv.apiUrl, `/app/${JS}`, { 'accept-encoding': 'gzip, deflate' });
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers.vary).toBe('Accept-Encoding');
    expect(r.body.length).toBeLessThan(readFileSync(join(FIXTURE, JS)).length);
    expect(gunzipSync(r.body).equals(readFileSync(join(FIXTURE, JS)))).toBe(true);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await get(srv.apiUrl, '/app/');
    const etag = String(first.headers.etag);
    const again = await get(srv.apiUrl, '/app/', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const other = await get(srv.apiUrl, '/app/', { 'if-none-match': '"something-else"' });
    expect(other.status).toBe(200);
  });

  it('answers HEAD with the headers and no body', async () => {
    const r = await get(srv.apiUrl, '/app/', {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(indexHtml.length));
    expect(r.body.length).toBe(0);
  });

  it('redirects / and /app to /app/', async () => {
    for (const path of ['/', '/app']) {
      const r = await get(srv.apiUrl, path);
      expect(r.status, path).toBe(302);
      expect(r.headers.location, path).toBe('/app/');
    }
  });

  it('resolves paths the same way without a server', () => {
    const site = loadStaticSite(FIXTURE)!;
    expect([...site.files.keys()].sort()).toEqual(
      ['assets/index-3f9a1c2e.css', JS, 'favicon.svg', 'index.html'].sort(),
    );
    expect(lookupStatic(site, '/app/assets/nope.js')).toEqual({ kind: 'missing' });
    expect(lookupStatic(site, '/app')).toEqual({ kind: 'redirect', location: '/app/' });
    const found = lookupStatic(site, '/app/models');
    expect(found.kind === 'file' && found.file.contentType).toBe('text/html; charset=utf-8');
  });
});
