/**
 * Fault 13 (DNS rebinding): the `Host` header was never checked, so a page whose name was rebound
 * to the server's address could use the whole API as its own origin, and `/ws` admitted any page
 * whose Origin matched the request's Host — which a rebound name always does. Requests must now
 * name a configured host (the loopback names by default), and `/ws` pages an allowed origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Router } from '../../src/api/router.js';
import { LiveHub } from '../../src/api/ws.js';
import { loadConfig } from '../../src/config/env.js';
import { ValidationError } from '../../src/core/errors.js';
import { openWebSocket, UpgradeRefused } from '../integration/ws-client.js';
import { exchange, startRouterApp, type RouterApp } from '../helpers/router-app.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let loopback: RouterApp;
let named: RouterApp;
let srv: TestServer;
let served = 0;

function declare(router: Router): void {
  router.route({
    method: 'get',
    path: '/thing',
    summary: 'a thing',
    response: z.object({ ok: z.boolean() }),
    handler: () => {
      served++;
      return { ok: true };
    },
  });
  new LiveHub(router).attach('0.0.0-test');
}

beforeAll(async () => {
  loopback = await startRouterApp(declare);
  named = await startRouterApp(declare, { allowedHosts: ['tads.example'] });
  srv = await startTestServer();
});
afterAll(async () => {
  loopback?.close();
  named?.close();
  await srv?.close();
});

/** One request with the given Host header: status line and body. */
async function get(port: number, host: string, method = 'GET', path = '/thing') {
  const got = await exchange(
    port,
    `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`,
    () => false,
  );
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1]);
  return { status, body: got.slice(got.indexOf('\r\n\r\n') + 4) };
}

/** The status of a `/ws` upgrade (101 when it opens). */
async function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  try {
    const s = await openWebSocket(url, headers);
    s.close();
    return 101;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status;
    throw err;
  }
}

describe('fault 13: only configured host names are served', () => {
  it('421 with a JSON error for another Host, and the handler does not run', async () => {
    const before = served;
    const r = await get(loopback.port, 'evil.example');
    expect(r.status).toBe(421);
    expect(JSON.parse(r.body)).toMatchObject({
      error: { code: 'misdirected_request', details: { host: 'evil.example' } },
    });
    expect(served).toBe(before);
    expect((await get(loopback.port, `evil.example:${loopback.port}`)).status).toBe(421);
    // Unknown paths too (no 404 that would tell the page what exists), and HEAD, without a body.
    expect((await get(loopback.port, 'evil.example', 'GET', '/nothing-here')).status).toBe(421);
    const head = await get(loopback.port, 'evil.example', 'HEAD');
    expect([head.status, head.body]).toEqual([421, '']);
  });

  it.each(['localhost', '127.0.0.1', '[::1]', 'LOCALHOST'])('serves %s, whatever the port', async (name) => {
    expect((await get(loopback.port, `${name}:${loopback.port}`)).status).toBe(200);
    expect((await get(loopback.port, name)).status).toBe(200);
  });

  it('serves the configured names only, when they are configured', async () => {
    expect((await get(named.port, 'tads.example:8080')).status).toBe(200);
    expect((await get(named.port, `localhost:${named.port}`)).status).toBe(421);
  });

  it('applies to the whole server: API routes, the dashboard and the redirect', async () => {
    const port = Number(new URL(srv.apiUrl).port);
    for (const path of ['/health', '/app/', '/', '/openapi.json']) {
      expect((await get(port, 'evil.example', 'GET', path)).status, path).toBe(421);
    }
    expect((await get(port, `localhost:${port}`, 'GET', '/health')).status).toBe(200);
    const res = await fetch(`${srv.apiUrl}/health`);
    expect(res.status).toBe(200);
  });
});

describe('fault 13: /ws checks the page against the allowed names, not against Host', () => {
  it('refuses a page of another origin even when Host names the same host', async () => {
    const url = `${loopback.url}/ws`;
    expect(await upgrade(url, { origin: 'http://evil.example', host: 'evil.example' })).toBe(421);
    expect(await upgrade(url, { origin: 'http://evil.example' })).toBe(403);
  });

  it('says why, in the error body', async () => {
    const err = await openWebSocket(`${loopback.url}/ws`, { origin: 'http://evil.example' }).catch(
      (e: unknown) => e,
    );
    expect(JSON.parse((err as UpgradeRefused).body)).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('accepts pages of allowed names on any port, and clients without Origin', async () => {
    const url = `${loopback.url}/ws`;
    expect(await upgrade(url, { origin: 'http://localhost:5173' })).toBe(101);
    expect(await upgrade(url, { origin: loopback.url })).toBe(101);
    expect(await upgrade(url, {})).toBe(101);
  });

  it('accepts a configured name', async () => {
    const url = `${named.url}/ws`;
    expect(await upgrade(url, { origin: 'https://tads.example', host: 'tads.example' })).toBe(101);
    expect(await upgrade(url, { origin: 'http://localhost', host: 'tads.example' })).toBe(403);
  });
});

describe('fault 13: TADS_ALLOWED_HOSTS', () => {
  it('defaults to the loopback names, plus the bind host unless it is a wildcard', () => {
    const loopbackNames = ['localhost', '127.0.0.1', '[::1]'];
    expect(loadConfig({}, {}).allowedHosts).toEqual(loopbackNames);
    expect(loadConfig({}, { HOST: '0.0.0.0' }).allowedHosts).toEqual(loopbackNames);
    expect(loadConfig({}, { HOST: '::' }).allowedHosts).toEqual(loopbackNames);
    expect(loadConfig({}, { HOST: '10.0.0.5' }).allowedHosts).toEqual([...loopbackNames, '10.0.0.5']);
    expect(loadConfig({}, { HOST: 'fd00::5' }).allowedHosts).toEqual([...loopbackNames, '[fd00::5]']);
  });

  it('replaces the default with the names given, in lower case', () => {
    const env = { TADS_ALLOWED_HOSTS: 'Tads.Example, 10.0.0.5,[::1]' };
    expect(loadConfig({}, env).allowedHosts).toEqual(['tads.example', '10.0.0.5', '[::1]']);
    expect(loadConfig({ allowedHosts: ['a.example'] }, env).allowedHosts).toEqual(['a.example']);
  });

  it.each(['http://tads.example', 'tads.example:8080', 'a b', ','])('refuses %j', (value) => {
    expect(() => loadConfig({}, { TADS_ALLOWED_HOSTS: value })).toThrow(ValidationError);
    expect(() => loadConfig({}, { TADS_ALLOWED_HOSTS: value })).toThrow(/TADS_ALLOWED_HOSTS must/);
  });
});
