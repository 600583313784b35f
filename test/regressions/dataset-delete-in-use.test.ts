/**
 * Fault 14: deleting a dataset that a queued or running scoring job uses, or that a model is
 * being trained from, answered 200 and the job vanished with it. Such a delete is a 409 now.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import { deleteDataset, getDataset } from '../../src/db/datasets.js';
import type { Pool } from '../../src/db/pool.js';
import { createMigratedDatabase, GENERATOR_SET_SQL } from '../helpers/db.js';

let pool: Pool;
beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
});
afterAll(async () => {
  await pool?.end();
});

async function completedDataset(): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO datasets (id, name, status, params, rows_total, host_count, ${GENERATOR_SET_SQL.columns})
     VALUES ($1, 'd', 'completed', '{}', 0, 1, ${GENERATOR_SET_SQL.values})`,
    [id],
  );
  return id;
}

async function model(status: string, datasetId: string | null): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO models (id, name, status, dataset_id, params) VALUES ($1, 'm', $2, $3, '{}')`,
    [id, status, datasetId],
  );
  return id;
}

async function job(status: string, modelId: string, datasetId: string): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO jobs (id, kind, model_id, dataset_id, status, rows_total)
     VALUES ($1, 'score_dataset', $2, $3, $4, 0)`,
    [id, modelId, datasetId, status],
  );
  return id;
}

describe('deleting a dataset in use', () => {
  it.each(['pending', 'running'])('is refused while a scoring job on it is %s', async (status) => {
    const ds = await completedDataset();
    const jobId = await job(status, await model('completed', null), ds);
    const err = await deleteDataset(pool, ds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toMatch(/scoring job/);
    expect(await getDataset(pool, ds)).not.toBeNull();
    const { rowCount } = await pool.query('SELECT 1 FROM jobs WHERE id = $1', [jobId]);
    expect(rowCount).toBe(1);
  });

  it.each(['pending', 'running'])('is refused while a model %s trains from it', async (status) => {
    const ds = await completedDataset();
    await model(status, ds);
    const err = await deleteDataset(pool, ds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toMatch(/trained from/);
    expect(await getDataset(pool, ds)).not.toBeNull();
  });

  it('goes ahead once its jobs and trainings have finished', async () => {
    const ds = await completedDataset();
    const m = await model('completed', ds);
    await job('completed', m, ds);
    await job('failed', m, ds);
    await deleteDataset(pool, ds);
    expect(await getDataset(pool, ds)).toBeNull();
  });
});
