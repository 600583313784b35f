/**
 * Loading a value for a view: its data, error and loading state, and a way to load it again; and
 * a call a button makes, with its error.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

/** The state of an asynchronous load. */
export interface AsyncState<T> {
  /** The latest value (kept while a reload is under way). */
  data: T | undefined;
  /** The latest load's error, if it failed. */
  error: Error | undefined;
  /** True while the first load (or a load after a change of `deps`) is under way. */
  loading: boolean;
  /** Loads again, keeping the current value on screen meanwhile. */
  reload: () => void;
}

/**
 * Runs `load` now and whenever `deps` change; `load` may return undefined to mean "nothing to
 * load" (the state is then empty, not loading). Answers of superseded loads are dropped.
 */
export function useAsync<T>(load: () => Promise<T> | undefined, deps: readonly unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback((fresh: boolean) => {
    const n = ++seq.current;
    const p = loadRef.current();
    if (p === undefined) {
      setState({ data: undefined, error: undefined, loading: false });
      return;
    }
    if (fresh) setState({ data: undefined, error: undefined, loading: true });
    p.then(
      (data) => {
        if (n === seq.current) setState({ data, error: undefined, loading: false });
      },
      (err: unknown) => {
        if (n !== seq.current) return;
        setState((s) => ({ data: fresh ? undefined : s.data, error: asError(err), loading: false }));
      },
    );
  }, []);

  useEffect(() => {
    run(true);
    return () => {
      seq.current++;
    };
  }, deps); // the caller's dependencies, as with useEffect

  const reload = useCallback(() => run(false), [run]);
  return { ...state, reload };
}

/** A call a button makes (delete, cancel, load more) and how its latest run failed. */
export interface Action {
  /** Runs the call; its error is cleared meanwhile. */
  run: () => void;
  /** The latest run's error, if it failed. */
  error: Error | undefined;
}

/** Runs `call` on demand, keeping its error for the view to show. */
export function useAction(call: () => Promise<void>): Action {
  const [error, setError] = useState<Error | undefined>(undefined);
  const run = () => {
    setError(undefined);
    call().catch((err: unknown) => setError(asError(err)));
  };
  return { run, error };
}

/** A rejection's reason as an Error. */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
