import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { generateTelemetry, type GenerateParamsInput } from '../../src/core/generator.js';
import { METRICS } from '../../src/core/types.js';
import { getDataset, markDatasetRunning, reapExpiredDatasets } from '../../src/db/datasets.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import {
  copyTelemetryIn,
  createTelemetryPartition,
  readMetricsChunks,
  telemetryPartitionName,
} from '../../src/db/telemetry.js';
import { ingestDataset, InjectedFailureError, recordDataset } from '../../src/generator/ingest.js';
import { createEmptyDatabase } from '../helpers/db.js';

const D = METRICS.length;
let pool: Pool;

beforeAll(async () => {
  pool = createPool(await createEmptyDatabase());
  await migrate(pool);
});
afterAll(async () => {
  await pool.end();
});

/** Records a pending dataset for these parameters (no rows yet); returns its id. */
async function newDataset(input: GenerateParamsInput): Promise<string> {
  return (await recordDataset(pool, input, 'test-owner')).datasetId;
}

async function partitionCount(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_class WHERE relname LIKE 'host_telemetry_archival_%' AND relkind = 'r'",
  );
  return Number(rows[0]!.n);
}

describe('telemetry storage: bad input', () => {
  it('rejects a dataset id that is not a UUID', () => {
    expect(() => telemetryPartitionName("x'; DROP TABLE datasets; --")).toThrow(ValidationError);
    expect(() => telemetryPartitionName('nope')).toThrow('datasetId must be a UUID; got "nope"');
  });

  it('rejects bad read options', async () => {
    const client = await pool.connect();
    try {
      const it = readMetricsChunks(client, randomUUID(), { fromRowId: -1 })[Symbol.asyncIterator]();
      await expect(it.next()).rejects.toThrow('fromRowId must be a non-negative integer; got -1');
      const it2 = readMetricsChunks(client, randomUUID(), { chunkRows: 0 })[Symbol.asyncIterator]();
      await expect(it2.next()).rejects.toThrow('chunkRows must be an integer in [1, 10000000]; got 0');
    } finally {
      client.release();
    }
  });
});

