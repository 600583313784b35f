/**
 * `tads score`: a records file through `POST /inference` and in process with `--model-file` (the
 * two must agree line for line), a dataset as a job followed to its evaluation, and the error
 * paths — bad usage (exit 2, before anything is sent), a malformed record (exit 2, naming its
 * line), an unknown model (exit 1).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScoreFileReport, ScoreJobReport, ScoredRecordLine } from '../../src/cli/commands/score.js';
import { runCli } from '../../src/cli/main.js';
import type { Dataset } from '../../src/contract/datasets.js';
import { INFERENCE_METRICS } from '../../src/contract/inference.js';
import { trainedModel } from '../helpers/api.js';
import { captureIo } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let dir: string;
let modelId: string;
let modelFile: string;
let dataset: Dataset;
let meanRec: Record<string, unknown>;

beforeAll(async () => {
  srv = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'tads-score-'));
  // A small dataset with anomalies and a model trained on it.
  const trained = await trainedModel(srv.client, {
    host_count: 3,
    duration_s: 7200,
    interval_s: 60,
    seed: 11,
  });
  dataset = trained.dataset;
  modelId = trained.model.id;
  modelFile = join(dir, 'model.json');
  writeFileSync(modelFile, JSON.stringify(trained.model.model));
  const doc = trained.model.model as { mean: number[]; scale: number[] };
  meanRec = Object.fromEntries(INFERENCE_METRICS.map((k, j) => [k, doc.mean[j]]));
  meanRec = { host_id: 'h-1', ts: '2024-01-02T00:00:00Z', ...meanRec };
});
afterAll(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Three records: at the model's means, far beyond its scales, and one with a null metric. */
function records(): Record<string, unknown>[] {
  const far: Record<string, unknown> = { ...meanRec, host_id: 'h-2' };
  for (const k of INFERENCE_METRICS) far[k] = (meanRec[k] as number) * 40 + 1000;
  return [meanRec, far, { ...meanRec, host_id: 'h-3', cpu_usage: null }];
}

