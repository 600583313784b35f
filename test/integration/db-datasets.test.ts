import { GENERATOR_METRIC_SET } from '../../src/contract/vocabulary.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConflictError,
  DatabaseUnavailableError,
  NotFoundError,
  ValidationError,
} from '../../src/core/errors.js';
import { computeDatasetStats } from '../../src/jobs/analytics.js';
import {
  createDataset,
  deleteDataset,
  getDataset,
  INTERRUPTED,
  listDatasets,
  markDatasetCompleted,
  markDatasetFailed,
  markDatasetRunning,
  reapExpiredDatasets,
  updateDatasetProgress,
} from '../../src/db/datasets.js';
import { acquireLease, createReaper, heartbeatLease, releaseLease } from '../../src/db/leases.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import {
  attachTelemetryPartition,
  createTelemetryPartition,
  telemetryPartitionName,
} from '../../src/db/telemetry.js';
import { createMigratedDatabase, unreachableDatabaseUrl } from '../helpers/db.js';

let pool: Pool;
beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
});
afterAll(async () => {
  await pool.end();
});

const OWNER = 'server-a';

async function newDataset(owner = OWNER, name = 'ds') {
  return createDataset(pool, {
    id: randomUUID(),
    name,
    params: { host_count: 2, duration_s: 60 },
    rowsTotal: 12,
    hostCount: 2,
    ...GENERATOR_METRIC_SET,
    owner,
  });
}

/** Creates the dataset's telemetry partition with `n` rows, as the ingest would. */
async function addRows(id: string, n: number): Promise<void> {
  await createTelemetryPartition(pool, id);
  await attachTelemetryPartition(pool, id);
  for (let i = 0; i < n; i++) {
    await pool.query(
      `INSERT INTO host_telemetry_archival VALUES ($1, $2, now(), 'h', 'p', 'r', 1, 2, 3, 4, 5, 6, 7, 8, false, NULL, NULL)`,
      [id, i],
    );
  }
}

async function rowsOf(id: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM host_telemetry_archival WHERE dataset_id = $1',
    [id],
  );
  return Number(rows[0]!.n);
}

