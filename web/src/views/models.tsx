/**
 * Models: a model's artifact summary with its explained-variance chart; scoring a dataset with
 * it (live progress, cancel); and its evaluation on a scored dataset — confusion matrix,
 * precision / recall / F1, ROC space, event recall and time to detect, and the errors by anomaly
 * type, region or project.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type uPlot from 'uplot';
import { ScoreDatasetRequestSchema, type JobListWire, type JobWire } from '../../../src/contract/jobs.js';
import {
  ERROR_GROUPINGS,
  type ErrorGrouping,
  type EvaluationWire,
} from '../../../src/contract/evaluation.js';
import type { ModelSummaryWire, ModelWire } from '../../../src/contract/models.js';
import { POLICY_NAMES, type PolicyName } from '../../../src/contract/vocabulary.js';
import { useApi } from '../api-context.js';
import { modelLabel, unfinished, useDatasets, useJobs, useModel, useModels } from '../data.js';
import { checkBody, unchosen, useSubmit } from '../forms.js';
import { fmtDuration, fmtInt, fmtNum, fmtPct, fmtTime, shortId } from '../format.js';
import { useRefresh } from '../live.js';
import { hrefOf, Link, setParams, useLocation } from '../router.js';
import { useAction, useAsync, type AsyncState } from '../use-async.js';
import { Chart, seriesColor } from '../components/chart.js';
import { DatasetSelectField, FormError, SelectField, SubmitButton } from '../components/field.js';
import { AsyncList, AsyncView, Empty, ErrorBox } from '../components/states.js';
import {
  Bars,
  Card,
  CompletedChooser,
  ConfirmButton,
  FigureCells,
  numeric,
  Panel,
  ProgressBar,
  Status,
  Table,
} from '../components/widgets.js';

function VarianceChart({ s }: { s: ModelSummaryWire }) {
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      scales: {
        x: { time: false, range: (_u: uPlot, lo: number, hi: number) => [lo - 0.5, hi + 0.5] },
        y: { range: [0, 1] },
      },
      series: [
        { label: 'component' },
        {
          label: 'explained variance',
          stroke: seriesColor(0),
          fill: 'rgba(37, 99, 235, 0.3)',
          paths: (u: uPlot, si: number, i0: number, i1: number) => componentBars(u, si, i0, i1),
          points: { show: false },
          value: (_u: uPlot, v: number | null) => fmtPct(v, 2),
        },
        {
          label: 'cumulative',
          stroke: seriesColor(1),
          width: 2,
          points: { show: true, size: 6 },
          value: (_u: uPlot, v: number | null) => fmtPct(v, 2),
        },
      ],
      axes: [
        { values: (_u: uPlot, ticks: number[]) => ticks.map((t) => (Number.isInteger(t) ? `PC${t}` : '')) },
        { size: 64, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${Math.round(t * 100)} %`) },
      ],
    }),
    [],
  );
  const data = useMemo<uPlot.AlignedData>(() => {
    const xs = s.explained_variance_ratio.map((_, i) => i + 1);
    let acc = 0;
    const cum = s.explained_variance_ratio.map((r) => (acc += r));
    return [xs, s.explained_variance_ratio, cum];
  }, [s]);
  return <Chart title="Explained variance by component" options={options} data={data} height={220} />;
}

/** Bars centred on whole x values, 60 % of a unit wide. */
function componentBars(u: uPlot, si: number, i0: number, i1: number): uPlot.Series.Paths | null {
  const xs = u.data[0];
  const ys = u.data[si];
  if (!ys) return null;
  const fill = new Path2D();
  const y0 = u.valToPos(0, 'y', true);
  for (let i = i0; i <= i1; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x === undefined || y === null || y === undefined) continue;
    const l = u.valToPos(x - 0.3, 'x', true);
    const r = u.valToPos(x + 0.3, 'x', true);
    const top = u.valToPos(y, 'y', true);
    fill.rect(l, top, r - l, y0 - top);
  }
  return { fill, stroke: fill };
}

