/**
 * Runs: datasets, models and scoring jobs with status, sizes and timings; a click shows a run's
 * detail, and datasets and models can be deleted after a confirmation.
 */
import type { ReactNode } from 'react';
import type { Dataset } from '../../../src/contract/datasets.js';
import type { JobWire } from '../../../src/contract/jobs.js';
import type { ModelListItemWire } from '../../../src/contract/models.js';
import { useApi } from '../api-context.js';
import { trainingFraction, trainingLabel, unfinished, useDatasets, useModels } from '../data.js';
import { fmtDuration, fmtInt, fmtNum, fmtTime, secondsBetween, shortId } from '../format.js';
import { useRefresh } from '../live.js';
import { hrefOf, Link, setParams, useLocation } from '../router.js';
import { useAction, useAsync, type AsyncState } from '../use-async.js';
import { AsyncList, AsyncView, ErrorBox } from '../components/states.js';
import { ConfirmButton, numeric, Panel, ProgressBar, Status, Table } from '../components/widgets.js';
import type { Column } from '../components/widgets.js';

const rate = (rows: number, s: number | null) => (s !== null && s > 0 ? `${fmtInt(rows / s)} rows/s` : '—');

function DatasetDetail({ id, onDeleted }: { id: string; onDeleted: () => void }) {
  const api = useApi();
  const ds = useAsync(() => api.getDataset(id), [api, id]);
  useRefresh(ds.reload, { topics: ['datasets'], active: ds.data ? unfinished(ds.data.status) : false });
  const remove = useAction(async () => {
    await api.deleteDataset(id);
    onDeleted();
  });
  return (
    <Panel
      title="Dataset"
      actions={
        <>
          {ds.data?.status === 'completed' && (
            <Link href={hrefOf('analytics', { dataset: id })}>Analytics</Link>
          )}
          <ConfirmButton label="Delete" confirmLabel="Delete dataset and its rows" onConfirm={remove.run} />
          <button type="button" className="secondary" onClick={() => setParams({ dataset: undefined })}>
            Close
          </button>
        </>
      }
    >
      {remove.error && <ErrorBox error={remove.error} />}
      <AsyncView state={ds}>
        {(d) => (
          <>
            <dl className="props">
              <dt>id</dt>
              <dd className="mono">{d.id}</dd>
              <dt>name</dt>
              <dd>{d.name}</dd>
              <dt>status</dt>
              <dd>
                <Status status={d.status} /> {d.error && <span className="form-error">{d.error}</span>}
              </dd>
              <dt>rows</dt>
              <dd>
                {fmtInt(d.row_count)} of {fmtInt(d.rows_total)} · {d.host_count} hosts
              </dd>
              <dt>created</dt>
              <dd>{fmtTime(d.created_at)}</dd>
              <dt>generation</dt>
              <dd>
                {fmtDuration(secondsBetween(d.started_at, d.finished_at))} ·{' '}
                {rate(d.row_count, secondsBetween(d.started_at, d.finished_at))}
              </dd>
            </dl>
            {unfinished(d.status) && <ProgressBar fraction={d.progress} label="generating" />}
            <h3>Parameters</h3>
            <pre className="json">{JSON.stringify(d.params, null, 2)}</pre>
            {d.stats && (
              <>
                <h3>Statistics</h3>
                <pre className="json">{JSON.stringify(d.stats, null, 2)}</pre>
              </>
            )}
          </>
        )}
      </AsyncView>
    </Panel>
  );
}

function ModelDetail({ id, onDeleted }: { id: string; onDeleted: () => void }) {
  const api = useApi();
  const m = useAsync(() => api.getModel(id), [api, id]);
  useRefresh(m.reload, { topics: ['models'], active: m.data ? unfinished(m.data.status) : false });
  const remove = useAction(async () => {
    await api.deleteModel(id);
    onDeleted();
  });
  return (
    <Panel
      title="Model"
      actions={
        <>
          {m.data?.status === 'completed' && (
            <Link href={hrefOf('models', { model: id })}>Open in Models</Link>
          )}
          <ConfirmButton label="Delete" confirmLabel="Delete model" onConfirm={remove.run} />
          <button type="button" className="secondary" onClick={() => setParams({ model: undefined })}>
            Close
          </button>
        </>
      }
    >
      {remove.error && <ErrorBox error={remove.error} />}
      <AsyncView state={m}>
        {(d) => (
          <>
            <dl className="props">
              <dt>id</dt>
              <dd className="mono">{d.id}</dd>
              <dt>name</dt>
              <dd>{d.name}</dd>
              <dt>status</dt>
              <dd>
                <Status status={d.status} /> {d.error && <span className="form-error">{d.error}</span>}
              </dd>
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
                    total {fmtDuration(d.timings.total_s)} · moments {fmtDuration(d.timings.moments_s)} ·
                    robust {fmtDuration(d.timings.robust_s)} · limits {fmtDuration(d.timings.limits_s)} ·
                    artifact {fmtDuration(d.timings.artifact_write_s)}
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
            </dl>
            {unfinished(d.status) && <ProgressBar fraction={trainingFraction(d)} label={trainingLabel(d)} />}
            <h3>Parameters</h3>
            <pre className="json">{JSON.stringify(d.params, null, 2)}</pre>
          </>
        )}
      </AsyncView>
    </Panel>
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
  const api = useApi();
  const { params } = useLocation();
  const datasets = useDatasets(100);
  const models = useModels(100);
  const jobs = useAsync(() => api.listJobs({ limit: 50 }), [api]);
  useRefresh(jobs.reload, {
    topics: ['jobs'],
    active: jobs.data?.items.some((j) => unfinished(j.status)) ?? false,
  });
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