async function expireLease(id: string): Promise<void> {
  await pool.query("UPDATE datasets SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [id]);
}

describe('dataset repository', () => {
  it('reports an unreachable database as DatabaseUnavailableError', async () => {
    const down = createPool(await unreachableDatabaseUrl(), { connectionTimeoutMillis: 2000 });
    try {
      await expect(getDataset(down, randomUUID())).rejects.toBeInstanceOf(DatabaseUnavailableError);
    } finally {
      await down.end();
    }
  });

  it('rejects a malformed list cursor with a ValidationError naming the cursor', async () => {
    await expect(listDatasets(pool, { limit: 5, cursor: 'not-a-cursor' })).rejects.toThrow(ValidationError);
    await expect(listDatasets(pool, { limit: 5, cursor: 'not-a-cursor' })).rejects.toThrow(/^cursor must be/);
  });

  it('goes pending → running → completed with its exact row count', async () => {
    const d = await newDataset();
    expect(d).toMatchObject({
      status: 'pending',
      rowCount: 0,
      rowsTotal: 12,
      hostCount: 2,
      leaseOwner: OWNER,
    });
    expect(d.leaseExpiresAt!.getTime()).toBeGreaterThan(d.createdAt.getTime());
    expect(d.params).toEqual({ host_count: 2, duration_s: 60 });

    await markDatasetRunning(pool, d.id, OWNER);
    await updateDatasetProgress(pool, d.id, OWNER, 6);
    expect(await getDataset(pool, d.id)).toMatchObject({ status: 'running', rowCount: 6 });
    await markDatasetCompleted(pool, d.id, OWNER, 12, { anomalous_rows: 1 });

    const done = await getDataset(pool, d.id);
    expect(done).toMatchObject({
      status: 'completed',
      rowCount: 12,
      leaseOwner: null,
      stats: { anomalous_rows: 1 },
    });
    expect(done!.startedAt).toBeInstanceOf(Date);
    expect(done!.finishedAt).toBeInstanceOf(Date);
  });

  it('refuses state changes from a process that does not hold the lease', async () => {
    const d = await newDataset();
    await expect(markDatasetRunning(pool, d.id, 'someone-else')).rejects.toBeInstanceOf(ConflictError);
    await markDatasetRunning(pool, d.id, OWNER);
    await expect(updateDatasetProgress(pool, d.id, 'someone-else', 1)).rejects.toBeInstanceOf(ConflictError);
    await expect(markDatasetCompleted(pool, d.id, 'someone-else', 12)).rejects.toBeInstanceOf(ConflictError);
  });

  it('refuses a second dataset with the same id', async () => {
    const d = await newDataset();
    await expect(
      createDataset(pool, {
        id: d.id,
        name: 'x',
        params: {},
        rowsTotal: 1,
        hostCount: 1,
        owner: OWNER,
        ...GENERATOR_METRIC_SET,
      }),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it('fails with its error and none of its rows left', async () => {
    const d = await newDataset();
    await markDatasetRunning(pool, d.id, OWNER);
    await addRows(d.id, 3);
    expect(await rowsOf(d.id)).toBe(3);
    expect(await markDatasetFailed(pool, d.id, 'generator crashed')).toBe(true);
    expect(await getDataset(pool, d.id)).toMatchObject({
      status: 'failed',
      error: 'generator crashed',
      rowCount: 0,
    });
    expect(await rowsOf(d.id)).toBe(0);
    // A finished dataset is left alone.
    expect(await markDatasetFailed(pool, d.id, 'again')).toBe(false);
    expect((await getDataset(pool, d.id))!.error).toBe('generator crashed');
    // And the holder's next progress report learns that its lease is gone.
    await expect(updateDatasetProgress(pool, d.id, OWNER, 4)).rejects.toBeInstanceOf(ConflictError);
  });

  it('removes a partition still being loaded (not yet attached), and leftovers of a cut-short cleanup', async () => {
    const exists = async (id: string) => {
      const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
        telemetryPartitionName(id),
      ]);
      return rows[0]!.t !== null;
    };
    const d = await newDataset();
    await markDatasetRunning(pool, d.id, OWNER);
    await createTelemetryPartition(pool, d.id);
    expect(await exists(d.id)).toBe(true);
    await markDatasetFailed(pool, d.id, 'copy failed');
    expect(await exists(d.id)).toBe(false);

    // A partition that outlived its failed dataset is removed by the reaper's pass.
    await createTelemetryPartition(pool, d.id);
    await reapExpiredDatasets(pool, OWNER);
    expect(await exists(d.id)).toBe(false);
  });

  it('reaps a dataset whose lease expired, and leaves live ones alone', async () => {
    const dead = await newDataset('crashed-server');
    await markDatasetRunning(pool, dead.id, 'crashed-server');
    await addRows(dead.id, 2);
    const live = await newDataset('live-server');
    await markDatasetRunning(pool, live.id, 'live-server');
    await expireLease(dead.id);

    expect(await reapExpiredDatasets(pool, OWNER)).toBe(1);
    expect(await getDataset(pool, dead.id)).toMatchObject({
      status: 'failed',
      error: INTERRUPTED,
      leaseOwner: null,
    });
    expect(await rowsOf(dead.id)).toBe(0);
    expect(await getDataset(pool, live.id)).toMatchObject({ status: 'running', leaseOwner: 'live-server' });
    expect(await reapExpiredDatasets(pool, OWNER)).toBe(0);
  });

  it('deletes a finished dataset with its rows; 404 unknown; 409 while running', async () => {
    const d = await newDataset();
    await markDatasetRunning(pool, d.id, OWNER);
    await expect(deleteDataset(pool, d.id)).rejects.toBeInstanceOf(ConflictError);
    await addRows(d.id, 2);
    await markDatasetCompleted(pool, d.id, OWNER, 2);
    // Its analytics (summary, series, sorted values) go with it.
    await computeDatasetStats(pool, d.id);
    const analytics = async () => {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM dataset_stats WHERE dataset_id = $1)
              + (SELECT count(*) FROM dataset_stats_series WHERE dataset_id = $1)
              + (SELECT count(*) FROM dataset_stats_sorted WHERE dataset_id = $1) AS n`,
        [d.id],
      );
      return Number(rows[0]!.n);
    };
    expect(await analytics()).toBeGreaterThan(8);
    await deleteDataset(pool, d.id);
    expect(await getDataset(pool, d.id)).toBeNull();
    expect(await rowsOf(d.id)).toBe(0);
    expect(await analytics()).toBe(0);
    await expect(deleteDataset(pool, d.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists newest first, page by page, with an opaque cursor', async () => {
    const { pool: own, url: _url } = await createMigratedDatabase();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          (
            await createDataset(own, {
              id: randomUUID(),
              name: `d${i}`,
              params: {},
              rowsTotal: 1,
              hostCount: 1,
              ...GENERATOR_METRIC_SET,
              owner: OWNER,
            })
          ).id,
        );
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await listDatasets(own, { limit: 2, cursor });
        seen.push(...page.items.map((d) => d.name));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor);
      expect(seen).toEqual(['d4', 'd3', 'd2', 'd1', 'd0']);
      expect(pages).toBe(3);
      const running = await listDatasets(own, { limit: 10, status: 'running' });
      expect(running.items).toEqual([]);
    } finally {
      await own.end();
    }
  });
});

describe('leases', () => {
  it('are taken when free or expired, renewed by their holder, and released', async () => {
    const d = await newDataset('holder');
    expect(await acquireLease(pool, 'datasets', d.id, 'other')).toBe(false);
    expect(await heartbeatLease(pool, 'datasets', d.id, 'holder')).toBe(true);
    expect(await heartbeatLease(pool, 'datasets', d.id, 'other')).toBe(false);
    await expireLease(d.id);
    expect(await acquireLease(pool, 'datasets', d.id, 'other')).toBe(true);
    expect(await heartbeatLease(pool, 'datasets', d.id, 'holder')).toBe(false);
    await releaseLease(pool, 'datasets', d.id, 'other');
    expect((await getDataset(pool, d.id))!.leaseOwner).toBeNull();
  });

  it('rejects a table outside the fixed list', async () => {
    await expect(acquireLease(pool, 'users' as 'datasets', randomUUID(), 'x')).rejects.toThrow(
      /table must be one of datasets, models, jobs; got users/,
    );
  });

  it('run registered reap actions through the reaper, reporting failures without stopping', async () => {
    const errors: string[] = [];
    const reaper = createReaper(pool, { owner: OWNER, onError: (name) => errors.push(name) });
    reaper.register('datasets', reapExpiredDatasets);
    reaper.register('broken', () => Promise.reject(new Error('boom')));
    expect(() => reaper.register('datasets', reapExpiredDatasets)).toThrow(/already registered/);
    const d = await newDataset('gone');
    await expireLease(d.id);
    const handled = await reaper.runOnce();
    expect(handled).toEqual({ datasets: 1, broken: 0 });
    expect(errors).toEqual(['broken']);
    expect((await getDataset(pool, d.id))!.status).toBe('failed');
    await reaper.stop();
  });
});
