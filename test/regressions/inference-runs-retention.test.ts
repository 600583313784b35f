/**
 * Fault 15c: `inference_runs` grew by one row per request with no retention. The newest
 * `keep` runs are kept; older ones are pruned by the reaper's periodic pass.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { insertInferenceRun, pruneInferenceRuns } from '../../src/db/inference-runs.js';
import type { Pool } from '../../src/db/pool.js';
import { startSystem } from '../../src/server/system.js';
import { createMigratedDatabase } from '../helpers/db.js';

let pool: Pool;
let url: string;
let modelId: string;
beforeAll(async () => {
  ({ pool, url } = await createMigratedDatabase());
  modelId = randomUUID();
  await pool.query(`INSERT INTO models (id, name, status, params) VALUES ($1, 'm', 'completed', '{}')`, [
    modelId,
  ]);
});
afterAll(async () => {
  await pool?.end();
});

async function ids(): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    'SELECT id FROM inference_runs ORDER BY created_at DESC, id DESC',
  );
  return rows.map((r) => r.id);
}

function addRun() {
  return insertInferenceRun(pool, {
    modelId,
    recordCount: 1,
    invalidCount: 0,
    anomalousCount: 0,
    latencyMs: 0.1,
  });
}

describe('inference run retention', () => {
  it('keeps the newest runs and deletes the older ones', async () => {
    const made: string[] = [];
    for (let i = 0; i < 12; i++) {
      const run = await insertInferenceRun(pool, {
        modelId,
        recordCount: 1,
        invalidCount: 0,
        anomalousCount: 0,
        latencyMs: 0.1,
      });
      made.push(run.id);
    }
    const newest = (await ids()).slice(0, 5);
    expect(await pruneInferenceRuns(pool, 5)).toBe(7);
    expect(await ids()).toEqual(newest);
    // Nothing more to prune, and a larger limit prunes nothing
    expect(await pruneInferenceRuns(pool, 5)).toBe(0);
    expect(await pruneInferenceRuns(pool, 100)).toBe(0);
    expect(made).toEqual(expect.arrayContaining(newest));
  });

  it('refuses a limit below 1', async () => {
    await expect(pruneInferenceRuns(pool, 0)).rejects.toThrow(/keep must be an integer/);
  });
});

describe('the server', () => {
  it('prunes to TADS_INFERENCE_RUNS_KEEP on its reaper pass', async () => {
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, generatorPort: 0, databaseUrl: url },
      { TADS_INFERENCE_RUNS_KEEP: '3' },
    );
    expect(config.inferenceRunsKeep).toBe(3);
    const system = await startSystem({ config, reapIntervalMs: 3_600_000 });
    try {
      for (let i = 0; i < 8; i++) await addRun();
      const newest = (await ids()).slice(0, 3);
      await system.reaper.runOnce();
      expect(await ids()).toEqual(newest);
    } finally {
      await system.close();
    }
  });

  it('refuses a TADS_INFERENCE_RUNS_KEEP below 1', () => {
    expect(() => loadConfig({}, { TADS_INFERENCE_RUNS_KEEP: '0' })).toThrow(
      /TADS_INFERENCE_RUNS_KEEP must be/,
    );
  });
});
