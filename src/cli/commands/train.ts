/**
 * `tads train`: trains a PCA model on a dataset straight from PostgreSQL (no API needed), writes
 * `model.json` atomically into the output folder and records the model. Prints what the original
 * trainer printed — rows processed, training time, artifact write time, artifact path — plus
 * rows/s, peak memory and the time of each part.
 *
 * The database is `--db-conn`, else `DATABASE_URL`, else the embedded server under `--data-dir`
 * (default `.tads`; started for the command if it is not running, as `tads migrate` does).
 */
import { Id } from '../../contract/common.js';
import { DEFAULT_MODEL_NAME } from '../../contract/models.js';
import { newOwnerId } from '../../db/leases.js';
import { timingsJson, type TrainingTimingsJson } from '../../db/models.js';
import { trainModel, type TrainModelResult } from '../../jobs/training.js';
import { UsageError, type CommandSpec, type FlagValues } from '../args.js';
import { createProgress } from '../progress.js';
import { DATABASE_FLAGS, openCliDatabase } from '../database.js';

/** Where `model.json` goes when `--output-dir` is not given (the original trainer's folder). */
export const DEFAULT_OUTPUT_DIR = 'artifacts/pca/default';

/**
 * The figures `tads train` prints (`--json` prints them as they are): the stored timings
 * (`total_s` is everything, recording the model included) and these.
 */
export interface TrainReport extends TrainingTimingsJson {
  model_id: string;
  dataset_id: string;
  name: string;
  rows: number;
  n_components: number;
  /** Moments + robust statistics + limits, in seconds. */
  training_s: number;
  artifact_path: string | null;
}

/** The report of a finished training. */
export function trainReport(res: TrainModelResult, datasetId: string, name: string): TrainReport {
  const t = res.timings;
  return {
    model_id: res.modelId,
    dataset_id: datasetId,
    name,
    rows: res.rows,
    n_components: res.model.toJSON().n_components,
    training_s: t.momentsS + t.robustS + t.limitsS,
    ...timingsJson(t),
    artifact_path: res.artifactPath ?? null,
  };
}

/** The report as plain lines. */
export function formatTrainReport(r: TrainReport): string {
  const s = (v: number) => v.toFixed(3);
  return [
    `rows processed: ${r.rows}`,
    `training time (s): ${s(r.training_s)}`,
    `artifact write time (s): ${s(r.artifact_write_s)}`,
    `artifact path: ${r.artifact_path ?? '(none)'}`,
    `rows/s: ${Math.round(r.rows_per_s)}`,
    `peak memory (MB): ${r.peak_rss_mb.toFixed(1)}`,
    `moments pass (s): ${s(r.moments_s)}`,
    `robust statistics (s): ${s(r.robust_s)} (${r.passes - 1} extra pass${r.passes - 1 === 1 ? '' : 'es'})`,
    `limits (s): ${s(r.limits_s)}`,
    `components: ${r.n_components}`,
    `model id: ${r.model_id}`,
    '',
  ].join('\n');
}

/** Checks the flags that the parser cannot (required, exclusive, UUID). */
function checkFlags(f: FlagValues): { datasetId: string } {
  const datasetId = f['dataset-id'];
  if (typeof datasetId !== 'string')
    throw new UsageError('--dataset-id is required (the dataset to train on)');
  const id = Id.safeParse(datasetId);
  if (!id.success) throw new UsageError(`--dataset-id must be a UUID; got ${JSON.stringify(datasetId)}`);
  if (f.variance !== undefined && f.components !== undefined) {
    throw new UsageError('give either --variance or --components, not both');
  }
  return { datasetId: id.data };
}

/** The `train` command. */
export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'Train a PCA model on a dataset in PostgreSQL and write model.json',
  usage: '--dataset-id <id> [--output-dir <dir>] [--name <name>] [--variance <v> | --components <k>] [flags]',
  details: [
    'Streams the dataset out of PostgreSQL by COPY: one pass for the moments, usually one more for the exact',
    'median and MAD. Labelled anomalies are trained on unless --exclude-labelled-anomalies is given.',
    'The seed spellings --dataset_id, --db_conn and --output_dir work too.',
    '',
    'Example: tads train --dataset-id 0b6d…  --output-dir artifacts/pca/default --variance 0.95',
  ].join('\n'),
  flags: [
    {
      name: 'dataset-id',
      type: 'string',
      description: 'the dataset to train on (required)',
      placeholder: 'uuid',
    },
    ...DATABASE_FLAGS,
    {
      name: 'output-dir',
      type: 'string',
      description: 'folder model.json is written to',
      placeholder: 'dir',
      defaultText: DEFAULT_OUTPUT_DIR,
    },
    { name: 'name', type: 'string', description: 'model name', defaultText: DEFAULT_MODEL_NAME },
    {
      name: 'variance',
      type: 'number',
      description: 'explained variance the components must reach, in (0, 1]',
      defaultText: '0.95',
    },
    {
      name: 'components',
      type: 'int',
      description: 'number of components (instead of --variance)',
      min: 1,
      max: 7,
    },
    {
      name: 'alpha',
      type: 'number',
      description: 'significance level of the SPE and T² limits',
      defaultText: '0.001',
    },
    { name: 'z-limit', type: 'number', description: 'limit of the robust z term', defaultText: '6' },
    {
      name: 'exclude-labelled-anomalies',
      type: 'boolean',
      description: 'train on rows not labelled anomalous only',
    },
    {
      name: 'chunk-rows',
      type: 'int',
      description: 'rows per COPY chunk',
      min: 1000,
      max: 1_000_000,
      defaultText: '65536',
    },
  ],
  async run(flags, io) {
    // Validate
    const { datasetId } = checkFlags(flags);
    const name = (flags.name as string | undefined) ?? DEFAULT_MODEL_NAME;

    // Open the database
    const db = await openCliDatabase(flags, io, { max: 3, applicationName: 'tads train' });
    const pool = db.pool;
    const progress = createProgress({ stream: io.err, unit: 'rows', quiet: io.json });
    try {
      // Train
      let pass = 0;
      const res = await trainModel(pool, {
        datasetId,
        name,
        options: {
          variance: flags.variance as number | undefined,
          nComponents: flags.components as number | undefined,
          alpha: flags.alpha as number | undefined,
          zLimit: flags['z-limit'] as number | undefined,
        },
        excludeLabelledAnomalies: flags['exclude-labelled-anomalies'] === true,
        outputDir: (flags['output-dir'] as string | undefined) ?? DEFAULT_OUTPUT_DIR,
        owner: newOwnerId(),
        ...(flags['chunk-rows'] !== undefined ? { chunkRows: flags['chunk-rows'] as number } : {}),
        signal: io.signal,
        onProgress: (p) => {
          if (p.phase !== 'moments' && p.phase !== 'robust') return;
          // One bar per pass over the rows.
          if (p.pass !== pass) {
            if (pass !== 0) progress.end();
            pass = p.pass;
          }
          progress.update(p.rowsDone, p.rowsTotal);
        },
      });
      progress.end();

      // Report
      const report = trainReport(res, datasetId, name);
      io.out.write(io.json ? JSON.stringify(report) + '\n' : formatTrainReport(report));
      return 0;
    } finally {
      progress.end();
      await db.close();
    }
  },
};
