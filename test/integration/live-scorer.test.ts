import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTelemetry } from '../../src/core/generator.js';
import { fitPca, type PcaModel } from '../../src/core/pca.js';
import { fnv1a32 } from '../../src/core/sharding.js';
import { METRICS } from '../../src/core/types.js';
import { listAlerts } from '../../src/db/alerts.js';
import type { Pool } from '../../src/db/pool.js';
import { GeneratorClient } from '../../src/generator/client.js';
import { startGeneratorServer, type GeneratorServer } from '../../src/generator/server.js';
import { DbLiveAlertSink, LIVE_SOURCE } from '../../src/scorer/live-alert-store.js';
import { LiveScorer, type LiveBatch } from '../../src/scorer/live-scorer.js';
import { coalesceBatches } from '../../src/scorer/live-source.js';
import { generatedMatrix, storeModel } from '../../bench/lib/fixtures.js';
import { createMigratedDatabase } from '../helpers/db.js';

// A small fleet on a fast, unpaced-enough stream with many anomalies: alerts open within seconds.
const FLEET = { hostCount: 16, seed: 11, intervalS: 10, anomalyRate: 0.1 };

let pool: Pool;
let generator: GeneratorServer;
let model: PcaModel;
let modelId: string;

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
  generator = await startGeneratorServer({ pool, port: 0, owner: 'live-scorer-test' });
  // A model trained on normal-only data of the same fleet, stored as a completed model.
  model = fitPca(generatedMatrix({ ...FLEET, anomalyRate: 0, durationS: 10 * 2000 }));
  modelId = await storeModel(pool, model, 'live-scorer-test');
});

afterAll(async () => {
  await generator?.close();
  await pool?.end();
});

/** Records the host ids a batch stream carries, passing the batches on. */
async function* tap(source: AsyncIterable<LiveBatch>, seen: Set<string>): AsyncGenerator<LiveBatch> {
  for await (const b of source) {
    for (let i = 0; i < b.length; i++) seen.add(b.hostIds[i]!);
    yield b;
  }
}

describe('LiveScorer: bad options', () => {
  it('names the option, what was expected and what arrived', () => {
    expect(() => new LiveScorer({ model, shard: { index: 2, count: 2 } })).toThrow(
      new RangeError('options.shard.index must be an integer in [0, 1]; got 2'),
    );
    expect(() => new LiveScorer({ model, batchSize: 0 })).toThrow(
      new RangeError('options.batchSize must be an integer in [1, 1000000]; got 0'),
    );
  });

  it('refuses a batch before start() when it has a sink', async () => {
    const sink = new DbLiveAlertSink(pool, { modelId, metrics: model.metrics, cooldownMs: 300_000 });
    const scorer = new LiveScorer({ model, sink });
    const batch: LiveBatch = {
      length: 0,
      ts: new Float64Array(0),
      hostIds: [],
      metrics: new Float64Array(0),
    };
    await expect(scorer.ingest(batch)).rejects.toThrow('start() must be called before ingest()');
  });
});

