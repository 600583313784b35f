/** Small pieces shared by the views: progress bars, status badges, confirmations, cards, tables. */
import { useState, type ReactNode } from 'react';

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

/** A table column's header: its text, or its text and `num` for a column of figures (right-aligned). */
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

/** A table named `label` (its accessible name) with a header row of `columns`; `children` are its rows. */
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
