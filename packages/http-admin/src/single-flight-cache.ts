/**
 * A read shared by concurrent identical requests and reused for a short time: the dashboard's
 * figures are the same for every viewer, so 50 panels refreshing at once cost one set of store
 * reads, not 50. Only the dashboard uses it; the run list and run detail are never cached.
 */

/** Where the cache reads the time: core's `Clock` fits (only `now()` is used). */
export interface CacheClock {
  /** Milliseconds; only differences are used. */
  now(): number;
}

/** Options of a `SingleFlightCache`. */
export interface SingleFlightCacheOptions {
  /**
   * How long a value may be served after its read started, ms. 0: never reused, but concurrent
   * requests still share the read in progress.
   */
  ttlMs: number;
  /** The time source (default `Date.now`). */
  clock?: CacheClock;
  /** Keys kept at most (default 64): the oldest goes first. */
  maxEntries?: number;
}

interface Entry<V> {
  /** When its read started. */
  startedAt: number;
  value: Promise<V>;
  settled: boolean;
  /** The read that will replace it, started ahead of its expiry; `failed` once such a read failed. */
  next: Entry<V> | 'failed' | null;
}

const SYSTEM_CLOCK: CacheClock = { now: () => Date.now() };

/**
 * Single-flight reads with a time-to-live and refresh-ahead, per key.
 *
 * - While a read of a key is in progress, every `get` of that key joins it (one read, one answer,
 *   or one failure for all of them).
 * - A value is served while less than `ttlMs` has passed since its read **started**: what a caller
 *   gets was read at most `ttlMs` ago, or is the read in progress that it joined.
 * - Once a value is half that old, the next `get` still answers with it but starts the read that
 *   replaces it, in the background; so under steady traffic no caller waits for a read, at the cost
 *   of at most two reads per `ttlMs`. A caller that comes when the value has expired joins that
 *   read instead of starting another.
 * - A failed read is not kept: the callers that joined it get its error, and the next `get` after
 *   the current value expires reads again (a failed background read is not retried before that).
 *
 * @example
 * const cache = new SingleFlightCache<string>({ ttlMs: 1000 });
 * const body = await cache.get(app, () => readDashboard(app));
 */
export class SingleFlightCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #ttlMs: number;
  readonly #clock: CacheClock;
  readonly #maxEntries: number;
  #reads = 0;

  constructor(options: SingleFlightCacheOptions) {
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 64);
  }

  /** How many reads were started so far (for tests and diagnostics). */
  get reads(): number {
    return this.#reads;
  }

  /** The key's value: a fresh enough one, the read in progress, or a new read by `load`. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.#clock.now();
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      if (!entry.settled) return entry.value;
      const age = now - entry.startedAt;
      // A clock that went back (age < 0) does not make a value fresh for longer.
      if (age >= 0 && age < this.#ttlMs) {
        if (age * 2 >= this.#ttlMs && entry.next === null) this.#refresh(key, entry, load, now);
        return entry.value;
      }
      if (entry.next !== null && entry.next !== 'failed') return entry.next.value;
      this.#entries.delete(key);
    }
    const fresh = this.#read(load, now);
    this.#watch(key, fresh);
    this.#put(key, fresh);
    return fresh.value;
  }

  /** Forgets every value (reads in progress still answer the callers that joined them). */
  clear(): void {
    this.#entries.clear();
  }

  #read(load: () => Promise<V>, now: number): Entry<V> {
    this.#reads++;
    let value: Promise<V>;
    try {
      value = load();
    } catch (err) {
      value = Promise.reject(err);
    }
    return { startedAt: now, value, settled: false, next: null };
  }

  #put(key: string, entry: Entry<V>): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, entry);
  }

  /** Marks a read settled; a failed one is dropped (errors are not cached). */
  #watch(key: string, entry: Entry<V>): void {
    entry.value.then(
      () => {
        entry.settled = true;
      },
      () => {
        entry.settled = true;
        // A newer read of the key may already have replaced this one.
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
  }

  /** Starts the read that replaces `current`, which keeps being served meanwhile. */
  #refresh(key: string, current: Entry<V>, load: () => Promise<V>, now: number): void {
    const next = this.#read(load, now);
    current.next = next;
    next.value.then(
      () => {
        next.settled = true;
        if (this.#entries.get(key) === current) this.#entries.set(key, next);
      },
      () => {
        next.settled = true;
        // Keep serving the current value until it expires; then a caller reads again.
        current.next = 'failed';
      },
    );
  }
}
