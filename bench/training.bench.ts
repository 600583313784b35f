/**
 * Training from PostgreSQL at scale (1,000,000 and 10,000,000 rows; TADS_BENCH_SCALE=small:
 * 200,000 and 1,000,000), beside a raw COPY of the same rows in the same run.
 *
 * Per size: the dataset is generated into PostgreSQL (1,000 hosts at 60 s); then, on warm
 * caches (one untimed read first):
 * - raw COPY: `COPY (SELECT row_id, <8 metrics> … ORDER BY row_id) TO STDOUT (FORMAT binary)` — the
 *   very statement the trainer streams — read through pg-copy-streams and discarded; and the
 *   same in text format without row_id, for reference;
 * - decoded read: the same rows through readMetricsChunks (decoded into Float64Arrays) and
 *   discarded — the decode's own cost is the difference (raw and decoded alternate twice, the
 *   faster of each counts);
 * - training (`trainModel`, default options, artifact written to a temporary folder) in a child
 *   process of its own, so that its peak RSS is training's alone: the moments pass, the exact
 *   robust statistics' further passes, the limits, the artifact write, the total, rows/s.
 *
 * Targets: decoded read ≤ 1.25 × the raw read; moments pass ≤ 1.25 × the raw (binary) read; whole training ≤ 3 × the raw read; peak
 * RSS ≤ 300 MB at 10,000,000 rows and flat in the row count.
 * Uses DATABASE_URL's server when set, else an embedded PostgreSQL.
 */
import { GENERATOR_METRIC_SET } from '../src/contract/vocabulary.js';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { generateParamsToWire, type GenerateParamsInput } from '../src/contract/generator.js';
import { generateTelemetry, parseGenerateParams } from '../src/core/generator.js';
import { METRICS } from '../src/core/types.js';
import { createDataset } from '../src/db/datasets.js';
import { migrate } from '../src/db/migrate.js';
import type { TrainingTimings } from '../src/db/models.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { readMetricsChunks } from '../src/db/telemetry.js';
import { ingestDataset } from '../src/generator/ingest.js';
import { trainModel } from '../src/jobs/training.js';
import { benchDatabase, heading, peakRssMb, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const SIZES = small ? [200_000, 1_000_000] : [1_000_000, 10_000_000];
const OWNER = 'bench';

/** Parameters for `rows` rows: 1,000 hosts at 60 s, the default anomaly mix. */
function paramsFor(rows: number): GenerateParamsInput {
  const hosts = Math.min(1000, rows);
  return { seed: 17, hostCount: hosts, intervalS: 60, durationS: Math.ceil(rows / hosts) * 60 };
}

async function ingest(pool: Pool, input: GenerateParamsInput): Promise<{ id: string; seconds: number }> {
  const params = parseGenerateParams(input);
  const id = randomUUID();
  await createDataset(pool, {
    id,
    name: `training-bench-${params.hostCount}x${params.durationS}`,
    params: generateParamsToWire(params),
    rowsTotal: generateTelemetry(params).totalRows,
    hostCount: params.hostCount,
    ...GENERATOR_METRIC_SET,
    owner: OWNER,
  });
  const res = await ingestDataset(pool, { datasetId: id, params, owner: OWNER });
  return { id, seconds: res.seconds };
}

/** Reads a COPY TO STDOUT to the end, discarding it; returns seconds and bytes. */
async function rawCopy(url: string, sql: string): Promise<{ seconds: number; bytes: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t0 = performance.now();
    let bytes = 0;
    const stream = client.query(copyTo(sql));
    for await (const chunk of stream as AsyncIterable<Buffer>) bytes += chunk.length;
    return { seconds: (performance.now() - t0) / 1000, bytes };
  } finally {
    await client.end();
  }
}

