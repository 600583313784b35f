/**
 * Online scoring, side by side in one run:
 * - `POST /inference` with 1,000-record batches (4 requests in flight) against a `tads serve`
 *   child process — so this process (the HTTP client) does not share the server's event loop —
 *   next to in-process `scoreRecords` of the same records: the difference is the cost of HTTP,
 *   JSON and validation;
 * - the alert manager's records/s over the same scores;
 * - the live scorer's records/s per shard, with one shard and with two shards at once, fed by
 *   the gRPC generator's unpaced stream (rate 1,000,000 records/s), alerts saved to PostgreSQL.
 *
 * `npm run bench -- inference`; TADS_BENCH_SCALE=small shortens every timed phase.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { AlertManager } from '../src/core/alerts.js';
import { generateTelemetry } from '../src/core/generator.js';
import { fitPca, scoreBatch, type PcaModel } from '../src/core/pca.js';
import { METRICS } from '../src/core/types.js';
import { freePort } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { GeneratorClient } from '../src/generator/client.js';
import { DbLiveAlertSink } from '../src/scorer/live-alert-store.js';
import { LiveScorer, type LiveScorerStats } from '../src/scorer/live-scorer.js';
import { coalesceBatches } from '../src/scorer/live-source.js';
import { scoreRecords } from '../src/scorer/score-records.js';
import { generatedMatrix, storeModel, wireRecords } from './lib/fixtures.js';
import { benchDatabase, heading, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const HTTP_SECONDS = small ? 1 : 4;
const CONCURRENCY = 4;
const BATCH = 1000;
const LIVE_RECORDS = small ? 40_000 : 300_000;
const FLEET = { hostCount: 1000, seed: 5, intervalS: 60, anomalyRate: 0.02 };

/** Starts `tads serve` in a child process on free ports and waits for /health. */
async function startServer(
  databaseUrl: string,
): Promise<{ url: string; generator: string; child: ChildProcess }> {
  const port = await freePort();
  const generatorPort = await freePort();
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      GENERATOR_PORT: String(generatorPort),
      BODY_LIMIT: '8mb',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`tads serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, generator: `127.0.0.1:${generatorPort}`, child };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('tads serve did not become healthy');
}

/** Runs `fn` repeatedly for `seconds`, `concurrency` at a time; returns calls per second. */
async function timed(
  seconds: number,
  concurrency: number,
  fn: () => Promise<void>,
): Promise<{ calls: number; perS: number }> {
  const end = performance.now() + seconds * 1000;
  let calls = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await fn();
        calls += 1;
      }
    }),
  );
  return { calls, perS: calls / ((performance.now() - t0) / 1000) };
}

async function liveRun(
  pool: Pool,
  generator: string,
  modelId: string,
  model: PcaModel,
  count: number,
): Promise<LiveScorerStats[]> {
  await pool.query(`DELETE FROM alerts WHERE source = 'live'`);
  const client = new GeneratorClient(generator);
  try {
    return await Promise.all(
      Array.from({ length: count }, async (_, index) => {
        const scorer = new LiveScorer({
          model,
          shard: { index, count },
          batchSize: 10_000,
          alerts: { intervalS: FLEET.intervalS },
          sink: new DbLiveAlertSink(pool, { modelId, metrics: model.metrics, cooldownMs: 300_000 }),
        });
        await scorer.start();
        const stream = client.streamTelemetry({
          params: FLEET,
          rate: 1_000_000,
          shardIndex: index,
          shardCount: count,
          maxRecords: LIVE_RECORDS,
        });
        return scorer.run(coalesceBatches(stream, { maxRecords: 10_000 }));
      }),
    );
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  heading('Inference and live scoring');
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 8 });
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    await migrate(pool);
    // A model trained on normal data of the live fleet, stored as completed, and 1,000 records
    // of the fleet (with its anomalies) as a client sends them.
    const model = fitPca(generatedMatrix({ ...FLEET, hostCount: 200, anomalyRate: 0, durationS: 60 * 500 }));
    const modelId = await storeModel(pool, model, 'bench');
    const records = wireRecords({ ...FLEET, hostCount: 100, durationS: 60 * 10 }, BATCH);
    const body = JSON.stringify({ model_id: modelId, records });
    server = await startServer(db.url);

    // HTTP: POST /inference, 4 in flight.
    const url = `${server.url}/inference`;
    const post = async () => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 200) throw new Error(`POST /inference answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    };
    await post(); // warm the server's model cache
    const http = await timed(HTTP_SECONDS, CONCURRENCY, post);

    // In process: the same records through the same scoring path (no HTTP, no JSON).
    const metrics = records.map((r) => r as Record<string, number>);
    const inproc = await timed(HTTP_SECONDS, 1, () => {
      scoreRecords(model, metrics);
      return Promise.resolve();
    });

    // The alert manager over scored records of the fleet, in (ts, host_id) order.
    const data = generateTelemetry({ ...FLEET, durationS: 60 * (small ? 200 : 1000) });
    const chunks = [...data.chunks()];
    const hostIds = data.hosts.map((h) => h.hostId);
    const scored = chunks.map((c) => ({
      c,
      out: scoreBatch(model, { rows: c.length, cols: METRICS.length, data: c.metrics }),
    }));
    const manager = new AlertManager({ intervalS: FLEET.intervalS });
    const t0 = performance.now();
    let alerted = 0;
    for (const { c, out } of scored) {
      manager.processBatch(
        { ts: c.ts, hostIds: (i) => hostIds[c.host[i]!]!, fused: out.fused, topMetric: out.topMetric },
        c.length,
      );
      manager.drainEvents();
      alerted += c.length;
    }
    const alertPerS = alerted / ((performance.now() - t0) / 1000);

    table([
      {
        path: 'POST /inference (HTTP + JSON + zod + run row), 4 in flight',
        'records/s': http.perS * BATCH,
        'batches/s': http.perS,
        batches: http.calls,
      },
      {
        path: 'scoreRecords in process (same records)',
        'records/s': inproc.perS * BATCH,
        'batches/s': inproc.perS,
        batches: inproc.calls,
      },
      { path: 'AlertManager.processBatch', 'records/s': alertPerS, 'batches/s': '', batches: scored.length },
    ]);

    // Live scorer: one shard, then two shards at once.
    const rows: Record<string, string | number>[] = [];
    for (const count of [1, 2]) {
      const stats = await liveRun(pool, server.generator, modelId, model, count);
      for (const s of stats) {
        rows.push({
          shards: count,
          shard: s.shard.index,
          records: s.records,
          'records/s': s.recordsPerS,
          'busy share': s.busyMs / 1000 / (s.records / s.recordsPerS),
          'alerts opened': s.alertsOpened,
        });
      }
    }
    table(rows);
    console.log(
      `fleet: ${FLEET.hostCount} hosts, anomaly rate ${FLEET.anomalyRate}; live: ${LIVE_RECORDS} records per shard from the gRPC generator at rate 1,000,000/s, batches of up to 10,000, alerts saved to PostgreSQL. ` +
        `HTTP: ${BATCH}-record bodies of ${(body.length / 1024).toFixed(0)} KiB against a tads serve child process.`,
    );
  } finally {
    if (server) {
      server.child.kill('SIGTERM');
      await new Promise((r) => server!.child.once('exit', r));
    }
    await pool.end();
    await db.close();
  }
}

await main();
