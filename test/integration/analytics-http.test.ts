/**
 * The analytics routes over real HTTP: answers as the storage layer gives them, 404 and 409 for
 * unknown and unfinished datasets, and every injection attempt in column, metric, metrics, aggs,
 * bucket, range and the ids refused with 400 before any SQL runs.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiDeps } from '../../src/api/deps.js';
import { ApiError, TadsClient } from '../../src/client/index.js';
import { silentLogger } from '../../src/api/deps.js';
import * as analytics from '../../src/api/routes/analytics.js';
import { startApiServer, type ApiServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config/env.js';
import { datasetHistogram, datasetSummary, datasetTimeseries } from '../../src/jobs/analytics.js';
import { HistogramQuerySchema, TimeseriesQuerySchema } from '../../src/contract/analytics.js';
import type { Pool } from '../../src/db/pool.js';
import { createMigratedDatabase, GENERATOR_SET_SQL } from '../helpers/db.js';

let pool: Pool;
let api: ApiServer;
const ds = randomUUID();
const running = randomUUID();

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
  for (const [id, status] of [
    [ds, 'completed'],
    [running, 'running'],
  ] as const) {
    await pool.query(
      `INSERT INTO datasets (id, name, status, params, rows_total, host_count, ${GENERATOR_SET_SQL.columns}) VALUES ($1, 'http', $2, '{}', 0, 1, ${GENERATOR_SET_SQL.values})`,
      [id, status],
    );
    await pool.query(
      `CREATE TABLE "hta_${id.replaceAll('-', '')}" PARTITION OF host_telemetry_archival FOR VALUES IN ('${id}')`,
    );
  }
  await pool.query(
    `INSERT INTO host_telemetry_archival
     SELECT $1, s * 3 + h, timestamptz '2024-01-01' + s * interval '90 s', 'h' || h, 'p' || (h % 2), 'r',
            (s * 7 + h) % 100, 50, 1, 2, 3, 4, 5 + s % 3, 0.5, s % 10 = 0,
            CASE WHEN s % 10 = 0 THEN 'spike' END, CASE WHEN s % 10 = 0 THEN s END
       FROM generate_series(0, 199) s, generate_series(0, 2) h`,
    [ds],
  );
  const deps: ApiDeps = {
    pool,
    config: loadConfig({ port: 0 }, {}),
    owner: 'analytics-http-test',
    generator: {
      generate: () => Promise.reject(new Error('no generation in this test')),
    },
    log: silentLogger,
    version: '0.0.0-test',
  };
  api = await startApiServer({ deps, groups: [analytics] });
});

afterAll(async () => {
  await api?.close();
  await pool?.end();
});

describe('analytics over HTTP', () => {
  it('refuses injection attempts and bad values with 400', async () => {
    const bad = [
      `/datasets/${ds}/topk?column=region;DROP TABLE datasets`,
      `/datasets/${ds}/topk?column=${encodeURIComponent("region' OR '1'='1")}`,
      `/datasets/${ds}/topk?column=region&k=10;`,
      `/datasets/${ds}/topk?column=region&k=0`,
      `/datasets/${ds}/histogram?metric=cpu_usage)`,
      `/datasets/${ds}/histogram?metric=${encodeURIComponent('cpu_usage; DELETE FROM datasets')}`,
      `/datasets/${ds}/histogram?metric=cpu_usage&range=${encodeURIComponent('1,2);--')}`,
      `/datasets/${ds}/histogram?metric=cpu_usage&range=2,1`,
      `/datasets/${ds}/histogram?metric=cpu_usage&range=1,Infinity`,
      `/datasets/${ds}/histogram?metric=cpu_usage&bins=40)%20--`,
      `/datasets/${ds}/histogram?metric=cpu_usage&bins=1001`,
      `/datasets/${ds}/histogram?metric=cpu_usage&host_id=${encodeURIComponent("h1' OR '1'='1")}`,
      `/datasets/${ds}/timeseries?metrics=cpu_usage&aggs=mean&bucket=${encodeURIComponent("1m' --")}`,
      `/datasets/${ds}/timeseries?metrics=${encodeURIComponent('cpu_usage,memory_usage;DROP TABLE datasets')}&aggs=mean&bucket=1h`,
      `/datasets/${ds}/timeseries?metrics=cpu_usage,cpu_usage&aggs=mean&bucket=1h`,
      `/datasets/${ds}/timeseries?metrics=cpu_usage&aggs=${encodeURIComponent("mean,p95'")}&bucket=1h`,
      `/datasets/${ds}/timeseries?metrics=cpu_usage&aggs=mean&bucket=1h&from=${encodeURIComponent("2024-01-01'; --")}`,
      `/datasets/${ds}/timeseries?metrics=cpu_usage&aggs=mean&bucket=1h&from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z`,
      `/datasets/${ds}/timeseries?metrics=cpu_usage&aggs=mean&bucket=1h&sql=1`,
      `/datasets/${encodeURIComponent("1' OR '1'='1")}/summary`,
      `/datasets/${ds}x/summary`,
    ];
    for (const path of bad) {
      const { status, body } = await get(path);
      expect(status, path).toBe(400);
      expect((body.error as { code: string }).code, path).toBe('invalid_input');
    }
    // Nothing was dropped or deleted.
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM datasets');
    expect(rows[0]).toEqual({ n: 2 });
  });

  it('refuses with 400 an explicit range whose bins cannot be represented', async () => {
    // Edges past the largest double (the width times the bin number overflows), or repeated
    // (a width below one step of the doubles per bin).
    for (const [range, bins] of [
      ['-1e307,1e307', 40],
      ['0,1e308', 40],
      ['0,5e-324', 40],
      ['0,5e-324', 2],
    ] as const) {
      for (const host of ['', '&host_id=h1']) {
        const path = `/datasets/${ds}/histogram?metric=cpu_usage&bins=${bins}&range=${range}${host}`;
        const { status, body } = await get(path);
        expect(status, path).toBe(400);
        const error = body.error as { code: string; message: string };
        expect(error.code, path).toBe('invalid_input');
        expect(error.message, path).toMatch(/range/);
        expect(error.message, path).toMatch(/bins/);
      }
    }
    // The same bounds with bins that can be represented are answered.
    expect((await get(`/datasets/${ds}/histogram?metric=cpu_usage&bins=1&range=0,5e-324`)).status).toBe(200);
    expect((await get(`/datasets/${ds}/histogram?metric=cpu_usage&bins=2&range=0,1e308`)).status).toBe(200);
  });

  it('answers 404 for an unknown dataset and 409 for one not completed', async () => {
    expect((await get(`/datasets/${randomUUID()}/summary`)).status).toBe(404);
    const r = await get(`/datasets/${running}/topk?column=region`);
    expect(r.status).toBe(409);
    expect((r.body.error as { code: string }).code).toBe('conflict');
  });

  it('answers what the storage layer computes', async () => {
    const summary = await get(`/datasets/${ds}/summary`);
    expect(summary.status).toBe(200);
    expect(summary.body).toEqual(await datasetSummary(pool, ds));
    expect(summary.body.rows).toBe(600);

    const topk = await get(`/datasets/${ds}/topk?column=host_id&k=2`);
    expect(topk.status).toBe(200);
    expect(topk.body.items).toEqual([
      { value: 'h0', count: 200, share: 200 / 600 },
      { value: 'h1', count: 200, share: 200 / 600 },
    ]);

    const ts = await get(
      `/datasets/${ds}/timeseries?metrics=cpu_usage,latency_ms&aggs=mean,p95,count&bucket=5m&host_id=h2`,
    );
    expect(ts.status).toBe(200);
    expect(ts.body).toEqual(
      await datasetTimeseries(
        pool,
        ds,
        TimeseriesQuerySchema.parse({
          metrics: 'cpu_usage,latency_ms',
          aggs: 'mean,p95,count',
          bucket: '5m',
          host_id: 'h2',
        }),
      ),
    );

    const h = await get(`/datasets/${ds}/histogram?metric=cpu_usage&bins=10&range=p1p99`);
    expect(h.status).toBe(200);
    expect(h.body).toEqual(
      await datasetHistogram(
        pool,
        ds,
        HistogramQuerySchema.parse({ metric: 'cpu_usage', bins: '10', range: 'p1p99' }),
      ),
    );
    expect((h.body.counts as number[]).length).toBe(10);

    // An explicit range and an odd bin number, counted from the stored sorted values: the
    // counts add up with what lies outside to every row.
    const ex = await get(`/datasets/${ds}/histogram?metric=cpu_usage&bins=7&range=20,80`);
    expect(ex.status).toBe(200);
    expect(ex.body).toEqual(
      await datasetHistogram(
        pool,
        ds,
        HistogramQuerySchema.parse({ metric: 'cpu_usage', bins: '7', range: '20,80' }),
      ),
    );
    const counts = ex.body.counts as number[];
    expect(counts.length).toBe(7);
    expect(counts.reduce((a, c) => a + c, 0) + (ex.body.below as number) + (ex.body.above as number)).toBe(
      600,
    );
  });

  it('is answered the same through the typed client, which checks each answer', async () => {
    const client = new TadsClient(api.url);
    expect(await client.summary(ds)).toEqual((await get(`/datasets/${ds}/summary`)).body);
    expect(await client.topk(ds, 'host_id', 2)).toEqual(
      (await get(`/datasets/${ds}/topk?column=host_id&k=2`)).body,
    );
    expect(await client.topk(ds, 'region')).toEqual((await get(`/datasets/${ds}/topk?column=region`)).body);
    expect(
      await client.timeseries(ds, {
        metrics: ['cpu_usage', 'latency_ms'],
        aggs: ['mean', 'count'],
        bucket: '1h',
        host_id: 'h1',
        from: '2024-01-01T01:00:00Z',
      }),
    ).toEqual(
      (
        await get(
          `/datasets/${ds}/timeseries?metrics=cpu_usage,latency_ms&aggs=mean,count&bucket=1h&host_id=h1&from=2024-01-01T01:00:00Z`,
        )
      ).body,
    );
    expect(await client.histogram(ds, { metric: 'cpu_usage', bins: 7, range: '20,80' })).toEqual(
      (await get(`/datasets/${ds}/histogram?metric=cpu_usage&bins=7&range=20,80`)).body,
    );
    const refused = await client.histogram(ds, { metric: 'cpu_usage', bins: 1001 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(400);
  });
});