function ArtifactSummary({ m }: { m: ModelWire }) {
  const s = m.summary;
  if (!s) return <Empty>This model has no artifact summary.</Empty>;
  return (
    <>
      <div className="cards">
        <Card label="Components (k)" value={s.n_components} note={`of ${s.metrics.length} metrics`} />
        <Card label="Samples" value={fmtInt(s.n_samples)} />
        <Card label="Variance kept" value={fmtPct(s.cumulative_explained_variance, 2)} />
        <Card label="SPE limit" value={fmtNum(s.spe_limit)} />
        <Card label="T² limit" value={fmtNum(s.t2_limit)} />
        <Card label="z limit" value={fmtNum(s.z_limit)} />
        {m.timings && (
          <Card
            label="Training"
            value={fmtDuration(m.timings.total_s)}
            note={`${fmtInt(m.timings.rows_per_s)} rows/s`}
          />
        )}
      </div>
      <div className="grid-2">
        <div>
          <h3>Explained variance</h3>
          <VarianceChart s={s} />
        </div>
        <div className="table-wrap">
          <h3>Robust statistics</h3>
          <Table
            label="Robust statistics"
            columns={['metric', numeric('median'), numeric('MAD'), numeric('z scale')]}
          >
            {s.metrics.map((name, i) => (
              <tr key={name}>
                <td>{name}</td>
                <FigureCells values={[s.median[i], s.mad[i], s.z_scale[i]].map((v) => fmtNum(v))} />
              </tr>
            ))}
          </Table>
        </div>
      </div>
    </>
  );
}

function JobProgress({ job, onChange }: { job: JobWire; onChange: () => void }) {
  const api = useApi();
  const progress = useAsync(() => api.getJobProgress(job.id), [api, job.id]);
  const p = progress.data;
  const running = p ? unfinished(p.status) : true;
  useRefresh(progress.reload, {
    topics: ['jobs'],
    active: running,
    fastMs: 700,
    slowMs: 3000,
    match: (e) => 'job_id' in e && e.job_id === job.id,
  });
  // The job lists follow once the job is over
  const over = p !== undefined && !running;
  useEffect(() => {
    if (over) onChange();
  }, [over]); // once, when the job ends
  const cancel = useAction(async () => {
    await api.cancelJob(job.id);
    progress.reload();
    onChange();
  });
  if (progress.error && !p) return <ErrorBox error={progress.error} onRetry={progress.reload} />;
  if (!p) return null;
  const label =
    p.phase === 'alerts'
      ? 'raising alerts'
      : `scoring ${fmtInt(p.rows_done)} / ${fmtInt(p.rows_total)} rows${p.rate_rows_per_s ? ` · ${fmtInt(p.rate_rows_per_s)} rows/s` : ''}${p.eta_s !== null ? ` · ${fmtDuration(p.eta_s)} left` : ''}`;
  return (
    <div className="row" aria-label={`job ${shortId(job.id)}`}>
      <div style={{ flex: 1 }}>
        <ProgressBar fraction={p.fraction} label={label} />
      </div>
      {running && <ConfirmButton label="Cancel" confirmLabel="Cancel job" onConfirm={cancel.run} />}
      {cancel.error && <ErrorBox error={cancel.error} />}
    </div>
  );
}

