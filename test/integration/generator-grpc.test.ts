import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { DatabaseUnavailableError, ServiceUnavailableError, ValidationError } from '../../src/core/errors.js';
import { generateTelemetry } from '../../src/core/generator.js';
import { ownsHost } from '../../src/core/sharding.js';
import { getDataset } from '../../src/db/datasets.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { readMetricsChunks } from '../../src/db/telemetry.js';
import { GeneratorClient, type GenerateProgress } from '../../src/generator/client.js';
import { loadServices } from '../../src/generator/proto.js';
import { startGeneratorServer, type GeneratorServer } from '../../src/generator/server.js';
import { createEmptyDatabase } from '../helpers/db.js';

let pool: Pool;
let server: GeneratorServer;
let client: GeneratorClient;

beforeAll(async () => {
  pool = createPool(await createEmptyDatabase());
  await migrate(pool);
  server = await startGeneratorServer({ pool, port: 0, owner: 'grpc-test', progressIntervalMs: 0 });
  client = new GeneratorClient(`127.0.0.1:${server.port}`);
});
afterAll(async () => {
  client.close();
  await server.close();
  await pool.end();
});

describe('Generate: bad input', () => {
  it('answers INVALID_ARGUMENT naming the field, and creates nothing', async () => {
    await expect(client.generate({ hostCount: -1 })).rejects.toThrow(ValidationError);
    await expect(client.generate({ hostCount: -1 })).rejects.toThrow(
      'host_count must be an integer in [1, 10000]; got -1',
    );
    await expect(
      client.generate({ hostCount: 10_000, durationS: 366 * 86_400, intervalS: 1 }),
    ).rejects.toThrow('must be at most 100000000');
    await expect(
      client.generate({ anomalyTypes: ['spike', 'meteor'] as unknown as ['spike'] }),
    ).rejects.toThrow('unknown anomaly type "meteor"');
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM datasets');
    expect(rows[0]).toEqual({ n: 0 });
  });

  it('rejects a raw request with conflicting fields', async () => {
    const Raw = loadServices().generator;
    const raw = new Raw(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as {
      Generate(req: unknown): grpc.ClientReadableStream<unknown>;
      close(): void;
    };
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const call = raw.Generate({ params: { region_count: 2, regions: ['a', 'b'] } });
      call.on('data', () => {});
      call.on('error', resolve);
    });
    raw.close();
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toBe('give either regions or region_count, not both');
  });
});

