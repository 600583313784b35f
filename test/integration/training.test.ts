/**
 * Training from PostgreSQL (src/jobs/training.ts) against real PostgreSQL: error paths first,
 * then parity with the in-memory library on the same rows, label exclusion, determinism, the
 * atomic artifact, failure without artifact, and reaping of an interrupted training.
 */
import { GENERATOR_METRIC_SET } from '../../src/contract/vocabulary.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../src/core/errors.js';
import type { GenerateParamsInput } from '../../src/core/generator.js';
import { fitPca, PcaModel, type ModelJson } from '../../src/core/pca.js';
import { createDataset } from '../../src/db/datasets.js';
import { createModel, getModel, listModels, reapExpiredModels } from '../../src/db/models.js';
import type { Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { trainModel } from '../../src/jobs/training.js';
import { generatedMatrix } from '../../bench/lib/fixtures.js';
import { createMigratedDatabase } from '../helpers/db.js';

const OWNER = 'training-test-owner';
let pool: Pool;
let dir: string;

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
  dir = mkdtempSync(join(tmpdir(), 'tads-training-test-'));
});

afterAll(async () => {
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
});

/** Creates and ingests a dataset; returns its id. */
async function ingest(input: GenerateParamsInput): Promise<string> {
  return (await generateDataset(pool, input, { owner: OWNER })).datasetId;
}

/** Every numeric leaf of two model documents agrees to `tol` (relative), but for the given keys. */
function expectClose(a: unknown, b: unknown, tol: number, path = '$'): void {
  if (typeof a === 'number' && typeof b === 'number') {
    const scale = Math.max(Math.abs(a), Math.abs(b), 1e-300);
    expect(Math.abs(a - b) / scale, `${path}: ${a} vs ${b}`).toBeLessThanOrEqual(tol);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, `${path}.length`).toBe(b.length);
    a.forEach((v, i) => expectClose(v, b[i], tol, `${path}[${i}]`));
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(a).sort(), `${path} keys`).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(a)) {
      expectClose((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol, `${path}.${k}`);
    }
    return;
  }
  expect(a, path).toEqual(b);
}

/** A model document without the fields that differ between two trainings of the same rows. */
function comparable(m: ModelJson): Omit<ModelJson, 'dataset_id' | 'trained_at' | 'params'> {
  const { dataset_id: _d, trained_at: _t, params: _p, ...rest } = m;
  return rest;
}

// 2,160 rows, 36 of them labelled anomalous.
const SMALL: GenerateParamsInput = {
  seed: 42,
  hostCount: 6,
  durationS: 6 * 3600,
  intervalS: 60,
  anomalyRate: 0.05,
};

