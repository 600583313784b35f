/**
 * Detection quality (the targets of docs/DETECTION.md), through the library and the database
 * exactly as the API does it: generate and ingest a normal-only training dataset (100 hosts ×
 * 1 day, default parameters, anomaly rate 0), train the default model on it, generate and ingest
 * a default dataset with anomalies under another seed, score it with a job per detector policy
 * (the pinned `default` and the improved `smoothed`), and evaluate each job.
 *
 * Printed side by side: event recall and time to detect per anomaly type, point-wise precision,
 * recall and F1 at the model's flag, ROC-AUC, PR-AUC, alerts, alerts per episode and false
 * alerts per host per day. Then the same for further seed pairs, to show the figures are not
 * one seed's luck.
 *
 * TADS_QUALITY_HOSTS (default 100) and TADS_QUALITY_DAYS (default 1) size both datasets;
 * TADS_QUALITY_PAIRS (default 3) is the number of (train, test) seed pairs. Uses DATABASE_URL's
 * server when set, else an embedded PostgreSQL.
 */
import { type GenerateParamsInput } from '../src/contract/generator.js';
import { ANOMALY_TYPES } from '../src/core/types.js';
import { evaluateJob, type JobEvaluation } from '../src/jobs/evaluation.js';
import { POLICY_NAMES, type PolicyName } from '../src/core/detector.js';
import { getJob } from '../src/db/jobs.js';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { generateDataset } from '../src/generator/ingest.js';
import { runScoreDatasetJob, submitScoreDatasetJob } from '../src/jobs/score-dataset.js';
import { trainModel } from '../src/jobs/training.js';
import { benchDatabase, formatNumber, heading, table } from './lib/harness.js';

const OWNER = 'bench';
const HOSTS = Number(process.env.TADS_QUALITY_HOSTS ?? 100);
const DAYS = Number(process.env.TADS_QUALITY_DAYS ?? 1);
const PAIRS = Number(process.env.TADS_QUALITY_PAIRS ?? 3);
const POLICIES: readonly PolicyName[] = POLICY_NAMES;

/** The targets: event recall per type, point-wise precision, false alerts per host per day. */
const RECALL_TARGET: Record<string, number> = {
  spike: 0.9,
  level_shift: 0.9,
  correlation_break: 0.9,
  drift: 0.7,
  stuck: 0.7,
  noise_burst: 0.7,
};
const PRECISION_TARGET = 0.8;
const FALSE_ALERTS_TARGET = 1;

async function ingest(pool: Pool, input: GenerateParamsInput): Promise<string> {
  return (await generateDataset(pool, input, { owner: OWNER })).datasetId;
}

/** Trains on a normal-only dataset of `trainSeed`, scores one of `testSeed` per policy. */
async function evaluatePair(
  pool: Pool,
  trainSeed: number,
  testSeed: number,
): Promise<Record<PolicyName, JobEvaluation>> {
  const size = { hostCount: HOSTS, durationS: DAYS * 86_400 };
  const trainId = await ingest(pool, { ...size, seed: trainSeed, anomalyRate: 0 });
  const { modelId } = await trainModel(pool, { datasetId: trainId, owner: OWNER });
  const testId = await ingest(pool, { ...size, seed: testSeed });
  const out = {} as Record<PolicyName, JobEvaluation>;
  for (const policy of POLICIES) {
    const job = await submitScoreDatasetJob(pool, { modelId, datasetId: testId, chunkRows: 50_000, policy });
    const result = await runScoreDatasetJob(pool, job.id, { owner: OWNER });
    if (result.outcome !== 'completed')
      throw new Error(`job ended ${result.outcome}: ${String(result.error)}`);
    out[policy] = await evaluateJob(pool, (await getJob(pool, job.id))!);
  }
  return out;
}

const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined ? 'n/a' : v.toFixed(digits);
const mark = (ok: boolean) => (ok ? '✓' : '✗');

/** Whether an evaluation meets every target. */
function meets(e: JobEvaluation): boolean {
  const recallOk = Object.entries(RECALL_TARGET).every(
    ([t, min]) => (e.events.byType[t]?.recall ?? 0) >= min,
  );
  return (
    recallOk &&
    (e.pointwise.precision ?? 0) >= PRECISION_TARGET &&
    (e.events.falseAlertsPerHostDay ?? Infinity) <= FALSE_ALERTS_TARGET
  );
}

