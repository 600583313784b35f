/** The loading, empty and error states every view shows, and a wrapper choosing among them. */
import type { ReactNode } from 'react';
import { errorText } from '../format.js';
import type { AsyncState } from '../use-async.js';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {what}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <span>{errorText(error)}</span>
      {onRetry && (
        <button type="button" className="secondary" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** Props of {@link AsyncView}. */
export interface AsyncViewProps<T> {
  state: AsyncState<T>;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  loadingText?: string;
  children: (data: T) => ReactNode;
}

/**
 * Shows `state`: loading, then its error (with a retry), an empty message when `isEmpty` says
 * so, else `children(data)`. An error of a reload is shown above the data still on screen.
 */
export function AsyncView<T>(props: AsyncViewProps<T>) {
  const { state } = props;
  if (state.loading) return <Loading {...(props.loadingText ? { what: props.loadingText } : {})} />;
  if (state.data === undefined) {
    if (state.error) return <ErrorBox error={state.error} onRetry={state.reload} />;
    return <Empty>{props.empty ?? 'Nothing to show.'}</Empty>;
  }
  const body =
    props.isEmpty?.(state.data) === true ? (
      <Empty>{props.empty ?? 'Nothing to show.'}</Empty>
    ) : (
      props.children(state.data)
    );
  return (
    <>
      {state.error && <ErrorBox error={state.error} onRetry={state.reload} />}
      {body}
    </>
  );
}

/** {@link AsyncView} of a list (a page of datasets, models, jobs…): empty when it has no items. */
export function AsyncList<L extends { items: readonly unknown[] }>(
  props: Omit<AsyncViewProps<L>, 'isEmpty'>,
) {
  return <AsyncView {...props} isEmpty={(list) => list.items.length === 0} />;
}