describe('tads score --file', () => {
  it('exits 2 for bad usage before calling anything', async () => {
    const cases: [string[], string][] = [
      [['score', '--file', 'x.jsonl'], '--model <id> is required'],
      [['score', '--model', modelId], 'give either --file <records> or --dataset <id>'],
      [['score', '--model', 'nope', '--file', 'x.jsonl'], '--model must be a model id (UUID); got "nope"'],
      [['score', '--model', modelId, '--model-file', 'm.json', '--file', 'x'], 'not both'],
      [['score', '--model', modelId, '--file', join(dir, 'missing.jsonl')], 'cannot be read (ENOENT)'],
      [
        ['score', '--model', modelId, '--file', 'x', '--policy', 'smoothed'],
        '--policy and --chunk-rows go with --dataset',
      ],
    ];
    for (const [argv, message] of cases) {
      const c = captureIo();
      expect(await runCli([...argv, '--api', srv.apiUrl], c.io)).toBe(2);
      expect(c.text.err).toContain(message);
    }
  });

  it('exits 2 for a malformed record, naming its line', async () => {
    const file = join(dir, 'bad.jsonl');
    const good = JSON.stringify(meanRec);
    writeFileSync(file, `${good}\n\n${JSON.stringify({ ...meanRec, cpu_usage: 'high' })}\n`);
    const c = captureIo();
    expect(await runCli(['score', '--model', modelId, '--file', file, '--api', srv.apiUrl], c.io)).toBe(2);
    expect(c.text.err).toContain(`${file} line 3: cpu_usage must be a number or null; got "high"`);
  });

  it('exits 1 for a model the API does not know', async () => {
    const file = join(dir, 'one.jsonl');
    writeFileSync(file, JSON.stringify(meanRec) + '\n');
    const c = captureIo();
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(await runCli(['score', '--model', unknown, '--file', file, '--api', srv.apiUrl], c.io)).toBe(1);
    expect(c.text.err).toMatch(/tads score: .*model/);
  });

  it('scores through the API and in process with the same results, line for line', async () => {
    const file = join(dir, 'records.jsonl');
    writeFileSync(
      file,
      records()
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );

    // Through POST /inference, two records per call, results to a file.
    const viaApi = join(dir, 'api.jsonl');
    const a = captureIo();
    const code = await runCli(
      [
        'score',
        '--model',
        modelId,
        '--file',
        file,
        '--out',
        viaApi,
        '--batch-size',
        '2',
        '--api',
        srv.apiUrl,
        '--json',
      ],
      a.io,
    );
    expect(code).toBe(0);
    const summary = JSON.parse(a.text.out) as ScoreFileReport;
    expect(summary).toMatchObject({
      mode: 'api',
      model: modelId,
      records: 3,
      invalid: 1,
      anomalous: 1,
      batches: 2,
    });
    expect(summary.inference_runs).toHaveLength(2);
    const runs = await srv.client.listInferenceRuns({ model_id: modelId });
    expect(runs.items.map((r) => r.id).sort()).toEqual([...summary.inference_runs].sort());
    const lines = readFileSync(viaApi, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ScoredRecordLine);
    expect(lines.map((l) => [l.host_id, l.valid, l.anomalous])).toEqual([
      ['h-1', true, false],
      ['h-2', true, true],
      ['h-3', false, false],
    ]);
    expect(lines[2]).toMatchObject({ fused: null, spe: null, top_metric: null });

    // In process with the model's model.json, results to stdout, summary to stderr.
    const b = captureIo();
    expect(await runCli(['score', '--model-file', modelFile, '--file', file], b.io)).toBe(0);
    expect(
      b.text.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ScoredRecordLine),
    ).toEqual(lines);
    expect(b.text.err).toMatch(
      /\nmodel {6}.*model\.json \(in-process\)\nrecords {4}3\ninvalid {4}1\nanomalous {2}1\n/,
    );
  });

  it('reads a JSON array of records as well', async () => {
    const file = join(dir, 'records.json');
    writeFileSync(file, JSON.stringify(records(), null, 2));
    const c = captureIo();
    expect(await runCli(['score', '--model', modelId, '--file', file, '--api', srv.apiUrl], c.io)).toBe(0);
    const lines = c.text.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ScoredRecordLine);
    expect(lines.map((l) => l.valid)).toEqual([true, true, false]);
    expect(c.text.err).toContain('records    3');
  });
});

describe('tads score --dataset', () => {
  it('runs a scoring job, follows it and prints its evaluation', async () => {
    const c = captureIo();
    const code = await runCli(
      [
        'score',
        '--model',
        modelId,
        '--dataset_id',
        dataset.id,
        '--chunk-rows',
        '100',
        '--api',
        srv.apiUrl,
        '--json',
      ],
      c.io,
    );
    expect(code).toBe(0);
    const r = JSON.parse(c.text.out) as ScoreJobReport;
    expect(r).toMatchObject({
      status: 'completed',
      model_id: modelId,
      dataset_id: dataset.id,
      rows: dataset.row_count,
    });
    expect(r.evaluation).toMatchObject({ job_id: r.job_id, records: dataset.row_count });
    const job = await srv.client.getJob(r.job_id);
    expect(job).toMatchObject({ status: 'completed', chunk_rows: 100, rows_done: dataset.row_count });
  });

  it('prints plain lines with a progress line per tenth when piped', async () => {
    const c = captureIo();
    expect(
      await runCli(['score', '--model', modelId, '--dataset', dataset.id, '--api', srv.apiUrl], c.io),
    ).toBe(0);
    expect(c.text.out).toMatch(/^job {8}[0-9a-f-]{36}\nstatus {5}completed\nrows {7}360\n/);
    expect(c.text.out).toMatch(/\nroc_auc {4}(\d\.\d{4}|n\/a)\n/);
    expect(c.text.err).toMatch(/progress 100% 360\/360 rows/);
  });

  it('exits 1 when the API refuses the job (unknown dataset)', async () => {
    const c = captureIo();
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(await runCli(['score', '--model', modelId, '--dataset', unknown, '--api', srv.apiUrl], c.io)).toBe(
      1,
    );
    expect(c.text.err).toMatch(/^tads score: /);
  });
});
