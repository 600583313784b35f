/**
 * HTTP throughput and latency with wrk (Debian's /usr/bin/wrk, or `wrk` on PATH) on loopback,
 * in one run: `GET /health`, `GET /datasets/:id/summary` and an unfiltered
 * `GET /datasets/:id/timeseries` of the full TADS server, beside a bare uWebSockets.js "hello"
 * server on the same machine as the ceiling. Each wrk run: 2 threads, 64 connections, 10 s,
 * `--latency`.
 *
 * The server runs in a child process (`tads serve`, as `npm start` runs it) on a fresh bench
 * database with one generated dataset: 1,000,000 rows (100 hosts × 10,000 steps of 60 s), or
 * with TADS_BENCH_SCALE=small 28,800 rows (20 hosts × 1 day). The hello server is another child,
 * so neither shares a thread with wrk or with this script.
 *
 * Targets: summary ≥ 50 % of the ceiling's requests/s; p99 ≤ 20 ms. The load average is printed
 * with the table: on a shared machine the figures move with it, so compare runs made back to back.
 *
 * Run: `npm run bench -- http` (or, built, `node --expose-gc dist/bench/http.bench.js`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadavg } from 'node:os';
import { freePort } from '../src/db/embedded.js';
import { benchDatabase, heading, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const HOSTS = small ? 20 : 100;
const STEPS = small ? 1440 : 10_000;
const CONNECTIONS = 64;
const THREADS = 2;
const SECONDS = 10;

/** wrk's path, or undefined when it is not installed. */
function findWrk(): string | undefined {
  if (existsSync('/usr/bin/wrk')) return '/usr/bin/wrk';
  const which = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return which.status === 0 && path ? path : undefined;
}

/** Converts wrk's `1.23ms` / `456.00us` / `1.01s` to milliseconds. */
export function wrkDurationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: ${text}`);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** Requests/s, p50 and p99 (ms) and error counts from wrk's `--latency` output. */
export function parseWrk(out: string): {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
} {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  if (!rps || !p50 || !p99) throw new Error(`cannot read wrk's output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(rps[1]),
    p50: wrkDurationMs(p50[1]!),
    p99: wrkDurationMs(p99[1]!),
    errors: sock ? sock.slice(1).reduce((s, v) => s + Number(v), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

function runWrk(wrk: string, url: string) {
  const res = spawnSync(wrk, [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', url], {
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`wrk failed on ${url}: ${res.stderr}`);
  return parseWrk(res.stdout);
}

/** Waits until `url` answers 200 (or the child exits). */
async function waitReady(url: string, child: ChildProcess, what: string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const wrk = findWrk();
if (!wrk) {
  console.log('\n## HTTP\n\nskipped: wrk is not installed (Debian: apt-get install wrk)\n');
  process.exit(0);
}

const here = dirname(fileURLToPath(import.meta.url));
const mainJs = join(here, '..', 'src', 'cli', 'main.js');
const uwsPath = createRequire(import.meta.url).resolve('@trufflesuite/uws-js-unofficial');
const db = await benchDatabase();
let server: ChildProcess | undefined;
let hello: ChildProcess | undefined;
try {
  // The full server, as `npm start` runs it, in its own process.
  const [apiPort, grpcPort, helloPort] = [await freePort(), await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  let serverLog = '';
  server = spawn(process.execPath, [mainJs, 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      GENERATOR_PORT: String(grpcPort),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  server.stderr!.on('data', (c: Buffer) => {
    serverLog = (serverLog + c.toString()).slice(-4000);
  });
  await waitReady(`${api}/health`, server, `tads serve (${serverLog})`);

  // The ceiling: a bare uWS server answering "hello", in its own process.
  hello = spawn(
    process.execPath,
    [
      '-e',
      `const uws = require(${JSON.stringify(uwsPath)});
       uws.App().get('/*', (res) => { res.end('hello'); })
         .listen('127.0.0.1', ${helloPort}, (s) => { if (!s) process.exit(1); });`,
    ],
    { stdio: 'ignore' },
  );
  await waitReady(`http://127.0.0.1:${helloPort}/`, hello, 'the hello server');

  // One dataset, generated by the server's own generator.
  const created = z.object({ id: z.string() }).parse(
    await (
      await fetch(`${api}/datasets`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ host_count: HOSTS, duration_s: STEPS * 60, interval_s: 60, seed: 11 }),
      })
    ).json(),
  );
  for (;;) {
    const d = z
      .object({ status: z.string(), row_count: z.number() })
      .parse(await (await fetch(`${api}/datasets/${created.id}`)).json());
    if (d.status === 'completed') break;
    if (d.status === 'failed') throw new Error('the bench dataset failed to generate');
    await new Promise((r) => setTimeout(r, 500));
  }
  const summaryUrl = `${api}/datasets/${created.id}/summary`;
  const seriesUrl = `${api}/datasets/${created.id}/timeseries?metrics=cpu_usage&aggs=mean&bucket=1h`;
  // First calls compute (or read) the stats; wrk measures the steady state.
  for (const u of [summaryUrl, seriesUrl]) {
    const r = await fetch(u);
    if (!r.ok) throw new Error(`${u} answered ${r.status}: ${await r.text()}`);
  }

  heading(
    `HTTP (wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s --latency, loopback; dataset ${(HOSTS * STEPS).toLocaleString('en-US')} rows: ${HOSTS} hosts × ${STEPS.toLocaleString('en-US')} steps)`,
  );
  const cases: [string, string][] = [
    ['bare uWS hello (ceiling)', `http://127.0.0.1:${helloPort}/`],
    ['GET /health', `${api}/health`],
    ['GET /datasets/:id/summary', summaryUrl],
    ['GET /datasets/:id/timeseries (cpu_usage mean 1h)', seriesUrl],
  ];
  const rows: Record<string, string | number>[] = [];
  let ceiling = 0;
  for (const [name, url] of cases) {
    const r = runWrk(wrk, url);
    if (ceiling === 0) ceiling = r.rps;
    rows.push({
      endpoint: name,
      'requests/s': r.rps,
      'p50 ms': r.p50,
      'p99 ms': r.p99,
      '% of ceiling': (100 * r.rps) / ceiling,
      'errors / non-2xx': `${r.errors} / ${r.non2xx}`,
    });
  }
  table(rows);
  // The figures depend on what else the machine runs: say how loaded it was.
  console.log(`load average (1 min) after the runs: ${loadavg()[0]!.toFixed(1)}`);
  const summary = rows[2]!;
  console.log(
    `targets: summary ≥ 50 % of the ceiling (${Number(summary['% of ceiling']).toFixed(0)} %), p99 ≤ 20 ms (worst ${Math.max(...rows.slice(1).map((r) => Number(r['p99 ms']))).toFixed(2)} ms)\n`,
  );
} finally {
  await stop(server);
  await stop(hello);
  await db.close();
}
