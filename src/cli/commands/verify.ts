/**
 * `tads verify`: the management plane's end-to-end check against a running API. It walks the
 * whole loop — health, generate a normal-only dataset and one with anomalies, train on the first,
 * score the second as a job, evaluate, score records online, list the job's alerts — checking
 * every answer against what the earlier answers imply, and prints `PASS <step> <ms> ms` or
 * `FAIL <step> <reason>` per step (`SKIP` for a step whose input a failed step did not produce).
 * What it created is deleted at the end unless `--keep` is given. Exit code 1 when a step fails.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TadsClient } from '../../client/index.js';
import type { AlertWire } from '../../contract/alerts.js';
import type { Dataset } from '../../contract/datasets.js';
import type { EvaluationWire } from '../../contract/evaluation.js';
import type { InferenceRecordWireSchema } from '../../contract/inference.js';
import { INFERENCE_METRICS } from '../../contract/inference.js';
import type { JobWire } from '../../contract/jobs.js';
import type { ModelWire } from '../../contract/models.js';
import type { z } from 'zod';
import type { CommandSpec } from '../args.js';
import { DEFAULT_API } from './generate.js';

/** Names of the steps, in order. */
export const VERIFY_STEPS = [
  'health',
  'generate-training',
  'generate-scoring',
  'train',
  'score-job',
  'evaluate',
  'inference',
  'alerts',
  'cleanup',
] as const;
export type VerifyStep = (typeof VERIFY_STEPS)[number];

/** The outcome of one step. */
export interface StepResult {
  step: VerifyStep;
  status: 'pass' | 'fail' | 'skip';
  /** Wall time of the step in ms (0 when skipped). */
  ms: number;
  /** What was checked (pass), why it failed (fail), or what it waited for (skip). */
  detail: string;
}

/** The fleet verify generates: small enough for seconds, large enough for episodes. */
const FLEET = { host_count: 4, duration_s: 4 * 3600, interval_s: 60 } as const;
/** Anomaly rate of the scoring dataset: high, so that a small dataset holds several episodes. */
const SCORING_ANOMALY_RATE = 0.1;
const ROWS = FLEET.host_count * (FLEET.duration_s / FLEET.interval_s);

/** A failed check: the step fails with this message. */
class CheckFailed extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

/** What the steps hand on to later steps. */
interface Context {
  client: TadsClient;
  seed: number;
  timeoutMs: number;
  signal: AbortSignal;
  training?: Dataset;
  scoring?: Dataset;
  model?: ModelWire;
  job?: JobWire;
  evaluation?: EvaluationWire;
}

/** Polls `get` until `done` says so, every 100 ms to 1 s, within the context's timeout. */
async function waitFor<T>(
  ctx: Context,
  what: string,
  get: () => Promise<T>,
  done: (v: T) => boolean,
): Promise<T> {
  const deadline = performance.now() + ctx.timeoutMs;
  let wait = 100;
  for (;;) {
    const v = await get();
    if (done(v)) return v;
    if (performance.now() + wait > deadline)
      throw new CheckFailed(`${what} not finished within ${ctx.timeoutMs / 1000} s`);
    await sleep(wait, undefined, { signal: ctx.signal });
    wait = Math.min(1000, wait * 2);
  }
}

/** Generates a dataset and checks it completed with exactly the rows its parameters imply. */
async function generate(ctx: Context, anomalyRate: number, seed: number, name: string): Promise<Dataset> {
  const started = await ctx.client.createDataset({ ...FLEET, seed, anomaly_rate: anomalyRate, name });
  check(
    started.rows_total === ROWS,
    `POST /datasets announced ${started.rows_total} rows; expected ${FLEET.host_count} hosts × ${FLEET.duration_s / FLEET.interval_s} steps = ${ROWS}`,
  );
  const d = await waitFor(
    ctx,
    `dataset ${started.id}`,
    () => ctx.client.getDataset(started.id),
    (d) => d.status !== 'pending' && d.status !== 'running',
  );
  check(d.status === 'completed', `dataset ${d.id} ${d.status}: ${d.error ?? 'no reason given'}`);
  check(d.row_count === ROWS, `dataset ${d.id} has ${d.row_count} rows; expected ${ROWS}`);
  check(
    d.host_count === FLEET.host_count,
    `dataset ${d.id} has ${d.host_count} hosts; expected ${FLEET.host_count}`,
  );
  check(
    d.params.anomaly_rate === anomalyRate,
    `dataset ${d.id} recorded anomaly_rate ${String(d.params.anomaly_rate)}; expected ${anomalyRate}`,
  );
  return d;
}

