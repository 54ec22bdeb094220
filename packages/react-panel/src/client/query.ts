/**
 * A query: one API read kept as a store (loading, data, error), fetched when asked, refetched on
 * an interval while someone is subscribed. The last answer wins: an older request finishing
 * later is ignored, and a refetch keeps showing the previous data until the new one arrives.
 */
import { ExternalStore } from './external-store';

/** A query's state. `data` stays while a refetch runs or after a failed one. */
export interface QueryState<T> {
  status: 'idle' | 'loading' | 'success' | 'error';
  data: T | undefined;
  error: Error | null;
  /** When the data last arrived (ms), or 0. */
  updatedAt: number;
  /** True while a request is in flight. */
  fetching: boolean;
}

/** What changes a query's state. */
export type QueryAction<T> =
  | { type: 'fetch' }
  | { type: 'success'; data: T; at: number }
  | { type: 'error'; error: Error };

/** The one place a query's state changes. */
export function queryReducer<T>(state: QueryState<T>, action: QueryAction<T>): QueryState<T> {
  switch (action.type) {
    case 'fetch':
      return {
        ...state,
        fetching: true,
        status: state.data === undefined ? 'loading' : state.status,
      };
    case 'success':
      return { status: 'success', data: action.data, error: null, updatedAt: action.at, fetching: false };
    case 'error':
      return { ...state, status: 'error', error: action.error, fetching: false };
  }
}

/** Options of a `Query`. */
export interface QueryOptions {
  /** Refetch this often while subscribed, ms (default none). */
  refetchMs?: number;
  /** The time source (default `Date.now`). */
  now?: () => number;
}

/** One read of the API as a subscribable store. */
export class Query<T> extends ExternalStore<QueryState<T>, QueryAction<T>> {
  readonly #fetcher: (signal: AbortSignal) => Promise<T>;
  readonly #refetchMs: number | undefined;
  readonly #now: () => number;
  #seq = 0;
  #controller: AbortController | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;

  /** Creates a query from the function that reads the data. */
  constructor(fetcher: (signal: AbortSignal) => Promise<T>, options: QueryOptions = {}) {
    super({ status: 'idle', data: undefined, error: null, updatedAt: 0, fetching: false }, queryReducer);
    this.#fetcher = fetcher;
    this.#refetchMs = options.refetchMs;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Reads the data now (aborting a read still in flight); resolves when this read has settled.
   * Never rejects: a failure is in the state's `error`.
   */
  async fetch(): Promise<void> {
    const seq = ++this.#seq;
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    this.dispatch({ type: 'fetch' });
    try {
      const data = await this.#fetcher(controller.signal);
      if (seq === this.#seq) this.dispatch({ type: 'success', data, at: this.#now() });
    } catch (err) {
      if (seq === this.#seq && !controller.signal.aborted) {
        this.dispatch({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) });
      }
    } finally {
      if (this.#controller === controller) this.#controller = null;
    }
  }

  /** Stops the refetch timer and aborts a read in flight. */
  dispose(): void {
    this.#seq++;
    this.#controller?.abort();
    this.#stopTimer();
  }

  protected override onFirstSubscriber(): void {
    if (this.getSnapshot().status === 'idle') void this.fetch();
    if (this.#refetchMs !== undefined && this.#timer === null) {
      this.#timer = setInterval(() => {
        if (this.#controller === null) void this.fetch();
      }, this.#refetchMs);
    }
  }

  protected override onLastUnsubscribe(): void {
    this.#stopTimer();
  }

  #stopTimer(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
