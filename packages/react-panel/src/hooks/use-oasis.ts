/**
 * The React binding of the data layer: each hook subscribes to a plain-TypeScript store with
 * `useSyncExternalStore`; no state of the API lives in React.
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore,
} from 'react';
import type { Me } from '../client/api-types';
import type { Subscribable } from '../client/external-store';
import { LogTail } from '../client/log-tail';
import type { OasisClient } from '../client/oasis-client';
import { Query, type QueryOptions, type QueryState } from '../client/query';

/** The client the panel's hooks use. */
export const ClientContext = createContext<OasisClient | null>(null);

/** The panel's client; throws outside `<OasisPanel>`. */
export function useClient(): OasisClient {
  const client = useContext(ClientContext);
  if (client === null) throw new Error('Oasis hooks must be used inside <OasisPanel>');
  return client;
}

/** The current snapshot of any store, re-rendering on each change. */
export function useStore<S>(store: Subscribable<S>): S {
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

/** A query's state plus a `refetch` to read it again now. */
export type UseQueryResult<T> = QueryState<T> & { refetch: () => Promise<void> };

/**
 * Reads the API through a `Query` made for `key`: a new key makes a new query (the old one is
 * disposed). `fetcher` is read when the key changes, so keep everything it depends on in the key.
 */
export function useQuery<T>(
  key: string,
  fetcher: (client: OasisClient, signal: AbortSignal) => Promise<T>,
  options: QueryOptions = {},
): UseQueryResult<T> {
  const client = useClient();
  // biome-ignore lint/correctness/useExhaustiveDependencies: the key names everything the query reads.
  const query = useMemo(() => new Query<T>((signal) => fetcher(client, signal), options), [client, key]);
  useEffect(() => () => query.dispose(), [query]);
  const state = useStore(query);
  const refetch = useCallback(() => query.fetch(), [query]);
  return { ...state, refetch };
}

/** The caller (user, role), read once. */
export function useMe(): QueryState<Me> {
  return useQuery('me', (client, signal) => client.me(signal));
}

/** The live log of a run (opened while the component is mounted). */
export function useLogTail(runId: string) {
  const client = useClient();
  const tail = useMemo(() => new LogTail(client, runId), [client, runId]);
  useEffect(() => () => tail.close(), [tail]);
  return useStore(tail);
}

/** An action's progress: run it, see whether it is running and how it failed. */
export interface Action<A extends unknown[], R> {
  run(...args: A): Promise<R | undefined>;
  pending: boolean;
  error: Error | null;
  reset(): void;
}

/**
 * Wraps an async call (a change through the API): `run` resolves with its result, or with
 * undefined after a failure, which is kept in `error` (401/403 also reach the panel's banner).
 */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>): Action<A, R> {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const run = useCallback(
    async (...args: A) => {
      setPending(true);
      setError(null);
      try {
        return await fn(...args);
      } catch (err) {
        setError(err instanceof Error ? err : new Error(String(err)));
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [fn],
  );
  return { run, pending, error, reset: () => setError(null) };
}
