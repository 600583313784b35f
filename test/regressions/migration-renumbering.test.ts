/**
 * Migration numbering gap: db/migrations went 0001 → 0003. The files are now 0001–0004; a
 * database migrated by the release before (0001, 0003, 0004, 0005 recorded) migrates cleanly:
 * nothing is applied again and its records take the new numbers.
 */
import { cp, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultDbDir, loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createEmptyDatabase } from '../helpers/db.js';

const pools: Pool[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshPool(): Promise<Pool> {
  const pool = createPool(await createEmptyDatabase(), { max: 2 });
  pools.push(pool);
  return pool;
}

/** The last migration the release before had (in today's numbering). */
const PREVIOUS_RELEASE_LAST = 4;

/**
 * The db/ folder as the release before laid it out: its migrations (today's 0001–0004, or fewer
 * with `upTo`), every one after 0001 one number up.
 */
async function previousReleaseDir(upTo = PREVIOUS_RELEASE_LAST): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tads-old-migrations-'));
  dirs.push(dir);
  await cp(defaultDbDir(), dir, { recursive: true });
  const folder = join(dir, 'migrations');
  for (const file of (await readdir(folder)).sort().reverse()) {
    const version = Number(file.slice(0, 4));
    if (version > upTo) await rm(join(folder, file));
    else if (version >= 2) {
      await rename(
        join(folder, file),
        join(folder, `${String(version + 1).padStart(4, '0')}${file.slice(4)}`),
      );
    }
  }
  return dir;
}

async function recorded(pool: Pool): Promise<{ version: number; name: string; checksum: string }[]> {
  const { rows } = await pool.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  return rows;
}

describe('migrations renumbered without a gap', () => {
  it('numbers the files 0001, 0002, … with no gap', async () => {
    const versions = (await loadMigrations()).map((m) => m.version);
    expect(versions).toEqual(versions.map((_, i) => i + 1));
  });

  it('migrates a database recorded under the old numbers: nothing re-applied, versions renumbered', async () => {
    const pool = await freshPool();
    const old = await migrate(pool, { dir: await previousReleaseDir() });
    expect(old.applied).toEqual([
      '0001_init',
      '0003_dataset_stats',
      '0004_alerts',
      '0005_dataset_stats_sorted',
    ]);

    // Nothing of the release before is applied again; what came after it is.
    const result = await migrate(pool);
    const files = await loadMigrations();
    expect(result).toEqual({
      applied: files
        .filter((m) => m.version > PREVIOUS_RELEASE_LAST)
        .map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`),
      alreadyApplied: 4,
    });
    expect(await recorded(pool)).toEqual(
      files.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })),
    );
    expect((await migrate(pool)).applied).toEqual([]);
  });

  it('renumbers what a database had applied and applies the rest under the new numbers', async () => {
    const pool = await freshPool();
    await migrate(pool, { dir: await previousReleaseDir(2) });
    expect((await recorded(pool)).map((r) => r.version)).toEqual([1, 3]);

    const result = await migrate(pool);
    expect(result.alreadyApplied).toBe(2);
    expect(result.applied.slice(0, 2)).toEqual(['0003_alerts', '0004_dataset_stats_sorted']);
    expect((await recorded(pool)).map((r) => `${r.version} ${r.name}`).slice(0, 4)).toEqual([
      '1 init',
      '2 dataset_stats',
      '3 alerts',
      '4 dataset_stats_sorted',
    ]);
  });
});