describe('two live scorers against the generator', () => {
  it('cover every host exactly once and store live alerts for injected anomalies', async () => {
    const client = new GeneratorClient(`127.0.0.1:${generator.port}`);
    const seen = [new Set<string>(), new Set<string>()];
    // 40 000 records per shard at 20 000 records/s (telemetry time runs 10 s per step).
    const scorers = [0, 1].map(
      (index) =>
        new LiveScorer({
          model,
          shard: { index, count: 2 },
          batchSize: 500,
          alerts: { intervalS: FLEET.intervalS },
          sink: new DbLiveAlertSink(pool, { modelId, metrics: model.metrics, cooldownMs: 300_000 }),
        }),
    );
    try {
      const stats = await Promise.all(
        scorers.map(async (scorer, index) => {
          await scorer.start();
          const stream = client.streamTelemetry({
            params: FLEET,
            rate: 20_000,
            shardIndex: index,
            shardCount: 2,
            maxRecords: 4000,
          });
          return scorer.run(tap(coalesceBatches(stream, { maxRecords: 500 }), seen[index]!));
        }),
      );

      // Disjoint, complete coverage; each host in the shard its hash names.
      const all = new Set([...seen[0]!, ...seen[1]!]);
      expect(all.size).toBe(FLEET.hostCount);
      expect([...seen[0]!].filter((h) => seen[1]!.has(h))).toEqual([]);
      for (const [index, hosts] of seen.entries()) for (const h of hosts) expect(fnv1a32(h) % 2).toBe(index);
      expect(stats[0]!.records + stats[1]!.records).toBe(8000);
      expect(stats.every((s) => s.foreign === 0 && s.late === 0)).toBe(true);

      // Alerts were raised and stored as live alerts of the model, on the scorer's own hosts.
      const opened = stats[0]!.alertsOpened + stats[1]!.alertsOpened;
      expect(opened).toBeGreaterThan(0);
      const page = await listAlerts(pool, { limit: 1000, source: LIVE_SOURCE });
      expect(page.items).toHaveLength(opened);
      for (const a of page.items) {
        expect(a.modelId).toBe(modelId);
        expect(a.datasetId).toBeNull();
        expect(seen[fnv1a32(a.hostId) % 2]!.has(a.hostId)).toBe(true);
      }
      const open = page.items.filter((a) => a.state === 'open').length;
      expect(open).toBe(stats[0]!.openAlerts + stats[1]!.openAlerts);
    } finally {
      client.close();
    }
  });

  it('resumes the open alerts of its shard after a restart instead of opening new ones', async () => {
    const rowsBefore = (await listAlerts(pool, { limit: 1000, source: LIVE_SOURCE })).items.length;
    const before = await listAlerts(pool, { limit: 1000, source: LIVE_SOURCE, state: 'open' });
    expect(before.items.length).toBeGreaterThan(0);
    const byShard = [0, 1].map((i) => before.items.filter((a) => fnv1a32(a.hostId) % 2 === i));
    const restarted = [0, 1].map(
      (index) =>
        new LiveScorer({
          model,
          shard: { index, count: 2 },
          alerts: { intervalS: FLEET.intervalS },
          sink: new DbLiveAlertSink(pool, { modelId, metrics: model.metrics, cooldownMs: 300_000 }),
        }),
    );
    for (const [i, s] of restarted.entries()) {
      await s.start();
      expect(s.stats().alertsResumed).toBe(byShard[i]!.length);
      expect(
        s
          .openAlerts()
          .map((a) => a.hostId)
          .sort(),
      ).toEqual(byShard[i]!.map((a) => a.hostId).sort());
    }

    // Normal records of every open host, after the last alert: each resumed alert closes after
    // clear_after (5) records and updates its own row — no second row for the host.
    const last = Math.max(...before.items.map((a) => a.openedAt.getTime())) + 3600_000;
    const hosts = before.items.map((a) => a.hostId).sort();
    const normal = generateTelemetry({ ...FLEET, anomalyRate: 0, durationS: 600 });
    const base = normal.hostStats(0).mean;
    for (let step = 0; step < 6; step++) {
      const n = hosts.length;
      const batch: LiveBatch = {
        length: n,
        ts: new Float64Array(n).fill(last + step * 10_000),
        hostIds: hosts,
        metrics: new Float64Array(n * METRICS.length),
      };
      for (let i = 0; i < n; i++) batch.metrics.set(base, i * METRICS.length);
      for (const s of restarted) await s.ingest(batch);
    }
    const after = await listAlerts(pool, { limit: 1000, source: LIVE_SOURCE });
    const closedNow = after.items.filter(
      (a) => hosts.includes(a.hostId) && a.closedAt !== null && a.closedAt.getTime() >= last,
    );
    expect(closedNow.map((a) => a.id).sort()).toEqual(before.items.map((a) => a.id).sort());
    expect(after.items.filter((a) => a.state === 'open')).toEqual([]);
    expect(after.items).toHaveLength(rowsBefore);
  });
});
