/**
 * Generate-and-ingest into PostgreSQL, side by side with `psql \copy` of the same rows into the
 * same table (target: ingest ≥ 0.7 × psql), and a 10 000 000-row dataset end to end with the
 * generator's peak RSS (target ≤ 300 MB, flat in the row count: each size runs in a child
 * process of its own so that its peak is its own). TADS_BENCH_SCALE=small shrinks the sizes.
 * Uses DATABASE_URL's server when set, else an embedded PostgreSQL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import type { GenerateParamsInput } from '../src/contract/generator.js';
import { generateTelemetry } from '../src/core/generator.js';
import { ANOMALY_TYPES, METRICS } from '../src/core/types.js';
import { migrate } from '../src/db/migrate.js';
import { createPool } from '../src/db/pool.js';
import { ingestDataset, recordDataset } from '../src/generator/ingest.js';
import { benchDatabase, heading, peakRssMb, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const OWNER = 'bench';

/** Parameters for a dataset of about `rows` rows: 1000 hosts at a 60 s interval. */
function paramsFor(rows: number, seed = 1): GenerateParamsInput {
  const hosts = Math.min(1000, rows);
  return { seed, hostCount: hosts, intervalS: 60, durationS: Math.ceil(rows / hosts) * 60 };
}

/** Child mode: ingest one dataset and report rows, seconds and peak RSS as JSON on stdout. */
async function child(url: string, rows: number): Promise<void> {
  const pool = createPool(url, { max: 3 });
  const { datasetId: id } = await recordDataset(pool, paramsFor(rows, 3), OWNER);
  const res = await ingestDataset(pool, { datasetId: id, params: paramsFor(rows, 3), owner: OWNER });
  await pool.query('DELETE FROM datasets WHERE id = $1', [id]);
  await pool.query(`DROP TABLE IF EXISTS host_telemetry_archival_${id.replaceAll('-', '')}`);
  await pool.end();
  process.stdout.write(JSON.stringify({ rows: res.rows, seconds: res.seconds, peakRssMb: peakRssMb() }));
}

/** Runs this file as a child for one end-to-end size. */
async function runChild(
  url: string,
  rows: number,
): Promise<{ rows: number; seconds: number; peakRssMb: number }> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', url, String(rows)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number];
  if (code !== 0) throw new Error(`end-to-end child for ${rows} rows failed (exit ${code})`);
  return JSON.parse(out) as { rows: number; seconds: number; peakRssMb: number };
}

/** Writes the rows of `input` for `datasetId` as CSV (what psql \copy reads). */
async function writeCsv(path: string, datasetId: string, input: GenerateParamsInput): Promise<number> {
  const data = generateTelemetry(input);
  const out = createWriteStream(path);
  for (const c of data.chunks()) {
    const lines: string[] = [];
    for (let i = 0; i < c.length; i++) {
      const h = data.hosts[c.host[i]!]!;
      const m = Array.from(c.metrics.subarray(i * 8, i * 8 + 8), String).join(',');
      const t = c.anomalyType[i]!;
      const ep = c.anomalyEpisode[i]!;
      lines.push(
        `${datasetId},${c.firstRowId + i},${new Date(c.ts[i]!).toISOString()},${h.hostId},${h.projectId},${h.region},${m},${c.isAnomaly[i] ? 't' : 'f'},${t < 0 ? '' : ANOMALY_TYPES[t]},${ep < 0 ? '' : ep}\n`,
      );
    }
    if (!out.write(lines.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return data.totalRows;
}

async function main(): Promise<void> {
  heading('Generation and ingest (PostgreSQL)');
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 4 });
  try {
    await migrate(pool);

    // 1. Generate-and-ingest against psql \copy of the same rows into the same table
    const cmpRows = small ? 200_000 : 2_000_000;
    const params = paramsFor(cmpRows);
    const { datasetId: ingestId } = await recordDataset(pool, params, OWNER);
    const ing = await ingestDataset(pool, { datasetId: ingestId, params, owner: OWNER });
    const cmp: Record<string, string | number>[] = [
      {
        path: 'TADS generate + binary COPY (+ PK, attach)',
        rows: ing.rows,
        seconds: ing.seconds,
        'rows/s': ing.rows / ing.seconds,
      },
    ];
    const psql = ['/usr/bin/psql', '/usr/local/bin/psql'].find((p) => existsSync(p));
    let ratio: string | number = 'n/a';
    if (psql === undefined) {
      console.log(
        'psql not found: skipping the psql \\copy comparison (install postgresql-client to run it)\n',
      );
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'tads-bench-csv-'));
      try {
        const psqlId = randomUUID();
        const file = join(dir, 'rows.csv');
        const n = await writeCsv(file, psqlId, params);
        // The same table: a partition of host_telemetry_archival, attached with its primary key
        await pool.query(
          `CREATE TABLE host_telemetry_archival_${psqlId.replaceAll('-', '')} PARTITION OF host_telemetry_archival FOR VALUES IN ('${psqlId}')`,
        );
        const t0 = performance.now();
        const res = spawnSync(
          psql,
          [
            db.url,
            '-v',
            'ON_ERROR_STOP=1',
            '-q',
            '-c',
            `\\copy host_telemetry_archival (dataset_id, row_id, ts, host_id, project_id, region, ${METRICS.join(', ')}, is_anomaly, anomaly_type, anomaly_episode) FROM '${file}' WITH (FORMAT csv)`,
          ],
          { stdio: ['ignore', 'ignore', 'inherit'] },
        );
        const seconds = (performance.now() - t0) / 1000;
        if (res.status !== 0) throw new Error(`psql \\copy failed (exit ${res.status})`);
        const { rows } = await pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM host_telemetry_archival WHERE dataset_id = $1',
          [psqlId],
        );
        if (Number(rows[0]!.n) !== n) throw new Error(`psql stored ${rows[0]!.n} rows; expected ${n}`);
        cmp.push({
          path: 'psql \\copy (CSV, same rows, same table)',
          rows: n,
          seconds,
          'rows/s': n / seconds,
        });
        ratio = seconds / ing.seconds;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    table(cmp);
    console.log(
      `ingest / psql speed ratio: ${typeof ratio === 'number' ? ratio.toFixed(2) : ratio} (target ≥ 0.7)\n`,
    );

    // 2. End to end at two sizes, each in its own process: peak RSS must not grow with the rows
    const sizes = small ? [100_000, 1_000_000] : [1_000_000, 10_000_000];
    const e2e: Record<string, string | number>[] = [];
    for (const n of sizes) {
      const r = await runChild(db.url, n);
      e2e.push({
        rows: r.rows,
        seconds: r.seconds,
        'rows/s': r.rows / r.seconds,
        'peak RSS MB': r.peakRssMb,
        'target MB': 300,
      });
    }
    table(e2e);
  } finally {
    await pool.end();
    await db.close();
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, Number(process.argv[4]));
} else {
  await main();
}