function ScoringPanel({ modelId, jobs }: { modelId: string; jobs: AsyncState<JobListWire> }) {
  const api = useApi();
  const datasets = useDatasets(100);
  const onJobsChanged = jobs.reload;
  const [datasetId, setDatasetId] = useState('');
  const [policy, setPolicy] = useState<PolicyName>('default');
  const names = new Map(datasets.data?.items.map((d) => [d.id, d.name]));

  const { errors, busy, onSubmit } = useSubmit(
    () =>
      checkBody(ScoreDatasetRequestSchema, { model_id: modelId, dataset_id: datasetId, policy }, () =>
        unchosen('dataset_id', datasetId, 'choose a completed dataset'),
      ),
    async (body) => {
      await api.scoreDataset(body);
      onJobsChanged();
    },
  );

  return (
    <Panel title="Score a dataset">
      <form onSubmit={onSubmit} noValidate aria-label="Score a dataset">
        <div className="row">
          <div style={{ flex: 1 }}>
            <DatasetSelectField list={datasets} value={datasetId} onChange={setDatasetId} errors={errors} />
          </div>
          <SelectField
            label="Alert policy"
            name="policy"
            value={policy}
            onChange={(v) => setPolicy(v as typeof policy)}
            errors={errors}
            options={POLICY_NAMES.map((p) => ({ value: p, label: p }))}
          />
          <SubmitButton label="Start scoring job" busyLabel="Starting…" busy={busy} />
        </div>
        <FormError errors={errors} />
      </form>
      <h3>Jobs of this model</h3>
      <AsyncList state={jobs} empty="No scoring job yet.">
        {(j) => (
          <div className="table-wrap">
            <Table
              label="Jobs of this model"
              columns={['job', 'dataset', 'status', 'policy', 'progress / time', 'created']}
            >
              {j.items.map((job) => (
                <tr key={job.id}>
                  <td className="mono">{shortId(job.id)}</td>
                  <td>{names.get(job.dataset_id) ?? shortId(job.dataset_id)}</td>
                  <td>
                    <Status status={job.status} />
                    {job.error && <span className="form-error"> {job.error}</span>}
                  </td>
                  <td>{job.policy}</td>
                  <td style={{ minWidth: 280 }}>
                    {unfinished(job.status) ? (
                      <JobProgress job={job} onChange={onJobsChanged} />
                    ) : job.status === 'completed' ? (
                      <>
                        {fmtDuration((job.timings.scoring_ms + job.timings.alerts_ms) / 1000)}{' '}
                        <button
                          type="button"
                          className="link"
                          onClick={() => setParams({ dataset: job.dataset_id, job: job.id })}
                        >
                          evaluation
                        </button>{' '}
                        · <Link href={hrefOf('alerts', { source: job.id })}>alerts</Link>
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>{fmtTime(job.created_at)}</td>
                </tr>
              ))}
            </Table>
          </div>
        )}
      </AsyncList>
    </Panel>
  );
}

function Confusion({ e }: { e: EvaluationWire }) {
  const c = e.pointwise.confusion;
  return (
    <table className="confusion" aria-label="Confusion matrix">
      <thead>
        <tr>
          <th />
          <th>flagged</th>
          <th>not flagged</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <th>anomalous</th>
          <td className="hit">TP {fmtInt(c.tp)}</td>
          <td className="miss">FN {fmtInt(c.fn)}</td>
        </tr>
        <tr>
          <th>normal</th>
          <td className="miss">FP {fmtInt(c.fp)}</td>
          <td className="hit">TN {fmtInt(c.tn)}</td>
        </tr>
      </tbody>
    </table>
  );
}

/**
 * The ROC or precision–recall curve of the job's scores, with the chance line (the diagonal, or
 * the share of anomalous records) and the model's operating point at its own flag.
 */
export function CurveChart({ e, kind }: { e: EvaluationWire; kind: 'roc' | 'pr' }) {
  const c = e.pointwise.confusion;
  const tpr = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : null;
  const fpr = c.fp + c.tn > 0 ? c.fp / (c.fp + c.tn) : null;
  const precision = e.pointwise.precision;
  const valid = c.tp + c.fp + c.tn + c.fn;
  const base = valid > 0 ? (c.tp + c.fn) / valid : null;
  // The operating point and the chance line, drawn over the plot
  const extra = useRef({ kind, tpr, fpr, precision, base });
  extra.current = { kind, tpr, fpr, precision, base };
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
      series: [
        {
          label: kind === 'roc' ? 'false positive rate' : 'recall',
          value: (_u: uPlot, v: number | null) => fmtNum(v, 3),
        },
        {
          label: kind === 'roc' ? 'true positive rate' : 'precision',
          stroke: seriesColor(0),
          width: 2,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => fmtNum(v, 3),
        },
      ],
      axes: [
        { label: kind === 'roc' ? 'false positive rate' : 'recall' },
        { label: kind === 'roc' ? 'true positive rate' : 'precision', size: 50 },
      ],
      hooks: {
        draw: [
          (u: uPlot) => {
            const x = extra.current;
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = '#94a3b8';
            ctx.setLineDash([4, 4]);
            ctx.lineWidth = 1;
            ctx.beginPath();
            if (x.kind === 'roc') {
              ctx.moveTo(u.valToPos(0, 'x', true), u.valToPos(0, 'y', true));
              ctx.lineTo(u.valToPos(1, 'x', true), u.valToPos(1, 'y', true));
            } else if (x.base !== null) {
              ctx.moveTo(u.valToPos(0, 'x', true), u.valToPos(x.base, 'y', true));
              ctx.lineTo(u.valToPos(1, 'x', true), u.valToPos(x.base, 'y', true));
            }
            ctx.stroke();
            const px = x.kind === 'roc' ? x.fpr : x.tpr;
            const py = x.kind === 'roc' ? x.tpr : x.precision;
            if (px !== null && py !== null) {
              ctx.setLineDash([]);
              ctx.fillStyle = seriesColor(1);
              ctx.beginPath();
              ctx.arc(
                u.valToPos(px, 'x', true),
                u.valToPos(py, 'y', true),
                5 * devicePixelRatio,
                0,
                2 * Math.PI,
              );
              ctx.fill();
            }
            ctx.restore();
          },
        ],
      },
    }),
    [kind],
  );
  const points = kind === 'roc' ? e.roc_curve : e.pr_curve;
  const data = useMemo<uPlot.AlignedData>(
    () =>
      kind === 'roc'
        ? [e.roc_curve.map((p) => p.fpr), e.roc_curve.map((p) => p.tpr)]
        : [e.pr_curve.map((p) => p.recall), e.pr_curve.map((p) => p.precision)],
    [e, kind],
  );
  if (points.length === 0) {
    return (
      <Empty>
        {kind === 'roc'
          ? 'No ROC curve: it needs both anomalous and normal records.'
          : 'No precision–recall curve: it needs anomalous records.'}
      </Empty>
    );
  }
  return (
    <>
      <Chart
        title={kind === 'roc' ? 'ROC curve' : 'Precision–recall curve'}
        options={options}
        data={data}
        height={240}
      />
      <p className="legend-note">
        {kind === 'roc'
          ? `ROC-AUC ${fmtNum(e.roc_auc)} · dashed: chance`
          : `PR-AUC (average precision) ${fmtNum(e.pr_auc)} · dashed: share of anomalous records`}{' '}
        · dot: the model&apos;s flag (TPR {fmtPct(tpr, 2)}, FPR {fmtPct(fpr, 3)}, precision{' '}
        {fmtPct(precision, 2)})
      </p>
    </>
  );
}

