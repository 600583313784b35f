/**
 * Runs: datasets, models and scoring jobs with status, sizes and timings; a click shows a run's
 * detail, and datasets and models can be deleted after a confirmation.
 */
import type { ReactNode } from 'react';
import type { Dataset } from '../../../src/contract/datasets.js';
import type { JobWire } from '../../../src/contract/jobs.js';
import type { ModelListItemWire } from '../../../src/contract/models.js';
import type { TadsClient } from '../../../src/client/index.js';
import { useApi } from '../api-context.js';
import {
  trainingFraction,
  trainingLabel,
  unfinished,
  useDataset,
  useDatasets,
  useJobs,
  useModel,
  useModels,
} from '../data.js';
import { fmtDuration, fmtInt, fmtNum, fmtTime, secondsBetween, shortId } from '../format.js';
import { hrefOf, Link, setParams, useLocation } from '../router.js';
import { useAction, type AsyncState } from '../use-async.js';
import { AsyncList, AsyncView, ErrorBox } from '../components/states.js';
import {
  ConfirmButton,
  numeric,
  Panel,
  ProgressBar,
  Status,
  Table,
  type Column,
} from '../components/widgets.js';

const rate = (rows: number, s: number | null) => (s !== null && s > 0 ? `${fmtInt(rows / s)} rows/s` : '—');

/** What a run's detail shows of every run. */
interface RunBase {
  id: string;
  name: string;
  status: string;
  error: string | null;
  params: unknown;
}

/**
 * A run's detail, shown while the URL parameter named after its `kind` is set: its id, name and
 * status, then `children(run)` (more properties), its progress while unfinished, its parameters and
 * `more(run)`. `openLink` (to open the run elsewhere) is shown once it is completed; the run can be
 * deleted after a confirmation.
 */
function RunDetail<R extends RunBase>(props: {
  kind: 'dataset' | 'model';
  run: AsyncState<R>;
  openLink: ReactNode;
  progress: (run: R) => { fraction: number; label: string };
  confirmLabel: string;
  remove: (api: TadsClient) => Promise<unknown>;
  onDeleted: () => void;
  more?: (run: R) => ReactNode;
  children: (run: R) => ReactNode;
}) {
  const api = useApi();
  const remove = useAction(async () => {
    await props.remove(api);
    props.onDeleted();
  });
  return (
    <Panel
      title={props.kind === 'dataset' ? 'Dataset' : 'Model'}
      actions={
        <>
          {props.run.data?.status === 'completed' && props.openLink}
          <ConfirmButton label="Delete" confirmLabel={props.confirmLabel} onConfirm={remove.run} />
          <button type="button" className="secondary" onClick={() => setParams({ [props.kind]: undefined })}>
            Close
          </button>
        </>
      }
    >
      {remove.error && <ErrorBox error={remove.error} />}
      <AsyncView state={props.run}>
        {(r) => (
          <>
            <dl className="props">
              <dt>id</dt>
              <dd className="mono">{r.id}</dd>
              <dt>name</dt>
              <dd>{r.name}</dd>
              <dt>status</dt>
              <dd>
                <Status status={r.status} /> {r.error && <span className="form-error">{r.error}</span>}
              </dd>
              {props.children(r)}
            </dl>
            {unfinished(r.status) && <ProgressBar {...props.progress(r)} />}
            <JsonBlock title="Parameters" value={r.params} />
            {props.more?.(r)}
          </>
        )}
      </AsyncView>
    </Panel>
  );
}

/** A titled block of JSON (a run's parameters, a dataset's statistics). */
function JsonBlock({ title, value }: { title: string; value: unknown }) {
  return (
    <>
      <h3>{title}</h3>
      <pre className="json">{JSON.stringify(value, null, 2)}</pre>
    </>
  );
}

