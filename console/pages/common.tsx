// Pieces several pages use: loading/error states and a polling hook.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { capitalise, explain } from '../words.js';

export function ErrorLine(props: { error: unknown }) {
  if (!props.error) return null;
  const message = props.error instanceof ApiError ? explain(props.error.message).reasons.map(capitalise).join('. ') : String(props.error);
  return <p class="error" role="alert">{message}</p>;
}

/** Loads once on mount and whenever `deps` change; `reload` loads again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (value) => { if (live) { setData(value); setError(undefined); } },
      (err) => { if (live) setError(err); },
    );
    return () => { live = false; };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

/** Calls `tick` every `ms` while the page is shown. */
export function useInterval(tick: () => void, ms: number): void {
  useEffect(() => {
    const timer = setInterval(tick, ms);
    return () => clearInterval(timer);
  }, [ms]);
}
