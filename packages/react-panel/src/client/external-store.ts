/**
 * The smallest external store: a snapshot, listeners, and one `dispatch` through a reducer, so
 * every change of a store can be read in its reducer. React reads it with `useSyncExternalStore`.
 */

/** Anything React (or a test) can subscribe to. */
export interface Subscribable<S> {
  /** Calls `listener` after each change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** The current snapshot (the same object until something changes). */
  getSnapshot(): S;
}

/** A store whose state changes only through `dispatch(action)` and its reducer. */
export class ExternalStore<S, A> implements Subscribable<S> {
  #state: S;
  readonly #reducer: (state: S, action: A) => S;
  readonly #listeners = new Set<() => void>();

  /** Creates a store with an initial state and the reducer that applies every action. */
  constructor(initial: S, reducer: (state: S, action: A) => S) {
    this.#state = initial;
    this.#reducer = reducer;
  }

  /** See `Subscribable.subscribe`. Arrow property: safe to pass unbound. */
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    const first = this.#listeners.size === 1;
    if (first) this.onFirstSubscriber();
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0) this.onLastUnsubscribe();
    };
  };

  /** See `Subscribable.getSnapshot`. Arrow property: safe to pass unbound. */
  getSnapshot = (): S => this.#state;

  /** How many listeners are subscribed. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Applies an action; listeners hear of it only when the state object changed. */
  dispatch(action: A): void {
    const next = this.#reducer(this.#state, action);
    if (Object.is(next, this.#state)) return;
    this.#state = next;
    for (const listener of [...this.#listeners]) listener();
  }

  /** Called when the first listener subscribes (start polling, open streams…). */
  protected onFirstSubscriber(): void {}

  /** Called when the last listener leaves (stop polling, close streams…). */
  protected onLastUnsubscribe(): void {}
}
