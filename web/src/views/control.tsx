/**
 * Control: generate a dataset, train a model, score sample records. Every form is checked
 * against the contract's schema before it is sent; long work shows live progress and lands in
 * the lists below when done.
 */
import { useId, useState } from 'react';
import { CreateDatasetRequestSchema } from '../../../src/contract/datasets.js';
import { TrainRequestSchema } from '../../../src/contract/models.js';
import {
  INFERENCE_METRICS,
  InferenceRequestSchema,
  type InferenceRequestWire,
} from '../../../src/contract/inference.js';
import { useApi } from '../api-context.js';
import { trainingFraction, trainingLabel, unfinished, useDatasets, useModels } from '../data.js';
import {
  apiFieldErrors,
  bindFields,
  checkBody,
  numberOrUndefined,
  unchosen,
  useSubmit,
  withoutBlanks,
  type Checked,
} from '../forms.js';
import { fmtDuration, fmtInt, fmtNum, fmtTime, secondsBetween } from '../format.js';
import {
  DatasetSelectField,
  FormError,
  InputField,
  ModelSelectField,
  SubmitButton,
} from '../components/field.js';
import { AsyncList } from '../components/states.js';
import type { AsyncState } from '../use-async.js';
import type { DatasetList } from '../../../src/contract/datasets.js';
import type { ModelListWire } from '../../../src/contract/models.js';
import { numeric, Panel, ProgressBar, Status, Table } from '../components/widgets.js';
import { hrefOf, Link } from '../router.js';

/** The generation form's fields, as typed. */
interface GenerateFields {
  name: string;
  host_count: string;
  duration_s: string;
  interval_s: string;
  seed: string;
  anomaly_rate: string;
}

/** The request a generation form sends (blank fields take the API's defaults). */
export function generateRequest(f: GenerateFields): Record<string, unknown> {
  return withoutBlanks({
    host_count: numberOrUndefined(f.host_count),
    duration_s: numberOrUndefined(f.duration_s),
    interval_s: numberOrUndefined(f.interval_s),
    seed: numberOrUndefined(f.seed),
    anomaly_rate: numberOrUndefined(f.anomaly_rate),
    name: f.name.trim() || undefined,
  });
}

function GenerateForm({ onCreated }: { onCreated: () => void }) {
  const api = useApi();
  const [f, setF] = useState<GenerateFields>({
    name: '',
    host_count: '10',
    duration_s: '86400',
    interval_s: '60',
    seed: '42',
    anomaly_rate: '0.02',
  });

  const hosts = Number(f.host_count);
  const steps = Math.floor(Number(f.duration_s) / Number(f.interval_s));
  const rows = Number.isFinite(hosts * steps) && hosts > 0 && steps > 0 ? hosts * steps : null;

  const { errors, busy, result, onSubmit } = useSubmit(
    () => checkBody(CreateDatasetRequestSchema, generateRequest(f)),
    async (body) => {
      const ds = await api.createDataset(body);
      onCreated();
      return `Generating ${ds.name} (${fmtInt(ds.rows_total)} rows)`;
    },
  );
  const field = bindFields(f, setF, errors);

  return (
    <Panel title="Generate a dataset">
      <form onSubmit={onSubmit} noValidate aria-label="Generate a dataset">
        <div className="fields">
          <InputField label="Name" {...field('name')} placeholder="automatic" />
          <InputField label="Hosts" type="number" {...field('host_count')} />
          <InputField
            label="Duration (s)"
            type="number"
            {...field('duration_s')}
            hint={fmtDuration(Number(f.duration_s))}
          />
          <InputField label="Interval (s)" type="number" {...field('interval_s')} />
          <InputField label="Seed" type="number" {...field('seed')} />
          <InputField
            label="Anomaly rate"
            type="number"
            step="0.01"
            {...field('anomaly_rate')}
            hint="0 – 0.5"
          />
        </div>
        <FormError errors={errors} />
        <div className="row">
          <SubmitButton label="Generate" busyLabel="Sending…" busy={busy} />
          <span className="muted">{rows !== null ? `${fmtInt(rows)} rows` : ''}</span>
        </div>
        {result && <div role="status">{result}</div>}
      </form>
    </Panel>
  );
}