describe('trainModel: bad input', () => {
  it('rejects an unknown dataset with NotFoundError and records nothing', async () => {
    const before = (await listModels(pool, { limit: 500 })).items.length;
    const id = randomUUID();
    await expect(trainModel(pool, { datasetId: id, owner: OWNER })).rejects.toThrow(
      new NotFoundError('dataset', id),
    );
    expect((await listModels(pool, { limit: 500 })).items.length).toBe(before);
  });

  it('rejects a dataset that is not completed with ConflictError', async () => {
    const id = randomUUID();
    await createDataset(pool, {
      id,
      name: 'pending',
      params: {},
      rowsTotal: 10,
      hostCount: 1,
      owner: OWNER,
      ...GENERATOR_METRIC_SET,
    });
    const err = await trainModel(pool, { datasetId: id, owner: OWNER }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toBe(
      `dataset ${id} is pending; only a completed dataset can be trained on`,
    );
  });

  it('rejects a dataset with too few rows, naming the counts', async () => {
    const id = await ingest({ seed: 1, hostCount: 1, durationS: 60, intervalS: 60 });
    const err = await trainModel(pool, { datasetId: id, owner: OWNER }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toBe(
      `dataset ${id} has 1 rows; training needs at least 3 (n ≥ 2 and n > k + 1)`,
    );
    const err3 = await trainModel(pool, {
      datasetId: await ingest({ seed: 1, hostCount: 1, durationS: 240, intervalS: 60 }),
      options: { nComponents: 3 },
      owner: OWNER,
    }).catch((e: unknown) => e);
    expect((err3 as Error).message).toMatch(/has 4 rows; training 3 components needs at least 5/);
  });

  it('rejects options out of range, naming the parameter', async () => {
    const id = randomUUID();
    await expect(
      trainModel(pool, { datasetId: id, options: { nComponents: 8 }, owner: OWNER }),
    ).rejects.toThrow('n_components must be an integer in [1, 7]; got 8');
    await expect(
      trainModel(pool, { datasetId: id, options: { variance: 0.9, nComponents: 2 }, owner: OWNER }),
    ).rejects.toThrow('give either variance or n_components, not both');
    await expect(
      trainModel(pool, { datasetId: id, options: { variance: 1.5 }, owner: OWNER }),
    ).rejects.toThrow('variance must be a number in (0, 1]; got 1.5');
    await expect(trainModel(pool, { datasetId: id, options: { alpha: 0.7 }, owner: OWNER })).rejects.toThrow(
      'alpha must be a number in (0, 0.5); got 0.7',
    );
  });
});

describe('trainModel', () => {
  let datasetId: string;
  beforeAll(async () => {
    datasetId = await ingest(SMALL);
  });

  it('equals training the same rows in memory through the library (to 1e-12), and records the model', async () => {
    const phases = new Set<string>();
    const res = await trainModel(pool, {
      datasetId,
      name: 'parity',
      owner: OWNER,
      chunkRows: 1000,
      onProgress: (p) => phases.add(p.phase),
    });
    const mem = fitPca(generatedMatrix(SMALL), { datasetId });
    expect(res.rows).toBe(mem.toJSON().n_samples);
    expectClose(comparable(res.model.toJSON()), comparable(mem.toJSON()), 1e-12);
    expect([...phases]).toEqual(['moments', 'robust', 'limits', 'done']);
    expect(res.timings.passes).toBe(2);
    expect(res.timings.totalS).toBeGreaterThan(0);

    // The second pass done by the database gives the same exact statistics.
    const viaDb = await trainModel(pool, { datasetId, owner: OWNER, secondPass: 'database' });
    expect(viaDb.timings.passes).toBe(2);
    expectClose(comparable(viaDb.model.toJSON()), comparable(mem.toJSON()), 1e-12);
    expect(viaDb.model.toJSON().median).toEqual(res.model.toJSON().median);
    expect(viaDb.model.toJSON().mad).toEqual(res.model.toJSON().mad);

    const row = await getModel(pool, res.modelId);
    expect(row?.status).toBe('completed');
    expect(row?.name).toBe('parity');
    expect(row?.datasetId).toBe(datasetId);
    expect(row?.nSamples).toBe(res.rows);
    expect(row?.artifactPath).toBeNull();
    expect(row?.timings?.passes).toBe(2);
    expect(PcaModel.fromJSON(row?.model).toJSON()).toEqual(res.model.toJSON());
  });

  it('includes labelled anomalies unless told to exclude them, and then uses the same filtered rows', async () => {
    const all = await trainModel(pool, { datasetId, owner: OWNER });
    const normal = await trainModel(pool, { datasetId, excludeLabelledAnomalies: true, owner: OWNER });
    const memAll = generatedMatrix(SMALL);
    const memNormal = generatedMatrix(SMALL, { excludeAnomalies: true });
    expect(memNormal.rows).toBeLessThan(memAll.rows);
    expect(all.rows).toBe(memAll.rows);
    expect(normal.rows).toBe(memNormal.rows);
    expectClose(comparable(normal.model.toJSON()), comparable(fitPca(memNormal).toJSON()), 1e-12);
    expect(normal.model.toJSON().median).not.toEqual(all.model.toJSON().median);
    expect(normal.model.toJSON().params.exclude_labelled_anomalies).toBe(true);
  });

  it('gives the identical model when training the same dataset twice, and under any chunking or memory cap', async () => {
    const a = await trainModel(pool, { datasetId, owner: OWNER, options: { nComponents: 3 } });
    const b = await trainModel(pool, {
      datasetId,
      owner: OWNER,
      options: { nComponents: 3 },
      chunkRows: 1000,
      collectCap: 2,
    });
    expect(b.timings.passes).toBeGreaterThan(2);
    expect(comparable(b.model.toJSON())).toEqual(comparable(a.model.toJSON()));
    expect(a.model.toJSON().n_components).toBe(3);
  });

  it('writes model.json atomically, replacing an older one and leaving no temporary file', async () => {
    const out = join(dir, 'atomic', 'pca');
    const first = await trainModel(pool, {
      datasetId,
      owner: OWNER,
      outputDir: out,
      options: { nComponents: 2 },
    });
    expect(first.artifactPath).toBe(join(out, 'model.json'));
    writeFileSync(join(out, 'model.json'), '{"stale": true}');
    const second = await trainModel(pool, { datasetId, owner: OWNER, outputDir: out });
    expect(readdirSync(out)).toEqual(['model.json']);
    const text = readFileSync(join(out, 'model.json'), 'utf8');
    expect(PcaModel.fromJSON(JSON.parse(text)).toJSON()).toEqual(second.model.toJSON());
    expect((await getModel(pool, second.modelId))?.artifactPath).toBe(second.artifactPath);
    expect(second.timings.artifactWriteS).toBeGreaterThan(0);
  });

  it('leaves a failed model with its error and no artifact when the training fails', async () => {
    const out = join(dir, 'failed');
    const ctl = new AbortController();
    const err = await trainModel(pool, {
      datasetId,
      owner: OWNER,
      outputDir: out,
      signal: ctl.signal,
      // Stop once the artifact is about to be written: it must not survive the failure.
      onProgress: (p) => {
        if (p.phase === 'artifact') ctl.abort(new Error('stopped by the test'));
      },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('stopped by the test');
    expect(existsSync(join(out, 'model.json'))).toBe(false);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    const failed = (await listModels(pool, { limit: 500, status: 'failed' })).items;
    const modelId = failed.find((m) => m.error === 'stopped by the test')?.id;
    const row = await getModel(pool, modelId!);
    expect(row?.status).toBe('failed');
    expect(row?.model).toBeNull();
    expect(row?.artifactPath).toBeNull();
  });

  it('a training left running by a crash is marked failed ("interrupted") once its lease expires', async () => {
    const id = randomUUID();
    await createModel(pool, { id, name: 'crashed', datasetId, params: {}, owner: 'dead-process' });
    await pool.query(`UPDATE models SET status = 'running' WHERE id = $1`, [id]);
    // A live lease is left alone …
    expect(await reapExpiredModels(pool, 'reaper')).toBe(0);
    expect((await getModel(pool, id))?.status).toBe('running');
    // … an expired one is failed.
    await pool.query(`UPDATE models SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    expect(await reapExpiredModels(pool, 'reaper')).toBe(1);
    const row = await getModel(pool, id);
    expect(row?.status).toBe('failed');
    expect(row?.error).toBe('interrupted');
    expect(row?.leaseOwner).toBeNull();
  });
});
