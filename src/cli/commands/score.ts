/**
 * `tads score`: scores telemetry with a model, in one of three ways.
 *
 * - `--model <id> --file <records>`: through the API's `POST /inference`, in batches (each batch
 *   is recorded as an inference run). Needs a running server.
 * - `--model-file <model.json> --file <records>`: in this process, with the same scoring path as
 *   `POST /inference` (records → matrix → native `scoreBatch`). Needs neither server nor database.
 * - `--model <id> --dataset <id>`: a dataset scoring job through the API, followed with a progress
 *   bar until it is done, then the model's evaluation on that dataset.
 *
 * A records file is JSON lines (one record per line) or one JSON array of records; a record is
 * what `POST /inference` takes: `host_id`, `ts` (RFC 3339) and the eight metrics (a missing or
 * null metric makes the record invalid, not the file). Every record is checked before any is
 * sent; a malformed one is bad usage (exit 2) naming its line. Results are JSON lines, one per
 * record in input order, written to `--out` or else to stdout.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { TadsClient } from '../../client/index.js';
import { Id } from '../../contract/common.js';
import { InferenceRecordWireSchema, INFERENCE_MAX_RECORDS } from '../../contract/inference.js';
import { CHUNK_ROWS_MAX, CHUNK_ROWS_MIN, type JobWire } from '../../contract/jobs.js';
import { POLICY_NAMES, type PolicyName } from '../../contract/vocabulary.js';
import type { EvaluationWire } from '../../contract/evaluation.js';
import type { PcaModel } from '../../core/pca.js';
import { loadModelFile } from '../../scorer/models.js';
import { recordScores, scoreRecords, type RecordScore } from '../../scorer/score-records.js';
import { policyFlag, UsageError, type CommandIo, type CommandSpec, type FlagValues } from '../args.js';
import { createProgress } from '../progress.js';
import { DEFAULT_API } from './generate.js';

/** Records per `POST /inference` call when `--batch-size` is not given. */
export const DEFAULT_SCORE_BATCH = 1000;

/** One record of a records file: its raw JSON object, checked against the wire contract. */
interface FileRecord {
  raw: Record<string, unknown>;
  /** Where it came from, for messages: `records.jsonl line 4` or `records.json record 4`. */
  where: string;
}

/** One line of `tads score --file` output. */
export interface ScoredRecordLine {
  host_id: string;
  ts: string;
  fused: number | null;
  spe: number | null;
  t2: number | null;
  z_max: number | null;
  anomalous: boolean;
  top_metric: string | null;
  valid: boolean;
}

/** The summary of scoring a records file. */
export interface ScoreFileReport {
  /** `api`: through `POST /inference`; `in-process`: with `--model-file`. */
  mode: 'api' | 'in-process';
  /** The model's id (API) or the model file (in process). */
  model: string;
  records: number;
  invalid: number;
  anomalous: number;
  batches: number;
  seconds: number;
  records_per_s: number;
  /** The inference runs the API recorded (API mode). */
  inference_runs: string[];
  /** The results file, or null for stdout. */
  out: string | null;
}

/** The summary of a dataset scoring job. */
export interface ScoreJobReport {
  job_id: string;
  model_id: string;
  dataset_id: string;
  status: JobWire['status'];
  rows: number;
  scoring_s: number;
  alerts_s: number;
  rows_per_s: number | null;
  evaluation: EvaluationWire | null;
  error: string | null;
}

/** Checks one parsed JSON value against the wire contract of a record. */
function checkRecord(value: unknown, where: string): FileRecord {
  const res = InferenceRecordWireSchema.safeParse(value);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    throw new UsageError(`${where}: ${issue.message}`);
  }
  return { raw: value as Record<string, unknown>, where };
}

/**
 * Reads and checks a records file: a JSON array, or JSON lines (blank lines are skipped).
 *
 * @param path - the file
 * @returns the records, in file order
 * @throws UsageError for a file that cannot be read, is empty, or holds a malformed record
 *   (naming its line or index)
 */
