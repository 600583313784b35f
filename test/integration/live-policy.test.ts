/**
 * One detector for live and replayed alerts: the live scorer takes any policy a dataset job
 * takes, and over the same records its alerts are the job's replay's (src/scorer/live-scorer.ts,
 * src/jobs/score-dataset.ts, src/core/detector.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent, AlertRecord } from '../../src/core/alerts.js';
import type { PolicyName } from '../../src/core/detector.js';
import { generateTelemetry, type GenerateParamsInput } from '../../src/core/generator.js';
import { fitPca, type PcaModel } from '../../src/core/pca.js';
import type { Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { runScoreDatasetJob, submitScoreDatasetJob } from '../../src/jobs/score-dataset.js';
import { LiveScorer, type LiveAlertSink, type LiveBatch } from '../../src/scorer/live-scorer.js';
import { generatedMatrix, storeModel } from '../../bench/lib/fixtures.js';
import { createMigratedDatabase } from '../helpers/db.js';

const OWNER = 'live-policy-test';
const PARAMS: GenerateParamsInput = {
  seed: 7,
  hostCount: 16,
  durationS: 12 * 3600,
  intervalS: 60,
  anomalyRate: 0.15,
};

let pool: Pool;
let model: PcaModel;
let modelId: string;
let datasetId: string;

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
  // A model of the same fleet's normal records, stored as a completed model.
  model = fitPca(generatedMatrix({ ...PARAMS, anomalyRate: 0 }));
  modelId = await storeModel(pool, model, OWNER);
  ({ datasetId } = await generateDataset(pool, PARAMS, { owner: OWNER }));
});

afterAll(async () => {
  await pool?.end();
});

/** The alerts as comparable rows: host, opened, closed, records, peak, top metric, suppressed. */
type AlertRow = [string, number, number | null, number, number, string | null, boolean];

/** A job's stored alerts, in (opened_at, host_id) order. */
async function jobAlerts(jobId: string): Promise<AlertRow[]> {
  const { rows } = await pool.query<{
    host_id: string;
    opened_ms: number;
    closed_ms: number | null;
    records: number;
    peak_score: number;
    top_metric: string | null;
    suppressed: boolean;
  }>(
    `SELECT host_id, (extract(epoch FROM opened_at) * 1000)::float8 AS opened_ms,
            (extract(epoch FROM closed_at) * 1000)::float8 AS closed_ms, records, peak_score, top_metric, suppressed
       FROM alerts WHERE job_id = $1 ORDER BY opened_at, host_id`,
    [jobId],
  );
  return rows.map((r) => [
    r.host_id,
    r.opened_ms,
    r.closed_ms,
    r.records,
    r.peak_score,
    r.top_metric,
    r.suppressed,
  ]);
}

/** A sink that keeps the last state of every alert in memory. */
function memorySink(): LiveAlertSink & { alerts: Map<number, AlertRecord> } {
  const alerts = new Map<number, AlertRecord>();
  return {
    alerts,
    load: () => Promise.resolve({ openAlerts: [], lastClosed: [] }),
    save(events: readonly AlertEvent[]) {
      for (const e of events) alerts.set(e.alert.id, e.alert);
      return Promise.resolve();
    },
  };
}

/** The dataset's records as live batches, 1,000 records each, as the generator streams them. */
function* liveBatches(): Generator<LiveBatch> {
  const data = generateTelemetry(PARAMS);
  for (const c of data.chunks()) {
    for (let at = 0; at < c.length; at += 1000) {
      const end = Math.min(c.length, at + 1000);
      yield {
        length: end - at,
        ts: c.ts.slice(at, end),
        hostIds: Array.from(c.host.subarray(at, end), (h) => data.hosts[h]!.hostId),
        metrics: c.metrics.slice(at * 8, end * 8),
      };
    }
  }
}

describe('live alerts and a job replay of the same records', () => {
  it.each(['smoothed', 'default'] as const)(
    'are the same under the %s policy',
    async (policy: PolicyName) => {
      const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 1500, policy });
      expect((await runScoreDatasetJob(pool, job.id, { owner: OWNER })).outcome).toBe('completed');
      const expected = await jobAlerts(job.id);
      expect(expected.length).toBeGreaterThan(20);

      // Slices of 700 records inside batches of 1,000: batch boundaries must not matter either.
      const sink = memorySink();
      const scorer = new LiveScorer({ model, batchSize: 700, policy, alerts: { intervalS: 60 }, sink });
      await scorer.start();
      for (const batch of liveBatches()) await scorer.ingest(batch);
      const live: AlertRow[] = [...sink.alerts.values()]
        .sort((a, b) => a.openedAt - b.openedAt || (a.hostId < b.hostId ? -1 : 1))
        .map((a) => [
          a.hostId,
          a.openedAt,
          a.closedAt,
          a.records,
          a.peakScore,
          a.topMetric < 0 ? null : model.metrics[a.topMetric]!,
          a.suppressed,
        ]);
      expect(live).toEqual(expected);
    },
  );

  it('differ between the policies (the policy reaches the live scorer)', async () => {
    const opened: number[][] = [];
    for (const policy of ['default', 'smoothed'] as const) {
      const sink = memorySink();
      const scorer = new LiveScorer({ model, policy, alerts: { intervalS: 60 }, sink });
      await scorer.start();
      for (const batch of liveBatches()) await scorer.ingest(batch);
      opened.push([...sink.alerts.values()].map((a) => a.openedAt));
    }
    expect(opened[1]).not.toEqual(opened[0]);
  });
});
