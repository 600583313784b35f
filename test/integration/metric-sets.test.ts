/**
 * Metric sets are data: every dataset declares its source, metrics and labels. Generated ones
 * declare the eight metrics and project_id, region; datasets made before the declaration existed
 * get the same from the migration.
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelSetSchema, MetricSetSchema } from '../../src/contract/datasets.js';
import { GENERATOR_LABELS, MAX_METRICS, METRICS } from '../../src/contract/vocabulary.js';
import { getDataset } from '../../src/db/datasets.js';
import { defaultDbDir, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createEmptyDatabase } from '../helpers/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const pools: Pool[] = [];
const dirs: string[] = [];
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The db/ folder with the migrations up to `last` only. */
async function migrationsUpTo(last: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tads-migrations-'));
  dirs.push(dir);
  await cp(defaultDbDir(), dir, { recursive: true });
  const folder = join(dir, 'migrations');
  for (const file of await readdir(folder)) if (Number(file.slice(0, 4)) > last) await rm(join(folder, file));
  return dir;
}

describe('a dataset declares its metric set', () => {
  it('generated: the eight metrics and the labels project_id, region, on the wire', async () => {
    const created = await srv.client.createDataset({ host_count: 2, duration_s: 600, name: 'declared' });
    expect(created).toMatchObject({
      source: 'generator',
      metrics: [...METRICS],
      labels: [...GENERATOR_LABELS],
    });
    const again = await srv.client.getDataset(created.id);
    expect(again).toMatchObject({
      source: 'generator',
      metrics: [...METRICS],
      labels: [...GENERATOR_LABELS],
    });
  });

  it('made before the declaration existed: the migration gives it the generator set', async () => {
    const pool = createPool(await createEmptyDatabase(), { max: 2 });
    pools.push(pool);
    await migrate(pool, { dir: await migrationsUpTo(4) });
    const id = randomUUID();
    await pool.query(
      `INSERT INTO datasets (id, name, status, params, rows_total, host_count) VALUES ($1, 'old', 'completed', '{}', 0, 1)`,
      [id],
    );
    const result = await migrate(pool);
    expect(result.applied).toContain('0005_dataset_metric_sets');
    expect(await getDataset(pool, id)).toMatchObject({
      source: 'generator',
      metrics: [...METRICS],
      labels: [...GENERATOR_LABELS],
    });
  });
});

describe('metric and label names', () => {
  const issues = (r: { success: boolean; error?: { issues: { message: string }[] } }) =>
    r.success ? [] : r.error!.issues.map((i) => i.message);

  it('take Prometheus and OpenTelemetry names', () => {
    expect(
      MetricSetSchema.safeParse(['cpu', 'node_cpu_seconds_total', 'system.cpu.utilization', 'a:b', '_x'])
        .success,
    ).toBe(true);
    expect(MetricSetSchema.safeParse(Array.from({ length: MAX_METRICS }, (_, i) => `m${i}`)).success).toBe(
      true,
    );
    expect(LabelSetSchema.safeParse([]).success).toBe(true);
  });

  it('refuse bad, reserved, repeated and too many names, saying which', () => {
    expect(issues(MetricSetSchema.safeParse(['1cpu']))).toEqual([
      'a name must match /^[A-Za-z_:][A-Za-z0-9_:.]{0,199}$/ (letters, digits, _ : and .); got "1cpu"',
    ]);
    expect(issues(MetricSetSchema.safeParse(['cpu', 'host_id']))).toEqual([
      '"host_id" is a record field, not a metric or label name',
    ]);
    expect(issues(MetricSetSchema.safeParse(['cpu', 'mem', 'cpu']))).toEqual(['metric "cpu" appears twice']);
    expect(issues(MetricSetSchema.safeParse([]))).toEqual(['a dataset declares at least one metric']);
    expect(
      issues(MetricSetSchema.safeParse(Array.from({ length: MAX_METRICS + 1 }, (_, i) => `m${i}`))),
    ).toEqual(['a dataset declares at most 1024 metrics']);
    expect(issues(LabelSetSchema.safeParse(Array.from({ length: 17 }, (_, i) => `l${i}`)))).toEqual([
      'a dataset declares at most 16 labels',
    ]);
    expect(issues(LabelSetSchema.safeParse(['region', 'region']))).toEqual(['label "region" appears twice']);
    expect(issues(MetricSetSchema.safeParse(['x'.repeat(201)]))).toHaveLength(1);
  });
});