export async function readRecordsFile(path: string): Promise<FileRecord[]> {
  // Interpret the format from the first non-blank character.
  let first: string | undefined;
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      first = /\S/.exec(buf.subarray(0, bytesRead).toString('utf8'))?.[0];
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new UsageError(
      `--file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  if (first === undefined) throw new UsageError(`--file ${path} is empty; expected telemetry records`);

  const records: FileRecord[] = [];
  if (first === '[') {
    let values: unknown;
    try {
      values = JSON.parse(await readFile(path, 'utf8'));
    } catch (err) {
      throw new UsageError(`--file ${path} is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(values)) throw new UsageError(`--file ${path} must hold an array of records`);
    values.forEach((v, i) => records.push(checkRecord(v, `${path} record ${i + 1}`)));
  } else {
    const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      n += 1;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new UsageError(`${path} line ${n}: not JSON (${(err as Error).message})`);
      }
      records.push(checkRecord(value, `${path} line ${n}`));
    }
  }
  if (records.length === 0) throw new UsageError(`--file ${path} holds no records`);
  return records;
}

/** A results line from a record and its scores. */
function resultLine(rec: FileRecord, s: Omit<ScoredRecordLine, 'host_id' | 'ts'>): string {
  const line: ScoredRecordLine = {
    host_id: rec.raw.host_id as string,
    ts: rec.raw.ts as string,
    fused: s.fused,
    spe: s.spe,
    t2: s.t2,
    z_max: s.z_max,
    anomalous: s.anomalous,
    top_metric: s.top_metric,
    valid: s.valid,
  };
  return JSON.stringify(line) + '\n';
}

const fromRecordScore = (s: RecordScore): Omit<ScoredRecordLine, 'host_id' | 'ts'> => ({
  fused: s.fused,
  spe: s.spe,
  t2: s.t2,
  z_max: s.zMax,
  anomalous: s.anomalous,
  top_metric: s.topMetric,
  valid: s.valid,
});

/** Writes to a stream, waiting when its buffer is full. */
async function writeAll(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', resolve));
}

/** The summary of a records file as plain lines. */
export function formatScoreFileReport(r: ScoreFileReport): string {
  return [
    `model      ${r.model} (${r.mode})`,
    `records    ${r.records}`,
    `invalid    ${r.invalid}`,
    `anomalous  ${r.anomalous}`,
    `seconds    ${r.seconds.toFixed(3)}`,
    `records/s  ${Math.round(r.records_per_s)}`,
    `results    ${r.out ?? '(stdout)'}`,
    '',
  ].join('\n');
}

const ratio = (v: number | null) => (v === null ? 'n/a' : v.toFixed(4));

/** The summary of a scoring job as plain lines. */
export function formatScoreJobReport(r: ScoreJobReport): string {
  const lines = [
    `job        ${r.job_id}`,
    `status     ${r.status}`,
    `rows       ${r.rows}`,
    `scoring s  ${r.scoring_s.toFixed(3)}`,
    `alerts s   ${r.alerts_s.toFixed(3)}`,
    `rows/s     ${r.rows_per_s === null ? 'n/a' : Math.round(r.rows_per_s)}`,
  ];
  const e = r.evaluation;
  if (e) {
    const o = e.events.overall;
    lines.push(
      `anomalies  ${e.anomalies} of ${e.records} records (${e.invalid_records} invalid)`,
      `precision  ${ratio(e.pointwise.precision)}`,
      `recall     ${ratio(e.pointwise.recall)}`,
      `f1         ${ratio(e.pointwise.f1)}`,
      `roc_auc    ${ratio(e.roc_auc)}`,
      `pr_auc     ${ratio(e.pr_auc)}`,
      `episodes   ${o.detected} of ${o.episodes} found (event recall ${ratio(o.recall)})`,
      `alerts     ${e.events.alerts} (${e.events.false_alerts} false)`,
    );
  }
  return lines.join('\n') + '\n';
}