function DatasetDetail({ id, onDeleted }: { id: string; onDeleted: () => void }) {
  const ds = useDataset(id);
  return (
    <RunDetail
      kind="dataset"
      openLink={<Link href={hrefOf('analytics', { dataset: id })}>Analytics</Link>}
      run={ds}
      progress={(d) => ({ fraction: d.progress, label: 'generating' })}
      confirmLabel="Delete dataset and its rows"
      remove={(api) => api.deleteDataset(id)}
      onDeleted={onDeleted}
      more={(d) => d.stats && <JsonBlock title="Statistics" value={d.stats} />}
    >
      {(d) => (
        <>
          <dt>rows</dt>
          <dd>
            {fmtInt(d.row_count)} of {fmtInt(d.rows_total)} · {d.host_count} hosts
          </dd>
          <dt>metrics</dt>
          <dd title={d.metrics.join(', ')}>
            {d.metrics.length} ({d.source}){d.labels.length > 0 ? ` · labels ${d.labels.join(', ')}` : ''}
          </dd>
          <dt>created</dt>
          <dd>{fmtTime(d.created_at)}</dd>
          <dt>generation</dt>
          <dd>
            {fmtDuration(secondsBetween(d.started_at, d.finished_at))} ·{' '}
            {rate(d.row_count, secondsBetween(d.started_at, d.finished_at))}
          </dd>
        </>
      )}
    </RunDetail>
  );
}

function ModelDetail({ id, onDeleted }: { id: string; onDeleted: () => void }) {
  const m = useModel(id);
  return (
    <RunDetail
      kind="model"
      openLink={<Link href={hrefOf('models', { model: id })}>Open in Models</Link>}
      run={m}
      progress={(d) => ({ fraction: trainingFraction(d), label: trainingLabel(d) })}
      confirmLabel="Delete model"
      remove={(api) => api.deleteModel(id)}
      onDeleted={onDeleted}
    >
      {(d) => (
        <>
          <dt>dataset</dt>
          <dd className="mono">{d.dataset_id ?? 'deleted'}</dd>
          <dt>components</dt>
          <dd>
            k = {d.n_components ?? '—'} · {fmtInt(d.n_samples)} samples
            {d.summary && ` · ${(d.summary.cumulative_explained_variance * 100).toFixed(2)} % variance`}
          </dd>
          <dt>created</dt>
          <dd>{fmtTime(d.created_at)}</dd>
          {d.timings && (
            <>
              <dt>timings</dt>
              <dd>
                total {fmtDuration(d.timings.total_s)} · moments {fmtDuration(d.timings.moments_s)} · robust{' '}
                {fmtDuration(d.timings.robust_s)} · limits {fmtDuration(d.timings.limits_s)} · artifact{' '}
                {fmtDuration(d.timings.artifact_write_s)}
              </dd>
              <dt>throughput</dt>
              <dd>
                {fmtInt(d.timings.rows_per_s)} rows/s · {d.timings.passes} passes · peak RSS{' '}
                {fmtNum(d.timings.peak_rss_mb, 4)} MB
              </dd>
            </>
          )}
          {d.artifact_path && (
            <>
              <dt>artifact</dt>
              <dd className="mono">{d.artifact_path}</dd>
            </>
          )}
        </>
      )}
    </RunDetail>
  );
}

function DatasetRow({ d, selected }: { d: Dataset; selected: boolean }) {
  const secs = secondsBetween(d.started_at, d.finished_at);
  return (
    <tr
      className={`clickable ${selected ? 'selected' : ''}`}
      onClick={() => setParams({ dataset: d.id, model: undefined })}
    >
      <td title={d.id}>{d.name}</td>
      <td>
        <Status status={d.status} />
      </td>
      <td className="num">{d.host_count}</td>
      <td className="num">{fmtInt(d.row_count)}</td>
      <td>
        {unfinished(d.status) ? (
          <ProgressBar fraction={d.progress} label="generating" />
        ) : (
          `${fmtDuration(secs)} · ${rate(d.row_count, secs)}`
        )}
      </td>
      <td>{fmtTime(d.created_at)}</td>
    </tr>
  );
}

function ModelRow({ m, selected }: { m: ModelListItemWire; selected: boolean }) {
  return (
    <tr
      className={`clickable ${selected ? 'selected' : ''}`}
      onClick={() => setParams({ model: m.id, dataset: undefined })}
    >
      <td title={m.id}>{m.name}</td>
      <td>
        <Status status={m.status} />
      </td>
      <td className="num">{m.n_components ?? '—'}</td>
      <td className="num">{fmtInt(m.n_samples)}</td>
      <td>
        {unfinished(m.status) ? (
          <ProgressBar fraction={trainingFraction(m)} label={trainingLabel(m)} />
        ) : (
          fmtDuration(secondsBetween(m.started_at, m.finished_at))
        )}
      </td>
      <td className="mono">{shortId(m.dataset_id)}</td>
      <td>{fmtTime(m.created_at)}</td>
    </tr>
  );
}