function Curves({ e }: { e: EvaluationWire }) {
  const [kind, setKind] = useState<'roc' | 'pr'>('roc');
  return (
    <div>
      <div className="panel-head">
        <h3>{kind === 'roc' ? 'ROC curve' : 'Precision–recall curve'}</h3>
        <select aria-label="Curve" value={kind} onChange={(ev) => setKind(ev.target.value as 'roc' | 'pr')}>
          <option value="roc">ROC</option>
          <option value="pr">precision–recall</option>
        </select>
      </div>
      <CurveChart key={kind} e={e} kind={kind} />
    </div>
  );
}

/** Episodes detected, overall and by anomaly type, with the time it took to detect them. */
function EventsTable({ e }: { e: EvaluationWire }) {
  return (
    <div className="table-wrap">
      <Table
        label="Events by anomaly type"
        columns={[
          'type',
          ...['episodes', 'detected', 'recall', 'mean time to detect', 'median time to detect'].map(numeric),
        ]}
      >
        {[['all', e.events.overall] as const, ...Object.entries(e.events.by_type)].map(([t, v]) => (
          <tr key={t}>
            <td>{t}</td>
            <FigureCells
              values={[
                fmtInt(v.episodes),
                fmtInt(v.detected),
                fmtPct(v.recall),
                fmtNum(v.mean_time_to_detect_records, 3),
                fmtNum(v.median_time_to_detect_records, 3),
              ]}
            />
          </tr>
        ))}
      </Table>
    </div>
  );
}

