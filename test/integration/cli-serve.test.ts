/**
 * `tads serve --live N` from the build in dist/, as `npm start` runs it: with no model yet the
 * live scorer waits; once a model is trained through the server's API it starts by itself,
 * scores the live fleet and raises live alerts; SIGTERM stops it in order with exit code 0 and its
 * open alerts kept, and a restart resumes exactly those. Bad usage exits 2 before anything starts.
 * `tads migrate`, which serve runs at start, is checked here too: applied once, then up to date.
 *
 * Needs the build (`npm run build:ts`; `npm test` builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { TadsClient } from '../../src/client/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { trainedModel, until } from '../helpers/api.js';
import { captureIo } from '../helpers/cli.js';
import { createEmptyDatabase, unreachableDatabaseUrl } from '../helpers/db.js';

const MAIN = 'dist/src/cli/main.js';
let url: string;
let pool: Pool;
const procs: ChildProcess[] = [];

interface Served {
  proc: ChildProcess;
  api: string;
  /** Resolves with the first stderr log line whose message matches. */
  logged(message: string | RegExp): Promise<Record<string, unknown>>;
  /** Sends SIGTERM; resolves with the exit code and the whole stderr. */
  stop(): Promise<{ code: number | null; stderr: string }>;
}

/** Starts `tads serve` on ephemeral ports against the test database; resolves once it listens. */
function serve(args: string[]): Promise<Served> {
  const proc = spawn(
    process.execPath,
    [MAIN, 'serve', '--json', '--port', '0', '--generator-port', '0', '--db-conn', url, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: url } },
  );
  procs.push(proc);
  let stderr = '';
  const logs: Record<string, unknown>[] = [];
  const waiters: { match: string | RegExp; resolve: (l: Record<string, unknown>) => void }[] = [];
  const matches = (m: string | RegExp, l: Record<string, unknown>) =>
    typeof l.message === 'string' && (typeof m === 'string' ? l.message === m : m.test(l.message));
  createInterface({ input: proc.stderr }).on('line', (line) => {
    stderr += line + '\n';
    if (!line.startsWith('{')) return;
    const log = JSON.parse(line) as Record<string, unknown>;
    logs.push(log);
    for (const w of waiters.filter((w) => matches(w.match, log))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(log);
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { status?: string; api?: string };
      if (msg.status !== 'listening' || !msg.api) return;
      resolve({
        proc,
        api: msg.api,
        logged: (match) =>
          new Promise((res) => {
            const seen = logs.find((l) => matches(match, l));
            if (seen) res(seen);
            else waiters.push({ match, resolve: res });
          }),
        async stop() {
          proc.kill('SIGTERM');
          const code = await exited;
          return { code, stderr };
        },
      });
    });
    void exited.then((code) =>
      reject(new Error(`tads serve exited with ${code} before listening: ${stderr}`)),
    );
  });
}

beforeAll(async () => {
  url = await createEmptyDatabase();
  pool = createPool(url, { max: 2 });
});
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await pool?.end();
});

describe('tads serve', () => {
  it('exits 2 for bad live options before starting anything', async () => {
    for (const [argv, message] of [
      [['serve', '--live', '3', '--model', 'newest'], '--model must be a model id (UUID); got "newest"'],
      [['serve', '--live-interval', '5'], '--live-interval goes with --live <hosts>'],
      [['serve', '--live', '-1'], '--live must be an integer in [0, 10000]'],
      [['serve', '--port', '70000'], '--port must be an integer in [0, 65535]'],
    ] as const) {
      const c = captureIo();
      expect(await runCli([...argv], c.io)).toBe(2);
      expect(c.text.err).toContain(message);
    }
  });

  it('runs the live fleet once a model exists, stops cleanly and resumes its open alerts', async () => {
    // A fleet of 4 hosts at 1 s, half its records in anomaly episodes, so alerts come soon.
    const live = [
      '--live',
      '4',
      '--live-interval',
      '1',
      '--live-anomaly-rate',
      '0.5',
      '--live-report-every',
      '0',
    ];
    const first = await serve(live);
    const waiting = await first.logged('live scoring waits for a completed model');
    expect(waiting).toMatchObject({ level: 'info', model_id: null, retry_s: 5 });

    // Train a model through this server's API; the live scorer picks it up by itself.
    const client = new TadsClient(first.api);
    const { model } = await trainedModel(client, {
      host_count: 4,
      duration_s: 7200,
      interval_s: 60,
      anomaly_rate: 0,
    });
    const modelId = model.id;
    const started = await first.logged('live scoring started');
    expect(started).toMatchObject({
      model_id: modelId,
      hosts: 4,
      interval_s: 1,
      anomaly_rate: 0.5,
      resumed_alerts: 0,
    });

    // Live alerts appear in the API (the Alerts tab's source).
    const alerts = await until(
      () => client.listAlerts({ source: 'live' }),
      (page) => page.items.length > 0,
      200,
    );
    expect(alerts.items[0]).toMatchObject({
      source: 'live',
      model_id: modelId,
      job_id: null,
      dataset_id: null,
    });

    // SIGTERM: the scorer stops first and saves, then the rest; exit code 0.
    const stopped = await first.stop();
    expect(stopped.code).toBe(0);
    const order = stopped.stderr
      .split('\n')
      .filter((l) => /live scoring stopped|^shutting down$|^stopped$/.test(l));
    expect(order.map((l) => (l.startsWith('{') ? 'live' : l))).toEqual(['shutting down', 'live', 'stopped']);
    const final = JSON.parse(order[1]!) as { records: number; alerts_opened: number; open_alerts: number };
    expect(final.records).toBeGreaterThan(0);
    expect(final.alerts_opened).toBeGreaterThan(0);
    const { rows } = await pool.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM alerts WHERE source = 'live' AND state = 'open'`,
    );
    expect(rows[0]!.open).toBe(final.open_alerts);

    // A restart with the same model resumes exactly the open alerts left.
    const second = await serve([...live, '--model', modelId]);
    const resumed = await second.logged('live scoring started');
    expect(resumed).toMatchObject({ model_id: modelId, resumed_alerts: final.open_alerts });
    expect((await second.stop()).code).toBe(0);
  });
});

describe('tads migrate', () => {
  it('applies the migrations to an empty database once, then finds the schema up to date', async () => {
    const fresh = await createEmptyDatabase();
    const a = captureIo();
    expect(await runCli(['migrate', '--db_conn', fresh, '--json'], a.io)).toBe(0);
    const first = JSON.parse(a.text.out) as { applied: string[]; already_applied: number };
    expect(first.applied.length).toBeGreaterThan(0);
    expect(first.applied).toContain('0001_init');
    const b = captureIo();
    expect(await runCli(['migrate', '--db-conn', fresh], b.io)).toBe(0);
    expect(b.text.out).toBe(`schema up to date (${first.applied.length} migrations)\n`);
  });

  it('exits 1 when the database cannot be reached', async () => {
    const c = captureIo();
    expect(await runCli(['migrate', '--db-conn', await unreachableDatabaseUrl()], c.io)).toBe(1);
    expect(c.text.err).toMatch(/^tads migrate: /);
  });
});