function JobRow({ j }: { j: JobWire }) {
  const total = j.timings.scoring_ms + j.timings.alerts_ms;
  return (
    <tr>
      <td className="mono" title={j.id}>
        {shortId(j.id)}
      </td>
      <td>
        <Status status={j.status} />
      </td>
      <td>{j.policy}</td>
      <td className="num">
        {fmtInt(j.rows_done)} / {fmtInt(j.rows_total)}
      </td>
      <td>
        {unfinished(j.status) ? (
          <ProgressBar fraction={j.rows_total > 0 ? j.rows_done / j.rows_total : 0} label={j.phase} />
        ) : (
          `${fmtDuration(total / 1000)} (scoring ${fmtDuration(j.timings.scoring_ms / 1000)}, alerts ${fmtDuration(j.timings.alerts_ms / 1000)})`
        )}
      </td>
      <td>
        <Link href={hrefOf('models', { model: j.model_id, dataset: j.dataset_id })}>
          {shortId(j.model_id)}
        </Link>
        {' on '}
        <span className="mono">{shortId(j.dataset_id)}</span>
      </td>
      <td>{fmtTime(j.created_at)}</td>
    </tr>
  );
}

/** A panel of one list of runs, as a table named after the panel. */
function ListPanel<T>(props: {
  title: string;
  state: AsyncState<{ items: readonly T[]; next_cursor: string | null }>;
  empty: ReactNode;
  columns: readonly Column[];
  /** An item's row (with its key). */
  row: (item: T) => ReactNode;
  /** Says how many are shown when the list goes on past them. */
  newestNote?: boolean;
}) {
  return (
    <Panel title={props.title}>
      <AsyncList state={props.state} empty={props.empty}>
        {(list) => (
          <div className="table-wrap">
            <Table label={props.title} columns={props.columns}>
              {list.items.map((item) => props.row(item))}
            </Table>
            {props.newestNote && list.next_cursor && (
              <p className="muted">Showing the newest {list.items.length}.</p>
            )}
          </div>
        )}
      </AsyncList>
    </Panel>
  );
}

export function RunsView() {
  const { params } = useLocation();
  const datasets = useDatasets(100);
  const models = useModels(100);
  const jobs = useJobs(50);
  const selDataset = params.get('dataset');
  const selModel = params.get('model');

  const afterDelete = (key: 'dataset' | 'model') => () => {
    setParams({ [key]: undefined });
    datasets.reload();
    models.reload();
    jobs.reload();
  };

  return (
    <>
      {selDataset && <DatasetDetail key={selDataset} id={selDataset} onDeleted={afterDelete('dataset')} />}
      {selModel && <ModelDetail key={selModel} id={selModel} onDeleted={afterDelete('model')} />}
      {!selDataset && !selModel && <p className="muted">Click a dataset or a model to see its detail.</p>}
      <div className="grid-2">
        <ListPanel
          title="Datasets"
          state={datasets}
          columns={['name', 'status', numeric('hosts'), numeric('rows'), 'time', 'created']}
          row={(x) => <DatasetRow key={x.id} d={x} selected={x.id === selDataset} />}
          newestNote
          empty={
            <>
              No dataset yet. <Link href={hrefOf('control')}>Generate one</Link>.
            </>
          }
        />
        <ListPanel
          title="Models"
          state={models}
          columns={['name', 'status', numeric('k'), numeric('samples'), 'time', 'dataset', 'created']}
          row={(m) => <ModelRow key={m.id} m={m} selected={m.id === selModel} />}
          newestNote
          empty={
            <>
              No model yet. <Link href={hrefOf('control')}>Train one</Link>.
            </>
          }
        />
      </div>
      <ListPanel
        title="Scoring jobs"
        state={jobs}
        columns={['job', 'status', 'policy', numeric('rows'), 'time', 'model on dataset', 'created']}
        row={(j) => <JobRow key={j.id} j={j} />}
        empty={
          <>
            No scoring job yet. <Link href={hrefOf('models')}>Start one from Models</Link>.
          </>
        }
      />
    </>
  );
}