/** A model on a dataset, evaluated by one job's scores (else the latest completed job's). */
interface EvaluationTarget {
  modelId: string;
  datasetId: string;
  jobId: string | undefined;
}

function ErrorDistribution({ modelId, datasetId, jobId }: EvaluationTarget) {
  const api = useApi();
  const [groupBy, setGroupBy] = useState<ErrorGrouping>('anomaly_type');
  const state = useAsync(
    () => api.errorDistribution(modelId, datasetId, groupBy, jobId),
    [api, modelId, datasetId, groupBy, jobId],
  );
  return (
    <Panel
      title="Errors by group"
      actions={
        <select
          aria-label="Group by"
          value={groupBy}
          onChange={(e) => setGroupBy(e.target.value as ErrorGrouping)}
        >
          {ERROR_GROUPINGS.map((g) => (
            <option key={g} value={g}>
              by {g}
            </option>
          ))}
        </select>
      }
    >
      <AsyncView state={state} isEmpty={(d) => d.groups.length === 0} empty="No groups.">
        {(d) => {
          const total = d.groups.reduce((a, g) => a + g.missed + g.false_alarms, 0);
          return (
            <>
              <Bars
                title="Errors (missed + false alarms) by group"
                items={d.groups.map((g) => ({
                  label: g.group ?? 'normal',
                  count: g.missed + g.false_alarms,
                  share: total > 0 ? (g.missed + g.false_alarms) / total : 0,
                }))}
              />
              <div className="table-wrap">
                <Table
                  label="Error distribution"
                  columns={[
                    d.group_by,
                    ...[
                      'records',
                      'anomalies',
                      'caught',
                      'missed',
                      'false alarms',
                      'mean score',
                      'episodes',
                      'event recall',
                    ].map(numeric),
                  ]}
                >
                  {d.groups.map((g) => (
                    <tr key={g.group ?? '(none)'}>
                      <td>{g.group ?? 'normal'}</td>
                      <FigureCells
                        values={[
                          ...[g.records, g.anomalies, g.caught, g.missed, g.false_alarms].map((n) =>
                            fmtInt(n),
                          ),
                          fmtNum(g.mean_score),
                          fmtInt(g.episodes),
                          fmtPct(g.event_recall),
                        ]}
                      />
                    </tr>
                  ))}
                </Table>
              </div>
            </>
          );
        }}
      </AsyncView>
    </Panel>
  );
}

function Evaluation({ modelId, datasetId, jobId }: EvaluationTarget) {
  const api = useApi();
  const state = useAsync(() => api.evaluate(modelId, datasetId, jobId), [api, modelId, datasetId, jobId]);
  return (
    <>
      <Panel title="Evaluation">
        <AsyncView state={state} loadingText="Evaluating">
          {(e) => (
            <>
              <div className="cards">
                <Card label="Precision" value={fmtPct(e.pointwise.precision)} />
                <Card label="Recall" value={fmtPct(e.pointwise.recall)} />
                <Card label="F1" value={fmtNum(e.pointwise.f1, 3)} />
                <Card label="ROC-AUC" value={fmtNum(e.roc_auc, 4)} />
                <Card label="PR-AUC" value={fmtNum(e.pr_auc, 4)} note="average precision" />
                <Card
                  label="Event recall"
                  value={fmtPct(e.events.overall.recall)}
                  note={`${e.events.overall.detected} of ${e.events.overall.episodes} episodes`}
                />
                <Card
                  label="Time to detect"
                  value={fmtNum(e.events.overall.median_time_to_detect_records, 3)}
                  note={`median records (mean ${fmtNum(e.events.overall.mean_time_to_detect_records, 3)})`}
                />
                <Card
                  label="Alerts"
                  value={fmtInt(e.events.alerts)}
                  note={`${fmtInt(e.events.false_alerts)} false · ${fmtNum(e.events.alerts_per_episode, 3)} per episode`}
                />
              </div>
              <div className="grid-2">
                <div>
                  <h3>Confusion matrix at the model&apos;s flag</h3>
                  <Confusion e={e} />
                  <p className="legend-note">
                    {fmtInt(e.records)} records · {fmtInt(e.anomalies)} anomalous ·{' '}
                    {fmtInt(e.invalid_records)} invalid · policy {e.policy} · job{' '}
                    <span className="mono">{shortId(e.job_id)}</span> ·{' '}
                    <Link href={hrefOf('alerts', { source: e.job_id })}>its alerts</Link>
                  </p>
                </div>
                <Curves e={e} />
              </div>
              <h3>Events by anomaly type</h3>
              <EventsTable e={e} />
            </>
          )}
        </AsyncView>
      </Panel>
      {state.data && <ErrorDistribution modelId={modelId} datasetId={datasetId} jobId={jobId} />}
    </>
  );
}

