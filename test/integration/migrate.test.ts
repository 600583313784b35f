import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/core/errors.js';
import { defaultDbDir, loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createEmptyDatabase, unreachableDatabaseUrl } from '../helpers/db.js';

const pools: Pool[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshPool(): Promise<Pool> {
  const pool = createPool(await createEmptyDatabase(), { max: 3 });
  pools.push(pool);
  return pool;
}

/** A copy of the project's db/ folder that a test may change. */
async function dbDirCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tads-migrations-'));
  dirs.push(dir);
  await cp(defaultDbDir(), dir, { recursive: true });
  return dir;
}

async function appliedVersions(pool: Pool): Promise<number[]> {
  const { rows } = await pool.query<{ version: number }>(
    'SELECT version FROM schema_migrations ORDER BY version',
  );
  return rows.map((r) => r.version);
}

describe('migrate', () => {
  it('reports an unreachable database as DatabaseUnavailableError', async () => {
    const pool = createPool(await unreachableDatabaseUrl(), { connectionTimeoutMillis: 2000 });
    pools.push(pool);
    await expect(migrate(pool)).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });

  it('rejects a migration file whose name is not NNNN_name.sql', async () => {
    const dir = await dbDirCopy();
    await writeFile(join(dir, 'migrations', 'add-things.sql'), 'SELECT 1');
    await expect(loadMigrations(dir)).rejects.toThrow(/0001_name\.sql; got add-things\.sql/);
  });

  it('applies every migration to an empty database, creating the tables of the design', async () => {
    const pool = await freshPool();
    const all = await loadMigrations();
    const result = await migrate(pool);
    expect(result.applied).toEqual(all.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`));
    expect(result.alreadyApplied).toBe(0);
    const { rows } = await pool.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    expect(rows.map((r) => r.tablename)).toEqual(
      expect.arrayContaining([
        'alert_suppressed_minutes',
        'alerts',
        'datasets',
        'host_telemetry_archival',
        'inference_runs',
        'job_scores',
        'jobs',
        'models',
        'schema_migrations',
      ]),
    );
    expect(await appliedVersions(pool)).toEqual(all.map((m) => m.version));
  });

  it('does nothing when run again', async () => {
    const pool = await freshPool();
    await migrate(pool);
    const again = await migrate(pool);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe((await loadMigrations()).length);
  });

  it('applies each migration once when two runners start at once', async () => {
    const url = await createEmptyDatabase();
    const a = createPool(url, { max: 2 });
    const b = createPool(url, { max: 2 });
    pools.push(a, b);
    const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
    const total = (await loadMigrations()).length;
    expect([...ra.applied, ...rb.applied]).toHaveLength(total);
    expect(ra.applied.length === 0 || rb.applied.length === 0).toBe(true);
    expect(await appliedVersions(a)).toHaveLength(total);
  });

  it('refuses to run when an applied migration was changed', async () => {
    const dir = await dbDirCopy();
    const pool = await freshPool();
    await migrate(pool, { dir });
    await writeFile(join(dir, 'migrations', '0001_init.sql'), '-- edited\nSELECT 1;\n');
    await expect(migrate(pool, { dir })).rejects.toThrow(
      'migration 0001_init was changed after it was applied',
    );
  });

  it('rolls back a failing migration and records nothing for it', async () => {
    const dir = await dbDirCopy();
    const pool = await freshPool();
    await writeFile(
      join(dir, 'migrations', '9998_half_done.sql'),
      'CREATE TABLE half_done (x int);\nSELECT 1 / 0;\n',
    );
    await expect(migrate(pool, { dir })).rejects.toThrow(/migration 9998_half_done failed: division by zero/);
    const { rows } = await pool.query("SELECT to_regclass('half_done') AS t");
    expect(rows[0]).toEqual({ t: null });
    expect(await appliedVersions(pool)).not.toContain(9998);
    // The migrations before it stay applied, and the lock was released: a fixed file applies.
    await writeFile(join(dir, 'migrations', '9998_half_done.sql'), 'CREATE TABLE half_done (x int);\n');
    expect((await migrate(pool, { dir })).applied).toEqual(['9998_half_done']);
  });
});