/** Checks the flags the parser cannot: which way of scoring, and the ids. */
function checkFlags(f: FlagValues): {
  modelId: string | undefined;
  modelFile: string | undefined;
  file: string | undefined;
  datasetId: string | undefined;
} {
  const modelId = (f.model as string | undefined) ?? (f['model-id'] as string | undefined);
  const modelFile = f['model-file'] as string | undefined;
  const file = f.file as string | undefined;
  const datasetId = (f.dataset as string | undefined) ?? (f['dataset-id'] as string | undefined);
  if (f.model !== undefined && f['model-id'] !== undefined && f.model !== f['model-id'])
    throw new UsageError('--model and --model-id name the same model; give one');
  if (f.dataset !== undefined && f['dataset-id'] !== undefined && f.dataset !== f['dataset-id'])
    throw new UsageError('--dataset and --dataset-id name the same dataset; give one');
  if ((file === undefined) === (datasetId === undefined))
    throw new UsageError('give either --file <records> or --dataset <id> (one of them)');
  if (modelId !== undefined && modelFile !== undefined)
    throw new UsageError('give either --model <id> or --model-file <model.json>, not both');
  if (modelId === undefined && modelFile === undefined)
    throw new UsageError('--model <id> is required (or --model-file <model.json> with --file)');
  const model = modelId === undefined ? undefined : Id.safeParse(modelId).data;
  if (modelId !== undefined && model === undefined)
    throw new UsageError(`--model must be a model id (UUID); got ${JSON.stringify(modelId)}`);
  const dataset = datasetId === undefined ? undefined : Id.safeParse(datasetId).data;
  if (datasetId !== undefined) {
    if (dataset === undefined)
      throw new UsageError(`--dataset must be a dataset id (UUID); got ${JSON.stringify(datasetId)}`);
    if (modelFile !== undefined)
      throw new UsageError('--model-file scores a --file in this process; a --dataset needs --model <id>');
    if (f.out !== undefined) throw new UsageError('--out goes with --file (a job keeps its scores)');
  } else {
    if (f.policy !== undefined || f['chunk-rows'] !== undefined)
      throw new UsageError('--policy and --chunk-rows go with --dataset');
  }
  return { modelId: model, modelFile, file, datasetId: dataset };
}

/** Scores a records file through the API or in process; writes results, returns the summary. */
async function scoreFile(
  io: CommandIo,
  args: { file: string; modelId?: string; modelFile?: string; out?: string; batchSize: number; api: string },
): Promise<ScoreFileReport> {
  const records = await readRecordsFile(args.file);
  let model: PcaModel | undefined;
  if (args.modelFile !== undefined) model = await loadModelFile(args.modelFile);
  const client = new TadsClient(args.api);

  const file = args.out === undefined ? null : createWriteStream(args.out);
  if (file !== null) {
    await new Promise<void>((resolve, reject) => {
      file.once('error', (err) => reject(new Error(`--out ${args.out} cannot be written: ${err.message}`)));
      file.once('open', () => resolve());
    });
  }
  const out: NodeJS.WritableStream = file ?? io.out;
  const progress = createProgress({ stream: io.err, unit: 'records', quiet: io.json });
  const report: ScoreFileReport = {
    mode: model ? 'in-process' : 'api',
    model: args.modelId ?? args.modelFile!,
    records: 0,
    invalid: 0,
    anomalous: 0,
    batches: 0,
    seconds: 0,
    records_per_s: 0,
    inference_runs: [],
    out: args.out ?? null,
  };
  const started = performance.now();
  try {
    for (let at = 0; at < records.length; at += args.batchSize) {
      if (io.signal.aborted) throw new Error(`interrupted after ${at} of ${records.length} records`);
      const batch = records.slice(at, at + args.batchSize);
      let lines: string;
      if (model) {
        const scored = scoreRecords(
          model,
          batch.map((r) => r.raw as Record<string, number | null | undefined>),
        );
        report.invalid += scored.invalidCount;
        report.anomalous += scored.anomalousCount;
        lines = recordScores(scored)
          .map((s, i) => resultLine(batch[i]!, fromRecordScore(s)))
          .join('');
      } else {
        const res = await client.inference(
          { model_id: args.modelId!, records: batch.map((r) => r.raw) as never },
          io.signal,
        );
        if (res.results.length !== batch.length) {
          throw new Error(
            `the API answered ${res.results.length} results for ${batch.length} records (run ${res.run_id})`,
          );
        }
        report.invalid += res.invalid_count;
        report.anomalous += res.anomalous_count;
        report.inference_runs.push(res.run_id);
        lines = res.results.map((s, i) => resultLine(batch[i]!, s)).join('');
      }
      await writeAll(out, lines);
      report.records += batch.length;
      report.batches += 1;
      progress.update(report.records, records.length);
    }
  } finally {
    progress.end();
    if (file !== null) {
      await new Promise<void>((resolve, reject) => {
        file.once('error', reject);
        file.end(() => resolve());
      });
    }
  }
  report.seconds = (performance.now() - started) / 1000;
  report.records_per_s = report.seconds > 0 ? report.records / report.seconds : 0;
  return report;
}