function TrainForm({ datasets, onTrained }: { datasets: AsyncState<DatasetList>; onTrained: () => void }) {
  const api = useApi();
  const [datasetId, setDatasetId] = useState('');
  const [f, setF] = useState({ name: '', variance: '0.95', n_components: '' });
  const [exclude, setExclude] = useState(false);

  const { errors, busy, result, onSubmit } = useSubmit(
    () =>
      checkBody(
        TrainRequestSchema,
        withoutBlanks({
          dataset_id: datasetId,
          variance: numberOrUndefined(f.variance),
          n_components: numberOrUndefined(f.n_components),
          exclude_labelled_anomalies: exclude,
          name: f.name.trim() || undefined,
        }),
        () => unchosen('dataset_id', datasetId, 'choose a completed dataset'),
      ),
    async (body) => {
      const res = await api.train(body);
      onTrained();
      return `Training model ${res.model_id.slice(0, 8)}`;
    },
  );
  const field = bindFields(f, setF, errors);

  return (
    <Panel title="Train a model">
      <form onSubmit={onSubmit} noValidate aria-label="Train a model">
        <DatasetSelectField list={datasets} value={datasetId} onChange={setDatasetId} errors={errors} />
        <div className="fields">
          <InputField label="Name" {...field('name')} placeholder="pca_v1" />
          <InputField label="Variance kept" type="number" step="0.01" {...field('variance')} hint="(0, 1]" />
          <InputField
            label="Components (k)"
            type="number"
            {...field('n_components')}
            hint="instead of variance"
          />
        </div>
        <label className="check">
          <input type="checkbox" checked={exclude} onChange={(e) => setExclude(e.target.checked)} />
          Leave labelled anomalies out of training
        </label>
        {datasets.error && <div className="form-error">Datasets: {datasets.error.message}</div>}
        <FormError errors={errors} />
        <div className="row">
          <SubmitButton label="Train" busyLabel="Sending…" busy={busy} />
        </div>
        {result && <div role="status">{result}</div>}
      </form>
    </Panel>
  );
}

const EXAMPLE_HOST = 'host-0001';

/** Sample records around a model's medians: one typical record, one with `metric` far off. */
export function sampleRecords(
  metrics: readonly string[],
  median: readonly number[],
  zScale: readonly number[],
  at: Date,
): Record<string, unknown>[] {
  const typical: Record<string, unknown> = { host_id: EXAMPLE_HOST, ts: at.toISOString() };
  metrics.forEach((m, i) => (typical[m] = Number((median[i] ?? 0).toFixed(4))));
  const next = new Date(at.getTime() + 60_000).toISOString();
  const odd: Record<string, unknown> = { ...typical, ts: next };
  const j = Math.max(0, metrics.indexOf('latency_ms'));
  const name = metrics[j] ?? 'latency_ms';
  odd[name] = Number(((median[j] ?? 0) + 12 * (zScale[j] ?? 1)).toFixed(4));
  return [typical, odd];
}

/**
 * The scoring request of a model and the records' JSON text, or the messages to show: a record's
 * message names its place in the array (`records.0.ts: …`).
 */
function scoreRequest(modelId: string, text: string): Checked<InferenceRequestWire> {
  let records: unknown;
  try {
    records = JSON.parse(text);
  } catch {
    return { ok: false, errors: { records: 'records must be a JSON array of telemetry records' } };
  }
  return checkBody(InferenceRequestSchema, { model_id: modelId, records }, (error) => {
    const first = error.issues.find((i) => i.path[0] === 'records');
    return {
      ...(first ? { records: `${first.path.join('.')}: ${first.message}` } : {}),
      ...unchosen('model_id', modelId, 'choose a completed model'),
    };
  });
}