describe('Generate', () => {
  it('returns the dataset id at once, streams progress, and completes with the exact rows', async () => {
    const params = { seed: 4, hostCount: 6, durationS: 12 * 3600, anomalyRate: 0.03 };
    const seen: GenerateProgress[] = [];
    const res = await client.generate(params, { onProgress: (p) => seen.push(p), waitForCompletion: true });
    const expected = generateTelemetry(params);
    expect(seen[0]).toMatchObject({ datasetId: res.datasetId, status: 'pending', rowsDone: 0 });
    expect(seen.at(-1)).toMatchObject({ status: 'completed', rowsDone: expected.totalRows });
    expect(res.status).toBe('completed');
    const ds = await getDataset(pool, res.datasetId);
    expect(ds).toMatchObject({
      status: 'completed',
      rowCount: expected.totalRows,
      rowsTotal: expected.totalRows,
    });
    expect(ds?.params).toMatchObject({ seed: 4, host_count: 6, duration_s: 43_200 });

    // The stored metrics are the generator's, bit for bit
    const want = new Float64Array(expected.totalRows * 8);
    for (const c of expected.chunks()) want.set(c.metrics, c.firstRowId * 8);
    const conn = await pool.connect();
    try {
      const got: number[] = [];
      for await (const b of readMetricsChunks(conn, res.datasetId)) got.push(...b.matrix.data);
      expect(Float64Array.from(got)).toEqual(want);
    } finally {
      conn.release();
    }
  });

  it('resolves as soon as the dataset row exists; the generation goes on without the client', async () => {
    const { datasetId, status } = await client.generate({ hostCount: 3, durationS: 3600 });
    expect(status).toBe('pending');
    // the row exists now, and completes on its own
    expect(await getDataset(pool, datasetId)).not.toBeNull();
    for (let i = 0; i < 200; i++) {
      const ds = await getDataset(pool, datasetId);
      if (ds?.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await getDataset(pool, datasetId)).toMatchObject({ status: 'completed', rowCount: 180 });
  });
});

describe('Generate: failures', () => {
  it('a failure injected mid-ingest leaves the dataset failed and no rows behind', async () => {
    const failing = await startGeneratorServer({
      pool,
      port: 0,
      owner: 'grpc-test-fail',
      failAfterRows: 1000,
    });
    const c = new GeneratorClient(`127.0.0.1:${failing.port}`);
    try {
      const seen: GenerateProgress[] = [];
      await expect(
        c.generate(
          { hostCount: 10, durationS: 86_400 },
          { waitForCompletion: true, onProgress: (p) => seen.push(p) },
        ),
      ).rejects.toThrow('injected failure after');
      const id = seen[0]!.datasetId;
      expect(seen.at(-1)).toMatchObject({ status: 'failed' });
      const ds = await getDataset(pool, id);
      expect(ds?.status).toBe('failed');
      expect(ds?.error).toBe('injected failure after 1000 rows (test hook failAfterRows)');
      const { rows } = await pool.query(
        'SELECT count(*)::int AS n FROM host_telemetry_archival WHERE dataset_id = $1',
        [id],
      );
      expect(rows[0]).toEqual({ n: 0 });
    } finally {
      c.close();
      await failing.close();
    }
  });

  it('a database that is down gives UNAVAILABLE, mapped to DatabaseUnavailableError', async () => {
    const deadPool = createPool('postgres://postgres@127.0.0.1:1/none', { connectionTimeoutMillis: 1000 });
    const dead = await startGeneratorServer({ pool: deadPool, port: 0, owner: 'grpc-test-dead' });
    const c = new GeneratorClient(`127.0.0.1:${dead.port}`);
    try {
      await expect(c.generate({ hostCount: 2 })).rejects.toThrow(DatabaseUnavailableError);
      expect(await c.health('tads.v1.Generator')).toBe('NOT_SERVING');
      expect(await c.health()).toBe('SERVING');
    } finally {
      c.close();
      await dead.close();
      await deadPool.end();
    }
  });

  it('a generator that cannot be reached gives ServiceUnavailableError', async () => {
    const c = new GeneratorClient('127.0.0.1:1');
    try {
      await expect(c.health('', 2000)).rejects.toThrow(ServiceUnavailableError);
    } finally {
      c.close();
    }
  });
});

describe('StreamTelemetry', () => {
  it('rejects a bad shard', async () => {
    const it = client.streamTelemetry({ shardIndex: 3, shardCount: 2 })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow('shard_index must be an integer in [0, 1]; got 3');
  });

  it('streams one shard’s records at the rate, up to max_records', async () => {
    const startMs = Date.UTC(2025, 0, 1);
    const params = { hostCount: 12, intervalS: 10 };
    const records = [];
    for await (const batch of client.streamTelemetry({
      params,
      rate: 2000,
      shardIndex: 1,
      shardCount: 3,
      maxRecords: 40,
      startMs,
    })) {
      records.push(...batch);
    }
    expect(records.length).toBe(40);
    for (const r of records) expect(ownsHost(r.hostId, 1, 3)).toBe(true);
    expect(records[0]!.ts).toBe(new Date(startMs).toISOString());
    expect(Object.keys(records[0]!.metrics)).toHaveLength(8);
  });

  it('health says SERVING for the server and the generator', async () => {
    expect(await client.health()).toBe('SERVING');
    expect(await client.health('tads.v1.Generator')).toBe('SERVING');
    expect(await client.health('no.such.Service')).toBe('SERVICE_UNKNOWN');
  });
});