/** Runs a scoring job and follows it; returns the summary (null when the wait was interrupted). */
async function scoreDataset(
  io: CommandIo,
  args: { modelId: string; datasetId: string; api: string; policy?: string; chunkRows?: number },
): Promise<ScoreJobReport | null> {
  const client = new TadsClient(args.api);
  let job = await client.scoreDataset({
    model_id: args.modelId,
    dataset_id: args.datasetId,
    ...(args.policy !== undefined ? { policy: args.policy as PolicyName } : {}),
    ...(args.chunkRows !== undefined ? { chunk_rows: args.chunkRows } : {}),
  });
  if (!io.json) io.err.write(`job ${job.id} started\n`);

  // Follow the job until it is over.
  const progress = createProgress({ stream: io.err, unit: 'rows', quiet: io.json });
  let wait = 100;
  try {
    while (job.status === 'pending' || job.status === 'running') {
      progress.update(job.rows_done, job.rows_total);
      try {
        await sleep(wait, undefined, { signal: io.signal });
      } catch {
        progress.end();
        io.err.write(`tads score: stopped following job ${job.id}; it goes on in the server\n`);
        return null;
      }
      wait = Math.min(1000, wait * 2);
      job = await client.getJob(job.id);
    }
    progress.update(job.rows_done, job.rows_total);
  } finally {
    progress.end();
  }

  // Report, with the evaluation of a completed job.
  const scoringS = job.timings.scoring_ms / 1000;
  return {
    job_id: job.id,
    model_id: job.model_id,
    dataset_id: job.dataset_id,
    status: job.status,
    rows: job.rows_done,
    scoring_s: scoringS,
    alerts_s: job.timings.alerts_ms / 1000,
    rows_per_s: scoringS > 0 ? job.rows_done / scoringS : null,
    evaluation:
      job.status === 'completed' ? await client.evaluate(job.model_id, job.dataset_id, job.id) : null,
    error: job.error,
  };
}

