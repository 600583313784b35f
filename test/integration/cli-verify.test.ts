/**
 * `tads verify` from the build in dist/ (as a user runs it) against a whole server the test
 * starts: every step passes, what it created is gone afterwards; against an address where no API
 * listens, health fails, the rest is skipped and the exit code is 1.
 *
 * Needs the build (`npm run build:ts`; `npm test` builds first).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERIFY_STEPS } from '../../src/cli/commands/verify.js';
import { freePort } from '../../src/db/embedded.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAIN = 'dist/src/cli/main.js';
const run = promisify(execFile);

/** Runs the CLI; resolves with its exit code and output whatever the code. */
async function tads(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], {
      env: { ...process.env, TADS_API: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

describe('tads verify', () => {
  it('exits 2 for a flag it does not know', async () => {
    const r = await tads(['verify', '--api', srv.apiUrl, '--hosts', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown flag --hosts');
  });

  it('fails health against an address with no API, skips the rest, exits 1 (--json)', async () => {
    const api = `http://127.0.0.1:${await freePort()}`;
    const r = await tads(['verify', '--api', api, '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      failed: number;
      steps: { step: string; status: string; detail: string }[];
    };
    expect(doc.ok).toBe(false);
    expect(doc.steps.map((s) => s.step)).toEqual([...VERIFY_STEPS]);
    expect(doc.steps[0]).toMatchObject({ step: 'health', status: 'fail' });
    expect(doc.steps[0]!.detail).toContain('cannot reach the TADS API');
    expect(doc.steps.slice(1).every((s) => s.status === 'skip')).toBe(true);
  });

  it('passes every step of the loop against a running server and leaves nothing behind', async () => {
    const before = await srv.pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM datasets)::int + (SELECT count(*) FROM models)::int AS n`,
    );
    const r = await tads(['verify', '--api', srv.apiUrl]);
    const lines = r.stdout.trim().split('\n');
    // One line per step, in order, each PASS with its time, then the verdict.
    expect(lines.slice(0, -1).map((l) => l.split(' ')[1])).toEqual([...VERIFY_STEPS]);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^PASS [a-z-]+ \d+ ms {2}\S/);
    expect(lines.at(-1)).toMatch(new RegExp(`^verify: ${VERIFY_STEPS.length} steps passed in`));
    expect(r.code).toBe(0);
    // The steps name what they made; cleanup deleted it.
    const job = /job ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
    await expect(srv.client.getJob(job)).rejects.toMatchObject({ status: 404 });
    const after = await srv.pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM datasets)::int + (SELECT count(*) FROM models)::int AS n`,
    );
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });
});
