/**
 * A scoring job survives the death of its server: two real server processes (`tads serve` from
 * the build in dist/) share a database; a job runs on one of them, which is killed with SIGKILL
 * mid-run; the other resumes the job from its checkpoint. The job ends with exactly one score per
 * row and the same alerts as an uninterrupted run of the same model on the same dataset, and at
 * no time do both servers hold the job.
 *
 * Needs the build (`npm run build:ts`; `npm test` builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GenerateParamsInput } from '../../src/core/generator.js';
import { jobScoresPartition } from '../../src/db/job-scores.js';
import { getJob } from '../../src/db/jobs.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { runScoreDatasetJob, submitScoreDatasetJob } from '../../src/jobs/score-dataset.js';
import { trainModel } from '../../src/jobs/training.js';
import { createEmptyDatabase } from '../helpers/db.js';

const MAIN = 'dist/src/cli/main.js';
const OWNER = 'crash-test-owner';
let url: string;
let pool: Pool;
let modelId: string;
let datasetId: string;
const servers: ChildProcess[] = [];

interface Server {
  proc: ChildProcess;
  api: string;
}

/** Starts `tads serve` on ephemeral ports against the test database; resolves once it listens. */
function startServer(): Promise<Server> {
  const proc = spawn(
    process.execPath,
    [MAIN, 'serve', '--json', '--port', '0', '--generator-port', '0', '--db-conn', url],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: url } },
  );
  servers.push(proc);
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { status?: string; api?: string };
      if (msg.status === 'listening' && msg.api) resolve({ proc, api: msg.api });
    });
    proc.once('exit', (code) => reject(new Error(`server exited with ${code} before listening: ${stderr}`)));
  });
}

async function ingest(input: GenerateParamsInput): Promise<string> {
  return (await generateDataset(pool, input, { owner: OWNER })).datasetId;
}

async function storedAlerts(jobId: string): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query<Record<string, unknown>>(
    `SELECT host_id, opened_at, closed_at, peak_score, top_metric, records, suppressed
       FROM alerts WHERE job_id = $1 ORDER BY opened_at, host_id`,
    [jobId],
  );
  return rows;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build:ts first`);
  url = await createEmptyDatabase();
  pool = createPool(url, { max: 6 });
  await migrate(pool);
  const trainId = await ingest({ seed: 1, hostCount: 20, durationS: 3 * 3600, anomalyRate: 0 });
  ({ modelId } = await trainModel(pool, { datasetId: trainId, owner: OWNER }));
  // 43 200 rows: at 100 rows per chunk (a commit each), long enough to be killed mid-run.
  datasetId = await ingest({ seed: 5, hostCount: 30, durationS: 86_400, anomalyRate: 0.02 });
});

afterAll(async () => {
  for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  await pool.end();
});

describe('a job whose server is killed', () => {
  it('is resumed by another server: one score per row, the alerts of an uninterrupted run', async () => {
    // The reference: the same model and dataset, scored without interruption in chunks of the
    // same size (the native scorer's last bit may depend on how rows are batched).
    const reference = await submitScoreDatasetJob(pool, { modelId, datasetId, chunkRows: 100 });
    expect((await runScoreDatasetJob(pool, reference.id, { owner: OWNER })).outcome).toBe('completed');
    const expectedAlerts = await storedAlerts(reference.id);
    expect(expectedAlerts.length).toBeGreaterThan(0);

    // Two servers on one database; the job is submitted to the first.
    const [a, b] = await Promise.all([startServer(), startServer()]);
    const res = await fetch(`${a.api}/jobs/score_dataset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model_id: modelId, dataset_id: datasetId, chunk_rows: 100 }),
    });
    expect(res.status).toBe(202);
    const { id: jobId, rows_total: total } = (await res.json()) as { id: string; rows_total: number };

    // Wait until it is well under way, then kill whichever server holds it.
    let holder: string | null = null;
    for (let i = 0; i < 2000; i++) {
      const job = await getJob(pool, jobId);
      expect(job!.status).not.toBe('completed');
      if (job!.rowsDone >= total / 10 && job!.leaseOwner) {
        holder = job!.leaseOwner;
        break;
      }
      await sleep(10);
    }
    expect(holder).not.toBeNull();
    const pid = Number(holder!.split(':')[1]);
    const [victim, survivor] = pid === a.proc.pid ? [a, b] : [b, a];
    expect(victim.proc.pid).toBe(pid);
    victim.proc.kill('SIGKILL');
    await new Promise((r) => victim.proc.once('exit', r));

    const dead = await getJob(pool, jobId);
    expect(dead).toMatchObject({ status: 'running', leaseOwner: holder });
    expect(dead!.rowsDone).toBeLessThan(total);
    // Never two at once: the survivor did not take the job while its holder was alive.
    expect(dead!.timings.runs).toBe(1);
    // Scores on disk are exactly those of the committed chunks.
    const { rows: partial } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${jobScoresPartition(jobId)}`,
    );
    expect(Number(partial[0]!.n)).toBe(dead!.rowsDone);

    // Let the lease run out now rather than in 15 s; the survivor's reaper resumes the job.
    await pool.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [jobId]);
    let done = dead;
    for (let i = 0; i < 600 && done!.status !== 'completed'; i++) {
      await sleep(100);
      done = await getJob(pool, jobId);
      expect(done!.status).not.toBe('failed');
    }
    expect(done).toMatchObject({ status: 'completed', rowsDone: total });
    expect(done!.timings.runs).toBe(2);
    expect(done!.timings.runStartRows).toBeGreaterThanOrEqual(dead!.rowsDone);

    const { rows } = await pool.query<{ n: string; d: string }>(
      `SELECT count(*) AS n, count(DISTINCT row_id) AS d FROM ${jobScoresPartition(jobId)}`,
    );
    expect(rows[0]).toEqual({ n: String(total), d: String(total) });
    expect(await storedAlerts(jobId)).toEqual(expectedAlerts);

    // The survivor also answers for the job over HTTP.
    const progress = (await (await fetch(`${survivor.api}/jobs/${jobId}/progress`)).json()) as {
      fraction: number;
      status: string;
    };
    expect(progress).toMatchObject({ status: 'completed', fraction: 1 });
    survivor.proc.kill('SIGTERM');
    await new Promise((r) => survivor.proc.once('exit', r));
  });
});