type Step = {
  name: VerifyStep;
  /** Context fields the step needs; it is skipped when one is missing. */
  needs: (keyof Context)[];
  run(ctx: Context): Promise<string>;
};

const STEPS: Step[] = [
  {
    name: 'health',
    needs: [],
    async run(ctx) {
      const h = await ctx.client.health();
      return `version ${h.version}, database ${h.database_ms.toFixed(1)} ms`;
    },
  },
  {
    name: 'generate-training',
    needs: [],
    async run(ctx) {
      ctx.training = await generate(ctx, 0, ctx.seed, 'tads-verify-training');
      return `dataset ${ctx.training.id}, ${ctx.training.row_count} rows, normal only`;
    },
  },
  {
    name: 'generate-scoring',
    needs: [],
    async run(ctx) {
      ctx.scoring = await generate(ctx, SCORING_ANOMALY_RATE, ctx.seed + 1, 'tads-verify-scoring');
      return `dataset ${ctx.scoring.id}, ${ctx.scoring.row_count} rows, ${SCORING_ANOMALY_RATE * 100} % anomalous`;
    },
  },
  {
    name: 'train',
    needs: ['training'],
    async run(ctx) {
      const datasetId = ctx.training!.id;
      const accepted = await ctx.client.train({ dataset_id: datasetId, name: 'tads-verify' });
      const m = await waitFor(
        ctx,
        `model ${accepted.id}`,
        () => ctx.client.getModel(accepted.id),
        (m) => m.status === 'completed' || m.status === 'failed',
      );
      check(m.status === 'completed', `model ${m.id} failed: ${m.error ?? 'no reason given'}`);
      check(m.dataset_id === datasetId, `model ${m.id} names dataset ${m.dataset_id}; expected ${datasetId}`);
      check(m.n_samples === ROWS, `model ${m.id} trained on ${m.n_samples} rows; expected ${ROWS}`);
      const s = m.summary;
      check(s !== null && m.model !== null, `completed model ${m.id} has no summary or model.json`);
      check(
        s.metrics.length === INFERENCE_METRICS.length &&
          s.metrics.every((x, i) => x === INFERENCE_METRICS[i]),
        `model ${m.id} metrics ${s.metrics.join(',')}; expected ${INFERENCE_METRICS.join(',')}`,
      );
      check(
        s.n_components >= 1 && s.n_components < s.metrics.length,
        `model ${m.id} keeps ${s.n_components} components; expected 1 to ${s.metrics.length - 1}`,
      );
      check(
        s.cumulative_explained_variance >= 0.95 - 1e-9,
        `model ${m.id} explains ${s.cumulative_explained_variance}; expected ≥ 0.95`,
      );
      ctx.model = m;
      return `model ${m.id}, k = ${s.n_components}, ${(s.cumulative_explained_variance * 100).toFixed(1)} % variance`;
    },
  },
  {
    name: 'score-job',
    needs: ['model', 'scoring'],
    async run(ctx) {
      const started = await ctx.client.scoreDataset({ model_id: ctx.model!.id, dataset_id: ctx.scoring!.id });
      const job = await waitFor(
        ctx,
        `job ${started.id}`,
        () => ctx.client.getJob(started.id),
        (j) => j.status !== 'pending' && j.status !== 'running',
      );
      check(job.status === 'completed', `job ${job.id} ${job.status}: ${job.error ?? 'no reason given'}`);
      check(job.rows_total === ROWS, `job ${job.id} counts ${job.rows_total} rows; expected ${ROWS}`);
      check(job.rows_done === ROWS, `job ${job.id} scored ${job.rows_done} of ${ROWS} rows`);
      check(job.phase === 'done', `completed job ${job.id} is in phase ${job.phase}; expected done`);
      const p = await ctx.client.getJobProgress(job.id);
      check(
        p.fraction === 1 && p.rows_done === ROWS,
        `job ${job.id} progress ${p.rows_done}/${p.rows_total}`,
      );
      ctx.job = job;
      return `job ${job.id}, ${job.rows_done} rows`;
    },
  },
  {
    name: 'evaluate',
    needs: ['job'],
    async run(ctx) {
      const e = await ctx.client.evaluate(ctx.model!.id, ctx.scoring!.id, ctx.job!.id);
      check(e.job_id === ctx.job!.id, `evaluation used job ${e.job_id}; expected ${ctx.job!.id}`);
      check(e.records === ROWS, `evaluation counts ${e.records} records; expected ${ROWS}`);
      check(
        e.anomalies > 0,
        `evaluation counts no labelled anomalies in a dataset generated with ${SCORING_ANOMALY_RATE * 100} %`,
      );
      const c = e.pointwise.confusion;
      check(
        c.tp + c.fp + c.tn + c.fn === e.records - e.invalid_records,
        `confusion matrix sums to ${c.tp + c.fp + c.tn + c.fn}; expected ${e.records - e.invalid_records} valid records`,
      );
      check(c.tp + c.fn === e.anomalies, `confusion has ${c.tp + c.fn} positives; expected ${e.anomalies}`);
      check(e.roc_auc !== null && e.pr_auc !== null, 'ROC-AUC or PR-AUC is null with both classes present');
      check(e.roc_auc > 0.5, `ROC-AUC ${e.roc_auc} is no better than chance`);
      const o = e.events.overall;
      check(o.detected <= o.episodes, `${o.detected} of ${o.episodes} episodes detected`);
      ctx.evaluation = e;
      return `ROC-AUC ${e.roc_auc.toFixed(3)}, PR-AUC ${e.pr_auc.toFixed(3)}, ${o.detected}/${o.episodes} episodes`;
    },
  },
  {
    name: 'inference',
    needs: ['model'],
    async run(ctx) {
      // A record at the model's means (scores low), one far beyond its scales, one invalid.
      const doc = ctx.model!.model as { mean: number[]; scale: number[] };
      const ts = '2024-01-02T00:00:00Z';
      type Rec = z.input<typeof InferenceRecordWireSchema>;
      const at = (f: (j: number) => number | null): Rec =>
        Object.fromEntries([
          ['host_id', 'verify-host'],
          ['ts', ts],
          ...INFERENCE_METRICS.map((name, j) => [name, f(j)]),
        ]) as Rec;
      const records = [
        at((j) => doc.mean[j]!),
        at((j) => doc.mean[j]! + 50 * doc.scale[j]!),
        at((j) => (j === 0 ? null : doc.mean[j]!)),
      ];
      const res = await ctx.client.inference({ model_id: ctx.model!.id, records });
      check(res.model_id === ctx.model!.id, `inference answered for model ${res.model_id}`);
      check(
        res.results.length === 3 && res.record_count === 3,
        `inference answered ${res.results.length} results for 3 records`,
      );
      const [mean, far, invalid] = res.results as [
        (typeof res.results)[0],
        (typeof res.results)[0],
        (typeof res.results)[0],
      ];
      check(
        mean.valid && !mean.anomalous && mean.fused !== null && mean.fused < 1,
        `the record at the means scored ${mean.fused} (anomalous ${mean.anomalous})`,
      );
      check(
        far.valid && far.anomalous && far.fused !== null && far.fused >= 1,
        `the record 50 scales away scored ${far.fused} (anomalous ${far.anomalous})`,
      );
      check(far.top_metric !== null, 'the anomalous record has no top metric');
      check(
        !invalid.valid && invalid.fused === null && invalid.top_metric === null,
        'the record with a null metric was scored as valid',
      );
      check(
        res.invalid_count === 1 && res.anomalous_count === 1,
        `counts: ${res.invalid_count} invalid, ${res.anomalous_count} anomalous; expected 1 and 1`,
      );
      const run = await ctx.client.getInferenceRun(res.run_id);
      check(
        run.model_id === ctx.model!.id &&
          run.record_count === 3 &&
          run.invalid_count === 1 &&
          run.anomalous_count === 1,
        `inference run ${run.id} recorded ${run.record_count} records, ${run.invalid_count} invalid, ${run.anomalous_count} anomalous`,
      );
      return `run ${res.run_id}, fused ${mean.fused.toFixed(3)} / ${far.fused.toFixed(1)} / invalid`;
    },
  },
  {
    name: 'alerts',
    needs: ['evaluation'],
    async run(ctx) {
      const job = ctx.job!;
      const alerts: AlertWire[] = [];
      let cursor: string | undefined;
      do {
        const page = await ctx.client.listAlerts({
          source: job.id,
          limit: 500,
          ...(cursor ? { cursor } : {}),
        });
        alerts.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      const expected = ctx.evaluation!.events.alerts;
      check(
        alerts.length === expected,
        `GET /alerts lists ${alerts.length} alerts of job ${job.id}; the evaluation counts ${expected}`,
      );
      for (const a of alerts) {
        check(
          a.job_id === job.id && a.model_id === job.model_id && a.dataset_id === job.dataset_id,
          `alert ${a.id} names job ${a.job_id}, model ${a.model_id}, dataset ${a.dataset_id}`,
        );
        check(a.closed_at === null || a.closed_at >= a.opened_at, `alert ${a.id} closed before it opened`);
        check(a.peak_score >= 1, `alert ${a.id} has peak score ${a.peak_score} < 1`);
      }
      const detected = ctx.evaluation!.events.overall.detected;
      check(detected === 0 || alerts.length > 0, `${detected} episodes detected without an alert`);
      return `${alerts.length} alert${alerts.length === 1 ? '' : 's'} of job ${job.id}`;
    },
  },
];

/** Deletes what verify created (model first: its dataset may not go while it is referenced). */
async function cleanup(ctx: Context): Promise<string> {
  const gone: string[] = [];
  if (ctx.model) {
    const r = await ctx.client.deleteModel(ctx.model.id);
    check(r.deleted && r.id === ctx.model.id, `DELETE /models/${ctx.model.id} answered for ${r.id}`);
    gone.push(`model ${ctx.model.id}`);
  }
  for (const d of [ctx.training, ctx.scoring]) {
    if (!d) continue;
    const r = await ctx.client.deleteDataset(d.id);
    check(r.deleted && r.id === d.id, `DELETE /datasets/${d.id} answered for ${r.id}`);
    gone.push(`dataset ${d.id}`);
  }
  return `deleted ${gone.join(', ')}`;
}

/** Options of {@link runVerify}. */
export interface VerifyOptions {
  api: string;
  /** Seed of the training dataset (the scoring dataset uses seed + 1). */
  seed: number;
  /** Longest wait for one generation, training or job, ms. */
  timeoutMs: number;
  /** Keep what was created. */
  keep: boolean;
  signal: AbortSignal;
  /** Called as each step ends. */
  onStep?: (r: StepResult) => void;
}

/**
 * Runs every step against the API.
 *
 * @returns the steps' results, in order
 */
export async function runVerify(options: VerifyOptions): Promise<StepResult[]> {
  const ctx: Context = {
    client: new TadsClient({ baseUrl: options.api }),
    seed: options.seed,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
  };
  const results: StepResult[] = [];
  const record = (r: StepResult) => {
    results.push(r);
    options.onStep?.(r);
  };
  const attempt = async (name: VerifyStep, fn: () => Promise<string>) => {
    const t0 = performance.now();
    try {
      if (options.signal.aborted) throw new CheckFailed('interrupted');
      const detail = await fn();
      record({ step: name, status: 'pass', ms: performance.now() - t0, detail });
    } catch (err) {
      const reason = options.signal.aborted
        ? 'interrupted'
        : err instanceof Error
          ? err.message
          : String(err);
      record({ step: name, status: 'fail', ms: performance.now() - t0, detail: reason });
    }
  };

  for (const step of STEPS) {
    // A failed health check means nothing else can work.
    const healthFailed = results[0]?.status === 'fail';
    const missing = step.needs.filter((k) => ctx[k] === undefined);
    if (healthFailed || missing.length > 0) {
      const failed = results.filter((r) => r.status !== 'pass').map((r) => r.step);
      record({ step: step.name, status: 'skip', ms: 0, detail: `after ${failed.join(', ')}` });
      continue;
    }
    await attempt(step.name, () => step.run(ctx));
  }
  if (options.keep) record({ step: 'cleanup', status: 'skip', ms: 0, detail: 'kept: --keep' });
  else if (!ctx.model && !ctx.training && !ctx.scoring)
    record({ step: 'cleanup', status: 'skip', ms: 0, detail: 'nothing was created' });
  else await attempt('cleanup', () => cleanup(ctx));
  return results;
}

/** One step as a line: `PASS <step> <ms> ms  <detail>`, `FAIL <step> <reason>`, `SKIP <step> …`. */
export function formatStep(r: StepResult): string {
  if (r.status === 'pass') return `PASS ${r.step} ${Math.round(r.ms)} ms  ${r.detail}`;
  if (r.status === 'fail') return `FAIL ${r.step} ${r.detail}`;
  return `SKIP ${r.step} (${r.detail})`;
}

/** The `verify` command. */
export const verifyCommand: CommandSpec = {
  name: 'verify',
  summary: 'Check a running API end to end: generate, train, score job, evaluate, inference, alerts',
  usage: '[--api <url>] [--keep] [--json]',
  details: [
    `Generates two small datasets (${FLEET.host_count} hosts, ${FLEET.duration_s / 3600} h at ${FLEET.interval_s} s: ${ROWS} rows each; the first`,
    `normal-only, the second with ${SCORING_ANOMALY_RATE * 100} % anomalies), trains on the first, scores the second as a job,`,
    'evaluates, scores three records online and lists the job’s alerts, checking every answer.',
    'Prints one PASS/FAIL line per step with its time; exits 1 when a step fails.',
    'What it created is deleted at the end unless --keep is given.',
  ].join('\n'),
  flags: [
    {
      name: 'api',
      type: 'string',
      description: 'TADS API address',
      placeholder: 'url',
      defaultText: `TADS_API, else ${DEFAULT_API}`,
    },
    {
      name: 'seed',
      type: 'int',
      description: 'seed of the datasets',
      min: 0,
      max: 2 ** 31,
      defaultText: '7',
    },
    {
      name: 'timeout',
      type: 'number',
      description: 'longest wait for one generation, training or job',
      min: 1,
      placeholder: 'seconds',
      defaultText: '300',
    },
    { name: 'keep', type: 'boolean', description: 'keep the datasets and the model it created' },
  ],
  async run(flags, io) {
    const api = (flags.api as string | undefined) ?? io.env.TADS_API ?? DEFAULT_API;
    const started = performance.now();
    const steps = await runVerify({
      api,
      seed: (flags.seed as number | undefined) ?? 7,
      timeoutMs: ((flags.timeout as number | undefined) ?? 300) * 1000,
      keep: flags.keep === true,
      signal: io.signal,
      onStep: (r) => {
        if (!io.json) io.out.write(formatStep(r) + '\n');
      },
    });
    const failed = steps.filter((s) => s.status === 'fail').length;
    const passed = steps.filter((s) => s.status === 'pass').length;
    const ok = failed === 0 && !io.signal.aborted;
    const totalMs = performance.now() - started;
    if (io.json) {
      io.out.write(
        JSON.stringify({
          ok,
          api,
          passed,
          failed,
          ms: totalMs,
          steps: steps.map((s) => ({ ...s, ms: Math.round(s.ms * 10) / 10 })),
        }) + '\n',
      );
    } else {
      io.out.write(
        ok
          ? `verify: ${passed} steps passed in ${(totalMs / 1000).toFixed(1)} s against ${api}\n`
          : `verify: ${failed} step${failed === 1 ? '' : 's'} failed, ${passed} passed against ${api}\n`,
      );
    }
    return ok ? 0 : 1;
  },
};