describe('ingestDataset', () => {
  const params = { seed: 11, hostCount: 7, durationS: 6 * 3600, anomalyRate: 0.05 };

  it('stores every row exactly, completes with the exact count, and reads back in order', async () => {
    const id = await newDataset(params);
    const progress: number[] = [];
    const res = await ingestDataset(pool, {
      datasetId: id,
      params,
      owner: 'test-owner',
      chunkRows: 500,
      progressIntervalMs: 0,
      onProgress: (p) => progress.push(p.rowsDone),
    });
    const data = generateTelemetry(params);
    expect(res.rows).toBe(data.totalRows);
    expect(progress.at(-1)).toBe(data.totalRows);
    expect(progress.length).toBeGreaterThan(2);

    const ds = await getDataset(pool, id);
    expect(ds?.status).toBe('completed');
    expect(ds?.rowCount).toBe(data.totalRows);
    expect(ds?.leaseOwner).toBeNull();

    // Text columns, labels and timestamps, straight from SQL
    const { rows } = await pool.query<{
      row_id: string;
      ts: Date;
      host_id: string;
      region: string;
      project_id: string;
      is_anomaly: boolean;
      anomaly_type: string | null;
      anomaly_episode: number | null;
    }>(
      `SELECT row_id, ts, host_id, region, project_id, is_anomaly, anomaly_type, anomaly_episode
         FROM host_telemetry_archival WHERE dataset_id = $1 ORDER BY row_id`,
      [id],
    );
    expect(rows.length).toBe(data.totalRows);
    let k = 0;
    const mismatches: number[] = [];
    for (const c of data.chunks()) {
      for (let i = 0; i < c.length; i++, k++) {
        const r = rows[k]!;
        const h = data.hosts[c.host[i]!]!;
        const t = c.anomalyType[i]!;
        if (
          Number(r.row_id) !== k ||
          r.ts.getTime() !== c.ts[i] ||
          r.host_id !== h.hostId ||
          r.region !== h.region ||
          r.project_id !== h.projectId ||
          r.is_anomaly !== (c.isAnomaly[i] === 1) ||
          r.anomaly_type !==
            (t < 0
              ? null
              : ['spike', 'drift', 'level_shift', 'stuck', 'noise_burst', 'correlation_break'][t]) ||
          r.anomaly_episode !== (c.anomalyEpisode[i]! < 0 ? null : c.anomalyEpisode[i])
        ) {
          mismatches.push(k);
        }
      }
    }
    expect(mismatches).toEqual([]);

    // Metrics through the binary reader: bit-exact doubles, in row order, in blocks
    const all = new Float64Array(data.totalRows * D);
    for (const c of data.chunks()) all.set(c.metrics, c.firstRowId * D);
    const client = await pool.connect();
    try {
      let next = 0;
      for await (const block of readMetricsChunks(client, id, { chunkRows: 333 })) {
        expect(block.firstRowId).toBe(next);
        expect(block.matrix.cols).toBe(D);
        expect(block.rowIds.length).toBe(block.matrix.rows);
        expect(Array.from(block.rowIds)).toEqual(
          Array.from({ length: block.matrix.rows }, (_, i) => next + i),
        );
        expect(block.matrix.data).toEqual(all.subarray(next * D, (next + block.matrix.rows) * D));
        next += block.matrix.rows;
      }
      expect(next).toBe(data.totalRows);

      // A range, without anomalies
      const labels = new Uint8Array(data.totalRows);
      for (const c of data.chunks()) labels.set(c.isAnomaly, c.firstRowId);
      const got: number[] = [];
      for await (const block of readMetricsChunks(client, id, {
        fromRowId: 100,
        toRowId: 2000,
        excludeAnomalies: true,
      })) {
        got.push(...block.rowIds);
      }
      const want = Array.from({ length: 1900 }, (_, i) => 100 + i).filter((r) => labels[r] === 0);
      expect(want.length).toBeLessThan(1900);
      expect(got).toEqual(want);
    } finally {
      client.release();
    }
  });

  it('a failure injected mid-ingest leaves the dataset failed and no rows behind', async () => {
    const before = await partitionCount();
    const id = await newDataset(params);
    await expect(
      ingestDataset(pool, {
        datasetId: id,
        params,
        owner: 'test-owner',
        chunkRows: 500,
        failAfterRows: 2000,
      }),
    ).rejects.toThrow(InjectedFailureError);
    const ds = await getDataset(pool, id);
    expect(ds?.status).toBe('failed');
    expect(ds?.error).toContain('injected failure after 2000 rows');
    expect(ds?.rowCount).toBe(0);
    const { rows } = await pool.query('SELECT 1 FROM host_telemetry_archival WHERE dataset_id = $1 LIMIT 1', [
      id,
    ]);
    expect(rows).toEqual([]);
    expect(await partitionCount()).toBe(before);
  });

  it('bad parameters fail the dataset with the message', async () => {
    const id = await newDataset({ hostCount: 2 });
    await expect(
      ingestDataset(pool, { datasetId: id, params: { hostCount: -5 }, owner: 'test-owner' }),
    ).rejects.toThrow('hostCount must be an integer in [1, 10000]; got -5');
    const ds = await getDataset(pool, id);
    expect(ds?.status).toBe('failed');
    expect(ds?.error).toBe('hostCount must be an integer in [1, 10000]; got -5');
  });

  it('does not run a dataset whose lease it does not hold', async () => {
    const id = await newDataset({ hostCount: 2 });
    await expect(
      ingestDataset(pool, { datasetId: id, params: { hostCount: 2 }, owner: 'someone-else' }),
    ).rejects.toThrow('is not pending under a lease held by someone-else');
    expect((await getDataset(pool, id))?.status).toBe('pending');
  });

  it('a crash mid-ingest leaves no rows, and the dataset is failed once its lease expires', async () => {
    const before = await partitionCount();
    const id = await newDataset(params);
    await markDatasetRunning(pool, id, 'test-owner');
    const data = generateTelemetry(params, { chunkRows: 500 });
    // The process "dies" mid-COPY: its connection vanishes inside the load's transaction
    const client = await pool.connect();
    client.on('error', () => {}); // the lost connection is expected here
    await client.query('BEGIN');
    const part = await createTelemetryPartition(client, id);
    function* dying() {
      let sent = 0;
      for (const c of data.chunks()) {
        if (sent >= 2000) {
          (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
          return;
        }
        yield c;
        sent += c.length;
      }
    }
    await expect(copyTelemetryIn(client, part, id, data.hosts, dying())).rejects.toThrow();
    client.release(true);
    expect((await getDataset(pool, id))?.status).toBe('running');
    // Nobody renews the lease; once it has expired the reaper fails the dataset
    await pool.query("UPDATE datasets SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [
      id,
    ]);
    await reapExpiredDatasets(pool, 'another-server');
    const ds = await getDataset(pool, id);
    expect(ds).toMatchObject({ status: 'failed', error: 'interrupted', rowCount: 0 });
    const { rows } = await pool.query('SELECT 1 FROM host_telemetry_archival WHERE dataset_id = $1 LIMIT 1', [
      id,
    ]);
    expect(rows).toEqual([]);
    expect(await partitionCount()).toBe(before);
  });
});
