/**
 * Small pieces shared by the views: progress bars, status badges, confirmations, cards, tables,
 * and the choice of a completed dataset or model.
 */
import { useState, type ReactNode } from 'react';
import { setParams, useLocation } from '../router.js';
import type { AsyncState } from '../use-async.js';
import { AsyncView } from './states.js';

/** A progress bar for a fraction in [0, 1]; `label` says what is under way. */
export function ProgressBar({ fraction, label }: { fraction: number; label: string }) {
  const pct = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0)) * 100;
  return (
    <div className="progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(pct)}
      >
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="progress-text">
        {label} · {pct.toFixed(0)} %
      </span>
    </div>
  );
}

/** A status word in a coloured badge. */
export function Status({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

/**
 * A button that asks before it acts: the first click turns it into "Confirm" and "Keep"; the
 * action runs only on "Confirm".
 */
export function ConfirmButton(props: {
  label: string;
  confirmLabel: string;
  onConfirm: () => void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className="danger" disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span className="confirm">
      <button
        type="button"
        className="danger"
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirmLabel}
      </button>
      <button type="button" className="secondary" onClick={() => setAsking(false)}>
        Keep
      </button>
    </span>
  );
}

/** A figure with its caption, for the summary cards. */
export function Card({ label, value, note }: { label: string; value: ReactNode; note?: ReactNode }) {
  return (
    <div className="card">
      <div className="card-label">{label}</div>
      <div className="card-value">{value}</div>
      {note !== undefined && <div className="card-note">{note}</div>}
    </div>
  );
}

/** A titled section of a view. */
export function Panel(props: {
  title: string;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`panel ${props.className ?? ''}`}>
      <header className="panel-head">
        <h2>{props.title}</h2>
        {props.actions && <div className="panel-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

/** Horizontal bars of counts, largest first as given; `share` labels each bar. */
export function Bars(props: { items: { label: string; count: number; share: number }[]; title: string }) {
  const max = Math.max(1, ...props.items.map((i) => i.count));
  return (
    <div className="bars" role="list" aria-label={props.title}>
      {props.items.map((i) => (
        <div className="bar-row" role="listitem" key={i.label}>
          <span className="bar-label" title={i.label}>
            {i.label}
          </span>
          <span className="bar-track">
            <span className="bar-fill" style={{ width: `${(i.count / max) * 100}%` }} />
          </span>
          <span className="bar-value">
            {i.count.toLocaleString('en-US')} <small>({(i.share * 100).toFixed(1)} %)</small>
          </span>
        </div>
      ))}
    </div>
  );
}

/** A table column's header: its text, with `num` for a column of figures (right-aligned). */
export type Column = string | { label: string; num: true };

/** The header of a column of figures. */
export function numeric(label: string): Column {
  return { label, num: true };
}

/** A row's cells of figures (right-aligned, as under {@link numeric} headers), one per value. */
export function FigureCells({ values }: { values: readonly ReactNode[] }) {
  return (
    <>
      {values.map((v, i) => (
        <td key={i} className="num">
          {v}
        </td>
      ))}
    </>
  );
}

/** A table named `label` (its accessible name) with a header row of `columns` above its rows. */
export function Table(props: { label: string; columns: readonly Column[]; children: ReactNode }) {
  return (
    <table aria-label={props.label}>
      <thead>
        <tr>
          {props.columns.map((c, i) =>
            typeof c === 'string' ? (
              <th key={i}>{c}</th>
            ) : (
              <th key={i} className="num">
                {c.label}
              </th>
            ),
          )}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}

/**
 * The choice of one completed item of `list` (a dataset, a model) for a view, kept in the URL
 * parameter `param`: the item named there, else the newest completed one. Choosing another drops
 * the URL parameters of `resets` (what was chosen within the previous item); `children(id)` shows
 * the chosen item below the panel.
 */
export function CompletedChooser<T extends { id: string; status: string }>(props: {
  /** The panel's title and the select's accessible name. */
  title: string;
  param: string;
  list: AsyncState<{ items: readonly T[] }>;
  /** An item's label in the select. */
  optionLabel: (item: T) => string;
  resets: readonly string[];
  /** What the panel says when there is no completed item. */
  empty: ReactNode;
  children: (id: string) => ReactNode;
}) {
  const { params } = useLocation();
  const chosen = params.get(props.param) ?? '';
  const completed = props.list.data?.items.filter((x) => x.status === 'completed') ?? [];
  const id = chosen || completed[0]?.id || '';
  const choose = (value: string) =>
    setParams({ [props.param]: value, ...Object.fromEntries(props.resets.map((r) => [r, undefined])) });
  return (
    <>
      <Panel
        title={props.title}
        actions={
          completed.length > 0 && (
            <select aria-label={props.title} value={id} onChange={(e) => choose(e.target.value)}>
              {chosen && !completed.some((x) => x.id === chosen) && <option value={chosen}>{chosen}</option>}
              {completed.map((x) => (
                <option key={x.id} value={x.id}>
                  {props.optionLabel(x)}
                </option>
              ))}
            </select>
          )
        }
      >
        <AsyncView state={props.list} isEmpty={() => id === ''} empty={props.empty}>
          {() => <p className="muted mono">{id}</p>}
        </AsyncView>
      </Panel>
      {id && props.children(id)}
    </>
  );
}
