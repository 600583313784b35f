/**
 * Dataset scoring jobs against the same-run floor (target: job rows/s ≥ 0.5 × floor rows/s).
 *
 * - floor: a raw binary COPY out of the dataset's row_id + 8 metrics in row_id order, plus a raw
 *   binary COPY in of as many score rows into a durable (logged) partition of `job_scores` with
 *   its primary key — the I/O a job cannot avoid, with no scoring, no chunking, no transactions.
 * - job: `runScoreDatasetJob` with its default chunk size: COPY out, native scoring, COPY in and
 *   checkpoint per chunk in one transaction; the scoring phase's rows/s, and the alert replay's.
 * - memory: the job's peak RSS over the process's RSS before it, sampled at every chunk (flat:
 *   one chunk in memory at a time).
 *
 * 10 000 000 rows (1000 hosts × 10 000 one-minute steps); TADS_BENCH_SCALE=small uses 500 000.
 * Uses DATABASE_URL's server when set, else an embedded PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { CHUNK_ROWS_DEFAULT } from '../src/contract/jobs.js';
import { type GenerateParamsInput } from '../src/contract/generator.js';
import { METRICS } from '../src/core/types.js';
import {
  createJobScoresPartition,
  dropJobScoresPartition,
  encodeScoresBinary,
  jobScoresPartition,
} from '../src/db/job-scores.js';
import { getJob } from '../src/db/jobs.js';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { generateDataset } from '../src/generator/ingest.js';
import { runScoreDatasetJob, submitScoreDatasetJob } from '../src/jobs/score-dataset.js';
import { trainModel } from '../src/jobs/training.js';
import { benchDatabase, heading, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const OWNER = 'bench';
const ROWS = small ? 500_000 : 10_000_000;
const HOSTS = 1000;

async function ingest(pool: Pool, input: GenerateParamsInput): Promise<string> {
  return (await generateDataset(pool, input, { owner: OWNER })).datasetId;
}

/** Raw binary COPY out of row_id + metrics in row_id order; returns seconds. */
async function floorCopyOut(pool: Pool, datasetId: string): Promise<number> {
  const client = await pool.connect();
  try {
    const t0 = performance.now();
    const stream = client.query(
      copyTo(
        `COPY (SELECT row_id, ${METRICS.join(', ')} FROM host_telemetry_archival WHERE dataset_id = '${datasetId}' ORDER BY row_id) TO STDOUT (FORMAT binary)`,
      ),
    );
    await pipeline(
      stream,
      new Writable({
        write(_chunk, _enc, cb) {
          cb();
        },
      }),
    );
    return (performance.now() - t0) / 1000;
  } finally {
    client.release();
  }
}

/** Raw binary COPY in of `rows` score rows into a fresh logged partition; returns seconds. */
async function floorCopyIn(pool: Pool, rows: number): Promise<number> {
  const fakeJob = randomUUID();
  await createJobScoresPartition(pool, fakeJob);
  const client = await pool.connect();
  try {
    // Payload pieces are encoded ahead of the clock: the floor is PostgreSQL's side only.
    const piece = 100_000;
    const buffers: Buffer[] = [];
    const scores = {
      fused: new Float64Array(piece).fill(0.5),
      spe: new Float64Array(piece).fill(0.1),
      t2: new Float64Array(piece).fill(2),
      zMax: new Float64Array(piece).fill(1),
      topMetric: new Int32Array(piece),
      anomalous: new Uint8Array(piece),
    };
    for (let first = 0; first < rows; first += piece) {
      const n = Math.min(piece, rows - first);
      const ids = Float64Array.from({ length: n }, (_, i) => first + i);
      const buf = encodeScoresBinary(fakeJob, ids, scores, n);
      // One COPY stream: keep the header on the first piece and the trailer on the last only.
      const start = first === 0 ? 0 : 19;
      const end = first + n >= rows ? buf.length : buf.length - 2;
      buffers.push(buf.subarray(start, end));
    }
    const t0 = performance.now();
    await pipeline(
      Readable.from(buffers),
      client.query(
        copyFrom(
          `COPY ${jobScoresPartition(fakeJob)} (job_id, row_id, fused, spe, t2, z_max, top_metric, is_anomalous) FROM STDIN (FORMAT binary)`,
        ),
      ),
    );
    return (performance.now() - t0) / 1000;
  } finally {
    client.release();
    await dropJobScoresPartition(pool, fakeJob);
  }
}

async function main(): Promise<void> {
  heading('Dataset scoring jobs (PostgreSQL)');
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 6 });
  try {
    await migrate(pool);
    const trainId = await ingest(pool, { seed: 1, hostCount: 100, durationS: 86_400, anomalyRate: 0 });
    const { modelId } = await trainModel(pool, { datasetId: trainId, owner: OWNER });
    const steps = Math.ceil(ROWS / HOSTS);
    const t0 = performance.now();
    const datasetId = await ingest(pool, { seed: 2, hostCount: HOSTS, intervalS: 60, durationS: steps * 60 });
    console.log(
      `dataset: ${ROWS.toLocaleString('en-US')} rows ingested in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
    await pool.query('CHECKPOINT');

    // The job, sampling RSS at every chunk
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: CHUNK_ROWS_DEFAULT });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss / 2 ** 20;
    let rssMax = rssBefore;
    let scoredAt = 0;
    const started = performance.now();
    const result = await runScoreDatasetJob(pool, job.id, {
      owner: OWNER,
      onProgress: (e) => {
        rssMax = Math.max(rssMax, process.memoryUsage().rss / 2 ** 20);
        if (e.phase === 'alerts') scoredAt = performance.now();
      },
    });
    const ended = performance.now();
    if (result.outcome !== 'completed')
      throw new Error(`job ended ${result.outcome}: ${String(result.error)}`);
    const done = await getJob(pool, job.id);
    await pool.query('CHECKPOINT');

    // Floor, after the job (whose RSS is measured first, before the floor's payload exists)
    const outS = await floorCopyOut(pool, datasetId);
    const inS = await floorCopyIn(pool, ROWS);
    const scoringS = (scoredAt - started) / 1000;
    const replayS = (ended - scoredAt) / 1000;
    const floorRate = ROWS / (outS + inS);
    const jobRate = ROWS / scoringS;

    table([
      { path: 'floor: raw COPY out (row_id + 8 metrics)', rows: ROWS, seconds: outS, 'rows/s': ROWS / outS },
      { path: 'floor: raw COPY in (score rows, logged, PK)', rows: ROWS, seconds: inS, 'rows/s': ROWS / inS },
      { path: 'floor: out + in', rows: ROWS, seconds: outS + inS, 'rows/s': floorRate },
      {
        path: `job: scoring phase (${CHUNK_ROWS_DEFAULT.toLocaleString('en-US')}-row chunks, one transaction each)`,
        rows: ROWS,
        seconds: scoringS,
        'rows/s': jobRate,
      },
      {
        path: 'job: alert replay (stored scores in (ts, host_id) order)',
        rows: ROWS,
        seconds: replayS,
        'rows/s': ROWS / replayS,
      },
    ]);
    table([
      {
        'job / floor': jobRate / floorRate,
        target: '≥ 0.5',
        alerts: result.alerts ?? 0,
        'RSS before (MB)': rssBefore,
        'RSS peak during job (MB)': rssMax,
        'job timings.scoring_ms': done?.timings.scoringMs ?? NaN,
      },
    ]);
  } finally {
    await pool.end();
    await db.close();
  }
}

await main();