async function main(): Promise<void> {
  heading('Detection quality');
  console.log(
    `train: ${HOSTS} hosts × ${DAYS} day(s), anomaly rate 0; test: the same size, default anomaly mix, another seed; default model (k by 95 % variance, α = 0.001, z limit 6)\n`,
  );
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 6 });
  try {
    await migrate(pool);
    const pairs: [number, number][] = Array.from({ length: PAIRS }, (_, i) => [2 * i + 1, 2 * i + 2]);
    const results: Record<PolicyName, JobEvaluation>[] = [];
    for (const [a, b] of pairs) results.push(await evaluatePair(pool, a, b));

    // The first pair in detail, the two policies side by side
    const [first] = results;
    const [ta, tb] = pairs[0]!;
    console.log(`### Seeds ${ta} (train) / ${tb} (test), per anomaly type\n`);
    table(
      ANOMALY_TYPES.map((type) => {
        const row: Record<string, string | number> = {
          type,
          episodes: first!.default.events.byType[type]?.episodes ?? 0,
        };
        for (const p of POLICIES) {
          const t = first![p].events.byType[type];
          row[`${p}: recall`] = `${fmt(t?.recall)} ${mark((t?.recall ?? 0) >= RECALL_TARGET[type]!)}`;
          row[`${p}: TTD mean / median (records)`] =
            `${fmt(t?.meanTimeToDetectRecords, 1)} / ${fmt(t?.medianTimeToDetectRecords, 1)}`;
        }
        row.target = `≥ ${RECALL_TARGET[type]}`;
        return row;
      }),
    );
    console.log(`### Seeds ${ta} / ${tb}, overall\n`);
    const overall = (label: string, f: (e: JobEvaluation) => string, target: string) => {
      const row: Record<string, string> = { figure: label };
      for (const p of POLICIES) row[p] = f(first![p]);
      row.target = target;
      return row;
    };
    table([
      overall(
        'point-wise precision (model flag)',
        (e) => `${fmt(e.pointwise.precision)} ${mark((e.pointwise.precision ?? 0) >= PRECISION_TARGET)}`,
        `≥ ${PRECISION_TARGET}`,
      ),
      overall('point-wise recall', (e) => fmt(e.pointwise.recall), ''),
      overall('point-wise F1', (e) => fmt(e.pointwise.f1), ''),
      overall('ROC-AUC', (e) => fmt(e.rocAuc), ''),
      overall('PR-AUC (average precision)', (e) => fmt(e.prAuc), ''),
      overall('event recall, all episodes', (e) => fmt(e.events.overall.recall), ''),
      overall('alerts', (e) => String(e.events.alerts), ''),
      overall('alerts per detected episode', (e) => fmt(e.events.alertsPerEpisode, 2), ''),
      overall('false alerts', (e) => String(e.events.falseAlerts), ''),
      overall(
        'false alerts per host per day',
        (e) =>
          `${fmt(e.events.falseAlertsPerHostDay)} ${mark((e.events.falseAlertsPerHostDay ?? Infinity) <= FALSE_ALERTS_TARGET)}`,
        `≤ ${FALSE_ALERTS_TARGET}`,
      ),
    ]);

    // Every pair: the figures that carry targets
    console.log('### Every seed pair (event recall per type; precision; false alerts per host per day)\n');
    table(
      results.flatMap((r, i) =>
        POLICIES.map((p) => {
          const e = r[p];
          const row: Record<string, string | number> = {
            seeds: `${pairs[i]![0]} / ${pairs[i]![1]}`,
            policy: p,
          };
          for (const type of ANOMALY_TYPES) row[type] = fmt(e.events.byType[type]?.recall, 2);
          row.precision = fmt(e.pointwise.precision);
          row['false/host/day'] = fmt(e.events.falseAlertsPerHostDay);
          row['all targets'] = mark(meets(e));
          return row;
        }),
      ),
    );
    const episodes = results.reduce((s, r) => s + r.default.events.overall.episodes, 0);
    console.log(`episodes over all pairs: ${formatNumber(episodes)}\n`);
  } finally {
    await pool.end();
    await db.close();
  }
}

await main();