function EvaluationChooser({ modelId, jobs }: { modelId: string; jobs: AsyncState<JobListWire> }) {
  const { params } = useLocation();
  const datasets = useDatasets(100);
  const names = new Map(datasets.data?.items.map((d) => [d.id, d.name]));
  const done = jobs.data?.items.filter((j) => j.status === 'completed') ?? [];
  const scored = [...new Set(done.map((j) => j.dataset_id))];
  const datasetId = params.get('dataset') ?? scored[0] ?? '';
  const jobId = params.get('job') ?? undefined;
  return (
    <>
      <Panel
        title="Evaluate on a scored dataset"
        actions={
          scored.length > 0 && (
            <select
              aria-label="Scored dataset"
              value={datasetId}
              onChange={(e) => setParams({ dataset: e.target.value, job: undefined })}
            >
              {scored.map((id) => (
                <option key={id} value={id}>
                  {names.get(id) ?? id}
                </option>
              ))}
            </select>
          )
        }
      >
        <AsyncView
          state={jobs}
          isEmpty={() => datasetId === ''}
          empty="No completed scoring job for this model yet: score a dataset above."
        >
          {() => (
            <p className="muted">
              Figures from {jobId ? `job ${shortId(jobId)}` : 'the latest completed job'} on{' '}
              {names.get(datasetId) ?? datasetId}.
            </p>
          )}
        </AsyncView>
      </Panel>
      {datasetId && (
        <Evaluation
          key={`${datasetId}/${jobId ?? ''}`}
          modelId={modelId}
          datasetId={datasetId}
          jobId={jobId}
        />
      )}
    </>
  );
}

function ModelPage({ modelId }: { modelId: string }) {
  const model = useModel(modelId);
  const jobs = useJobs(100, modelId);
  return (
    <AsyncView state={model} loadingText="Loading model">
      {(m) =>
        m.status !== 'completed' ? (
          <Panel title={m.name}>
            <Status status={m.status} /> {m.error ?? 'This model is not trained yet.'}
          </Panel>
        ) : (
          <>
            <Panel
              title={`Model ${m.name}`}
              actions={<Link href={hrefOf('runs', { model: m.id })}>Run detail</Link>}
            >
              <ArtifactSummary m={m} />
            </Panel>
            <ScoringPanel modelId={modelId} jobs={jobs} />
            <EvaluationChooser modelId={modelId} jobs={jobs} />
          </>
        )
      }
    </AsyncView>
  );
}

export function ModelsView() {
  const models = useModels(100);
  return (
    <CompletedChooser
      title="Model"
      param="model"
      list={models}
      optionLabel={modelLabel}
      resets={['dataset', 'job']}
      empty={
        <>
          No trained model yet. <Link href={hrefOf('control')}>Train one</Link>.
        </>
      }
    >
      {(modelId) => <ModelPage key={modelId} modelId={modelId} />}
    </CompletedChooser>
  );
}
