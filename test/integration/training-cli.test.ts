/**
 * `tads train` against real PostgreSQL: usage errors (exit 2) first, then a training with the
 * kebab-case flags and one with the seed's underscore spellings and `--json`, which must agree.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { TrainReport } from '../../src/cli/commands/train.js';
import { parseGenerateParams } from '../../src/core/generator.js';
import { PcaModel } from '../../src/core/pca.js';
import { getModel } from '../../src/db/models.js';
import type { Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { captureIo } from '../helpers/cli.js';
import { createMigratedDatabase } from '../helpers/db.js';

const OWNER = 'training-cli-test';
let pool: Pool;
let url: string;
let dir: string;
let datasetId: string;
const PARAMS = parseGenerateParams({
  seed: 9,
  hostCount: 5,
  durationS: 4 * 3600,
  intervalS: 60,
  anomalyRate: 0.05,
});

/** Runs `tads <argv>` in-process; returns the exit code and what went to stdout and stderr. */
async function tads(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await runCli(argv, c.io);
  return { code, ...c.text };
}

beforeAll(async () => {
  ({ pool, url } = await createMigratedDatabase());
  dir = mkdtempSync(join(tmpdir(), 'tads-train-cli-'));
  ({ datasetId } = await generateDataset(pool, PARAMS, { owner: OWNER }));
});

afterAll(async () => {
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
});

describe('tads train: bad usage', () => {
  it('prints its help', async () => {
    const r = await tads('train', '--help');
    expect(r.code).toBe(0);
    for (const flag of [
      '--dataset-id',
      '--db-conn',
      '--output-dir',
      '--variance',
      '--components',
      '--exclude-labelled-anomalies',
    ]) {
      expect(r.out).toContain(flag);
    }
  });

  it('exits 2 naming the flag for a missing, malformed or conflicting flag', async () => {
    let r = await tads('train', '--db-conn', url);
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('--dataset-id is required')]);
    r = await tads('train', '--dataset-id', 'abc', '--db-conn', url);
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('--dataset-id must be a UUID; got "abc"')]);
    r = await tads(
      'train',
      '--dataset-id',
      datasetId,
      '--variance',
      '0.9',
      '--components',
      '2',
      '--db-conn',
      url,
    );
    expect([r.code, r.err]).toEqual([
      2,
      expect.stringContaining('give either --variance or --components, not both'),
    ]);
    r = await tads('train', '--dataset-id', datasetId, '--components', '9', '--db-conn', url);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--components');
    r = await tads(
      'train',
      '--dataset-id',
      datasetId,
      '--variance',
      '1.5',
      '--db-conn',
      url,
      '--output-dir',
      join(dir, 'x'),
    );
    expect([r.code, r.err]).toEqual([
      2,
      expect.stringContaining('variance must be a number in (0, 1]; got 1.5'),
    ]);
  });

  it('exits 1 for an unknown dataset', async () => {
    const id = randomUUID();
    const r = await tads('train', '--dataset-id', id, '--db-conn', url, '--output-dir', join(dir, 'unknown'));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`dataset ${id} not found`);
  });
});

describe('tads train', () => {
  it('trains with either flag spelling, prints the figures, writes model.json and records the model', async () => {
    const kebabDir = join(dir, 'kebab');
    const a = await tads(
      'train',
      '--dataset-id',
      datasetId,
      '--db-conn',
      url,
      '--output-dir',
      kebabDir,
      '--name',
      'cli_v1',
    );
    expect(a.code).toBe(0);
    const rows = PARAMS.hostCount * 240;
    expect(a.out).toContain(`rows processed: ${rows}\n`);
    for (const line of [
      'training time (s): ',
      'artifact write time (s): ',
      'rows/s: ',
      'peak memory (MB): ',
      'moments pass (s): ',
      'robust statistics (s): ',
      'limits (s): ',
    ]) {
      expect(a.out).toContain(line);
    }
    expect(a.out).toContain(`artifact path: ${join(kebabDir, 'model.json')}\n`);
    const modelA = PcaModel.fromJSON(JSON.parse(readFileSync(join(kebabDir, 'model.json'), 'utf8'))).toJSON();

    const seedDir = join(dir, 'seed');
    const b = await tads(
      'train',
      '--dataset_id',
      datasetId,
      '--db_conn',
      url,
      '--output_dir',
      seedDir,
      '--json',
    );
    expect(b.code).toBe(0);
    expect(b.err).toBe('');
    const report = JSON.parse(b.out) as TrainReport;
    expect(report.rows).toBe(rows);
    expect(report.dataset_id).toBe(datasetId);
    expect(report.artifact_path).toBe(join(seedDir, 'model.json'));
    expect(report.passes).toBeGreaterThanOrEqual(2);
    expect(report.training_s).toBeCloseTo(report.moments_s + report.robust_s + report.limits_s, 9);
    const modelB = PcaModel.fromJSON(JSON.parse(readFileSync(report.artifact_path!, 'utf8'))).toJSON();
    const strip = ({ trained_at: _t, ...m }: typeof modelA) => m;
    expect(strip(modelB)).toEqual(strip(modelA));

    const row = await getModel(pool, report.model_id);
    expect(row?.status).toBe('completed');
    expect(row?.artifactPath).toBe(report.artifact_path);
  });

  it('trains without labelled anomalies when asked', async () => {
    const r = await tads(
      'train',
      '--dataset-id',
      datasetId,
      '--db-conn',
      url,
      '--output-dir',
      join(dir, 'normal'),
      '--exclude-labelled-anomalies',
      '--json',
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as TrainReport;
    expect(report.rows).toBeLessThan(PARAMS.hostCount * 240);
  });
});