/** The `score` command. */
export const scoreCommand: CommandSpec = {
  name: 'score',
  summary: 'Score a file of records (through the API or in process) or a whole dataset (as a job)',
  usage:
    '--model <id> --file <records> [--out <results.jsonl>] | --model-file <model.json> --file <records> | --model <id> --dataset <id> [flags]',
  details: [
    'Records files are JSON lines or a JSON array; each record is what POST /inference takes:',
    '  {"host_id":"host-0001","ts":"2024-01-01T00:00:00Z","cpu_usage":41.2,"memory_usage":63.0,...}',
    'Results are JSON lines, one per record in order, to --out or else to stdout (the summary then',
    'goes to stderr).',
    '',
    'Examples:',
    '  tads score --model 6f1c… --file records.jsonl --out results.jsonl   via POST /inference',
    '  tads score --model-file artifacts/pca/default/model.json --file records.jsonl   no server needed',
    '  tads score --model 6f1c… --dataset 0b6d…   a scoring job, then its evaluation',
  ].join('\n'),
  flags: [
    { name: 'model', type: 'string', description: 'id of a completed model', placeholder: 'uuid' },
    { name: 'model-id', type: 'string', description: 'the same as --model', placeholder: 'uuid' },
    {
      name: 'model-file',
      type: 'string',
      description: 'score --file in this process with this model.json (no server)',
      placeholder: 'path',
    },
    {
      name: 'file',
      type: 'string',
      description: 'records to score (JSON lines or a JSON array)',
      placeholder: 'path',
    },
    { name: 'out', type: 'string', description: 'write the results here (JSON lines)', placeholder: 'path' },
    {
      name: 'batch-size',
      type: 'int',
      description: 'records per POST /inference call (or per native call in process)',
      min: 1,
      max: INFERENCE_MAX_RECORDS,
      defaultText: String(DEFAULT_SCORE_BATCH),
    },
    { name: 'dataset', type: 'string', description: 'score this dataset as a job', placeholder: 'uuid' },
    { name: 'dataset-id', type: 'string', description: 'the same as --dataset', placeholder: 'uuid' },
    {
      name: 'policy',
      type: 'string',
      description: `the job's alert policy (${POLICY_NAMES.join(', ')})`,
      placeholder: 'name',
      defaultText: 'the pinned rule, default',
    },
    {
      name: 'chunk-rows',
      type: 'int',
      description: 'rows per chunk of the job',
      min: CHUNK_ROWS_MIN,
      max: CHUNK_ROWS_MAX,
      defaultText: 'the server’s',
    },
    {
      name: 'api',
      type: 'string',
      description: 'TADS API address',
      placeholder: 'url',
      defaultText: `TADS_API, else ${DEFAULT_API}`,
    },
  ],
  async run(flags, io) {
    // Validate
    const { modelId, modelFile, file, datasetId } = checkFlags(flags);
    const policy = policyFlag(flags.policy, 'policy');
    const api = (flags.api as string | undefined) ?? io.env.TADS_API ?? DEFAULT_API;

    // A dataset: a job, followed, then its evaluation.
    if (datasetId !== undefined) {
      const report = await scoreDataset(io, {
        modelId: modelId!,
        datasetId,
        api,
        ...(policy !== undefined ? { policy } : {}),
        ...(flags['chunk-rows'] !== undefined ? { chunkRows: flags['chunk-rows'] as number } : {}),
      });
      if (report === null) return 1;
      io.out.write(io.json ? JSON.stringify(report) + '\n' : formatScoreJobReport(report));
      if (report.status !== 'completed') {
        io.err.write(
          `tads score: job ${report.job_id} ${report.status}: ${report.error ?? 'no reason given'}\n`,
        );
        return 1;
      }
      return 0;
    }

    // A records file: through the API, or in this process.
    const out = flags.out as string | undefined;
    const report = await scoreFile(io, {
      file: file!,
      ...(modelId !== undefined ? { modelId } : {}),
      ...(modelFile !== undefined ? { modelFile } : {}),
      ...(out !== undefined ? { out } : {}),
      batchSize: (flags['batch-size'] as number | undefined) ?? DEFAULT_SCORE_BATCH,
      api,
    });
    // The summary goes to stdout unless the results took it.
    const where = out === undefined ? io.err : io.out;
    where.write(io.json ? JSON.stringify(report) + '\n' : formatScoreFileReport(report));
    return 0;
  },
};
