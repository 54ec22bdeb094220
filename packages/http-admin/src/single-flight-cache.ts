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
   * How long a value is reused after its read started, ms. 0: never reused, but concurrent
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
}

const SYSTEM_CLOCK: CacheClock = { now: () => Date.now() };

/**
 * Single-flight reads with a time-to-live, per key.
 *
 * - While a read of a key is in progress, every `get` of that key joins it (one read, one answer,
 *   or one failure for all of them).
 * - A value is reused while less than `ttlMs` has passed since its read **started**, so what a
 *   caller gets was read at most `ttlMs` ago (or is the read it joined).
 * - A failed read is not kept: the callers that joined it get its error, the next `get` reads again.
 *
 * @example
 * const cache = new SingleFlightCache<string>({ ttlMs: 1000 });
 * const body = await cache.get(`dashboard:${app}`, () => readDashboard(app));
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

  /** The key's value: the read in progress, a fresh enough value, or a new read by `load`. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.#clock.now();
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      const age = now - entry.startedAt;
      // A clock that went back (age < 0) does not make a value fresh for longer.
      if (!entry.settled || (age >= 0 && age < this.#ttlMs)) return entry.value;
      this.#entries.delete(key);
    }
    return this.#start(key, load, now);
  }

  /** Forgets every value (reads in progress still answer the callers that joined them). */
  clear(): void {
    this.#entries.clear();
  }

  #start(key: string, load: () => Promise<V>, now: number): Promise<V> {
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#reads++;
    let value: Promise<V>;
    try {
      value = load();
    } catch (err) {
      value = Promise.reject(err);
    }
    const entry: Entry<V> = { startedAt: now, value, settled: false };
    this.#entries.set(key, entry);
    value.then(
      () => {
        entry.settled = true;
      },
      () => {
        entry.settled = true;
        // Errors are not cached; a newer read of the key may already have replaced this one.
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
    return value;
  }
}
