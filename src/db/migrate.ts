/**
 * The migration runner: applies `db/init.sql` (the bootstrap), then every `db/migrations/NNNN_name.sql`
 * not yet recorded in `schema_migrations`, once each, in order. Safe at every start and from
 * several processes at once: the whole run holds a PostgreSQL advisory lock, and each migration
 * commits together with its record. Records of migrations that have since been renumbered are
 * moved to their new number first.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { toDatabaseError } from './errors.js';
import type { Pool, PoolClient } from './pool.js';

/** Advisory lock key held while migrating (an arbitrary constant private to TADS). */
export const MIGRATION_LOCK_KEY = 7_041_120_001;

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  /** SHA-256 of the file's text: an applied migration must not change afterwards. */
  checksum: string;
  sql: string;
}

/** What a {@link migrate} run did. */
export interface MigrateResult {
  /** Migrations applied by this run, in order, as `NNNN_name`. */
  applied: string[];
  /** How many were already applied before this run. */
  alreadyApplied: number;
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The folder holding `init.sql` and `migrations/` (default: the package's `db/`). */
  dir?: string;
}

/**
 * Migrations whose number changed: the release before numbered them 0003–0005 (there was no
 * 0002). In order of the new number, so each target is free once the one before has moved.
 */
const RENUMBERED: readonly { from: number; to: number; name: string }[] = [
  { from: 3, to: 2, name: 'dataset_stats' },
  { from: 4, to: 3, name: 'alerts' },
  { from: 5, to: 4, name: 'dataset_stats_sorted' },
];

const AppliedRow = z.object({ version: z.number().int(), name: z.string(), checksum: z.string() });

/**
 * The package's `db/` folder: found by walking up from this module, so it works both from the
 * sources (src/db) and from the build (dist/src/db).
 */
export function defaultDbDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'db', 'init.sql')) && existsSync(join(dir, 'package.json')))
      return join(dir, 'db');
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('cannot find the db/ folder (db/init.sql) above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/**
 * Reads the migrations of `dir/migrations`, sorted by version.
 *
 * @throws Error when a `.sql` file's name is not `NNNN_name.sql` or two files share a version
 */
export async function loadMigrations(dir: string = defaultDbDir()): Promise<Migration[]> {
  const files = (await readdir(join(dir, 'migrations'))).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const m = FILE_NAME.exec(file);
    if (!m) throw new Error(`migration file names must look like 0001_name.sql; got ${file}`);
    const sql = await readFile(join(dir, 'migrations', file), 'utf8');
    migrations.push({
      version: Number(m[1]),
      name: m[2]!,
      checksum: createHash('sha256').update(sql).digest('hex'),
      sql,
    });
  }
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new Error(`two migrations share version ${migrations[i]!.version}`);
    }
  }
  return migrations;
}

const label = (m: { version: number; name: string }) => `${String(m.version).padStart(4, '0')}_${m.name}`;

/**
 * Moves the records of {@link RENUMBERED} migrations to their new number, in one transaction. A
 * record moves only when its name and checksum are those of the file now at the new number and
 * that number is not recorded yet, so a database recorded under either numbering comes out the same.
 */
async function renumberApplied(client: PoolClient, migrations: readonly Migration[]): Promise<void> {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  await client.query('BEGIN');
  try {
    for (const r of RENUMBERED) {
      const file = byVersion.get(r.to);
      if (file?.name !== r.name) continue;
      await client.query(
        `UPDATE schema_migrations SET version = $2
          WHERE version = $1 AND name = $3 AND checksum = $4
            AND NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $2)`,
        [r.from, r.to, r.name, file.checksum],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    // A failed rollback leaves the connection unusable: the unlock after fails too, which discards it.
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Brings the database's schema up to date.
 *
 * Stages: take the advisory lock (waiting for another runner to finish), run the bootstrap, move
 * the records of renumbered migrations to their new number, read what is applied, check that
 * applied migrations are unchanged, apply the rest one transaction each, release the lock.
 *
 * @param pool - the database
 * @param options - where the migrations are
 * @returns what was applied
 * @throws DatabaseUnavailableError when the server cannot be reached; Error when an applied
 *   migration's file has changed, or a migration fails (that migration is rolled back)
 * @example
 * const { applied } = await migrate(pool); // ['0001_init'] on an empty database, [] after
 */
export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const dir = options.dir ?? defaultDbDir();
  const [bootstrap, migrations] = await Promise.all([
    readFile(join(dir, 'init.sql'), 'utf8'),
    loadMigrations(dir),
  ]);

  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw toDatabaseError(err);
  }
  let broken = false;
  try {
    // Lock: a second runner waits here until the first has finished, then finds nothing to do.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(bootstrap);
      await renumberApplied(client, migrations);
      const { rows } = await client.query(
        'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
      );
      const applied = new Map(rows.map((r) => [AppliedRow.parse(r).version, AppliedRow.parse(r)]));

      // Verify: a migration that ran must still be the same file, or databases would diverge.
      for (const m of migrations) {
        const done = applied.get(m.version);
        if (done && done.checksum !== m.checksum) {
          throw new Error(`migration ${label(m)} was changed after it was applied (checksum differs)`);
        }
      }

      // Apply the rest, each with its record in one transaction.
      const result: MigrateResult = { applied: [], alreadyApplied: 0 };
      for (const m of migrations) {
        if (applied.has(m.version)) {
          result.alreadyApplied += 1;
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
          if (err instanceof Error && !broken) err.message = `migration ${label(m)} failed: ${err.message}`;
          throw err;
        }
        result.applied.push(label(m));
      }
      return result;
    } finally {
      if (!broken)
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {
          broken = true;
        });
    }
  } catch (err) {
    throw toDatabaseError(err);
  } finally {
    // A broken connection is discarded (which also frees the session's advisory lock).
    client.release(broken);
  }
}