function ScoreForm({ models }: { models: AsyncState<ModelListWire> }) {
  const api = useApi();
  const recordsId = useId();
  const [modelId, setModelId] = useState('');
  const [text, setText] = useState('');
  const { errors, setErrors, busy, result, onSubmit } = useSubmit(
    () => scoreRequest(modelId, text),
    (body) => api.inference(body),
  );

  const fill = async () => {
    if (modelId === '') {
      setErrors({ model_id: 'choose a model first' });
      return;
    }
    try {
      const m = await api.getModel(modelId);
      if (!m.summary) throw new Error('the model has no summary yet');
      const recs = sampleRecords(m.summary.metrics, m.summary.median, m.summary.z_scale, new Date());
      setText(JSON.stringify(recs, null, 2));
      setErrors({});
    } catch (err) {
      setErrors(apiFieldErrors(err));
    }
  };

  return (
    <Panel title="Score samples">
      <form onSubmit={onSubmit} noValidate aria-label="Score samples">
        <ModelSelectField list={models} value={modelId} onChange={setModelId} errors={errors} />
        <div className="field">
          <label htmlFor={recordsId}>Records</label>
          <span className="muted">
            A JSON array of records: host_id, ts and the metrics {INFERENCE_METRICS.join(', ')}
          </span>
          <textarea
            id={recordsId}
            name="records"
            value={text}
            aria-invalid={errors.records !== undefined}
            onChange={(e) => setText(e.target.value)}
            placeholder='[{"host_id": "host-0001", "ts": "2024-01-01T00:00:00Z", "cpu_usage": 40, …}]'
          />
          {errors.records !== undefined && <span className="field-error">{errors.records}</span>}
        </div>
        <FormError errors={errors} />
        <div className="row">
          <SubmitButton label="Score" busyLabel="Scoring…" busy={busy} />
          <button type="button" className="secondary" onClick={() => void fill()}>
            Fill with sample records
          </button>
        </div>
      </form>
      {result && (
        <div className="table-wrap">
          <p className="muted">
            {result.record_count} records · {result.anomalous_count} anomalous · {result.invalid_count}{' '}
            invalid · {fmtNum(result.latency_ms, 3)} ms
          </p>
          <Table
            label="Scores"
            columns={[
              '#',
              numeric('fused'),
              numeric('SPE'),
              numeric('T²'),
              numeric('max |z|'),
              'anomalous',
              'top metric',
            ]}
          >
            {result.results.map((r, i) => (
              <tr key={i}>
                <td>{i + 1}</td>
                <td className="num">{fmtNum(r.fused)}</td>
                <td className="num">{fmtNum(r.spe)}</td>
                <td className="num">{fmtNum(r.t2)}</td>
                <td className="num">{fmtNum(r.z_max)}</td>
                <td>{!r.valid ? 'invalid' : r.anomalous ? <Status status="anomalous" /> : 'no'}</td>
                <td>{r.top_metric ?? '—'}</td>
              </tr>
            ))}
          </Table>
        </div>
      )}
    </Panel>
  );
}

/**
 * Where a dataset's generation or a model's training stands: its progress while unfinished, its
 * error once failed, else how long it took and when it ended.
 */
function RunProgress(props: {
  run: { status: string; error: string | null; started_at: string | null; finished_at: string | null };
  fraction: number;
  label: string;
}) {
  const { run } = props;
  if (unfinished(run.status)) return <ProgressBar fraction={props.fraction} label={props.label} />;
  if (run.status === 'failed') return <span className="form-error">{run.error}</span>;
  return (
    <span className="muted">
      {fmtDuration(secondsBetween(run.started_at, run.finished_at))} · {fmtTime(run.finished_at)}
    </span>
  );
}

function Activity(props: { datasets: AsyncState<DatasetList>; models: AsyncState<ModelListWire> }) {
  const { datasets, models } = props;
  return (
    <div className="grid-2">
      <Panel title="Recent datasets" actions={<Link href={hrefOf('runs')}>All runs</Link>}>
        <AsyncList state={datasets} empty="No dataset yet: generate one above.">
          {(d) => (
            <Table label="Recent datasets" columns={['name', 'status', numeric('rows'), 'progress / time']}>
              {d.items.map((x) => (
                <tr key={x.id}>
                  <td title={x.id}>{x.name}</td>
                  <td>
                    <Status status={x.status} />
                  </td>
                  <td className="num">{fmtInt(x.row_count)}</td>
                  <td>
                    <RunProgress run={x} fraction={x.progress} label={`generating ${x.name}`} />
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </AsyncList>
      </Panel>
      <Panel title="Recent models" actions={<Link href={hrefOf('models')}>Models</Link>}>
        <AsyncList state={models} empty="No model yet: train one above.">
          {(d) => (
            <Table label="Recent models" columns={['name', 'status', numeric('k'), 'progress / time']}>
              {d.items.map((m) => (
                <tr key={m.id}>
                  <td title={m.id}>
                    {m.status === 'completed' ? (
                      <Link href={hrefOf('models', { model: m.id })}>{m.name}</Link>
                    ) : (
                      m.name
                    )}
                  </td>
                  <td>
                    <Status status={m.status} />
                  </td>
                  <td className="num">{m.n_components ?? '—'}</td>
                  <td>
                    <RunProgress
                      run={m}
                      fraction={trainingFraction(m)}
                      label={`training ${m.name}: ${trainingLabel(m)}`}
                    />
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </AsyncList>
      </Panel>
    </div>
  );
}

export function ControlView() {
  const datasets = useDatasets(50);
  const models = useModels(50);
  return (
    <>
      <div className="grid">
        <GenerateForm onCreated={datasets.reload} />
        <TrainForm datasets={datasets} onTrained={models.reload} />
        <ScoreForm models={models} />
      </div>
      <Activity datasets={datasets} models={models} />
    </>
  );
}