/** Streams the rows through readMetricsChunks (binary COPY decoded into Float64Arrays), discarding them. */
async function decodedRead(url: string, datasetId: string): Promise<{ seconds: number; rows: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t0 = performance.now();
    let rows = 0;
    for await (const chunk of readMetricsChunks(client, datasetId)) rows += chunk.matrix.rows;
    return { seconds: (performance.now() - t0) / 1000, rows };
  } finally {
    await client.end();
  }
}

/** What the child reports. */
interface ChildResult extends TrainingTimings {
  rows: number;
}

/** Child mode: train one dataset and report the timings and peak RSS as JSON on stdout. */
async function child(url: string, datasetId: string): Promise<void> {
  const pool = createPool(url, { max: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'tads-train-bench-'));
  try {
    const res = await trainModel(pool, { datasetId, outputDir: dir, owner: `${OWNER}-child` });
    const t = res.timings;
    const out: ChildResult = { rows: res.rows, ...t, peakRssMb: peakRssMb() };
    process.stdout.write(JSON.stringify(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pool.end();
  }
}

async function runChild(url: string, datasetId: string): Promise<ChildResult> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', url, datasetId], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number];
  if (code !== 0) throw new Error(`training child for dataset ${datasetId} failed (exit ${code})`);
  return JSON.parse(out) as ChildResult;
}

async function main(): Promise<void> {
  heading('Training from PostgreSQL');
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 3 });
  const rows: Record<string, string | number>[] = [];
  try {
    await migrate(pool);
    for (const size of SIZES) {
      const { id, seconds: ingestS } = await ingest(pool, paramsFor(size));
      await pool.query('VACUUM ANALYZE host_telemetry_archival');
      const where = `dataset_id = '${id}'`;
      const binarySql = `COPY (SELECT row_id, ${METRICS.join(', ')} FROM host_telemetry_archival WHERE ${where} ORDER BY row_id) TO STDOUT (FORMAT binary)`;
      const textSql = `COPY (SELECT ${METRICS.join(', ')} FROM host_telemetry_archival WHERE ${where} ORDER BY row_id) TO STDOUT`;
      // Warm the caches once, untimed, so that every timed read starts alike.
      await rawCopy(db.url, binarySql);
      // Raw and decoded reads alternate twice; the faster of each pair counts (the machine is shared).
      let raw = Infinity;
      let decoded = Infinity;
      for (let rep = 0; rep < 2; rep++) {
        raw = Math.min(raw, (await rawCopy(db.url, binarySql)).seconds);
        decoded = Math.min(decoded, (await decodedRead(db.url, id)).seconds);
      }
      const rawText = await rawCopy(db.url, textSql);
      const t = await runChild(db.url, id);
      rows.push({
        rows: t.rows,
        'ingest s': ingestS,
        'raw COPY binary s': raw,
        'decoded read s': decoded,
        'decoded ÷ raw': decoded / raw,
        'raw COPY text s': rawText.seconds,
        'moments s': t.momentsS,
        'robust s': t.robustS,
        'limits s': t.limitsS,
        'artifact write s': t.artifactWriteS,
        'total s': t.totalS,
        passes: t.passes,
        'rows/s': t.rowsPerS,
        'moments ÷ raw': t.momentsS / raw,
        'total ÷ raw': t.totalS / raw,
        'peak RSS MB': t.peakRssMb,
      });
      console.error(`training bench: ${t.rows} rows done`);
      // Free the space before the next size.
      await pool.query(`DELETE FROM models WHERE dataset_id = $1`, [id]);
      await pool.query(`DROP TABLE IF EXISTS host_telemetry_archival_${id.replaceAll('-', '')}`);
      await pool.query(`DELETE FROM datasets WHERE id = $1`, [id]);
    }
    table(rows);
    console.log(
      'targets: decoded ÷ raw ≤ 1.25; moments ÷ raw ≤ 1.25; total ÷ raw ≤ 3 (raw = the binary COPY the trainer streams); peak RSS ≤ 300 MB and flat',
    );
  } finally {
    await pool.end();
    await db.close();
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1]!, args[2]!);
else await main();
