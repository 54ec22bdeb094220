/**
 * Time for one scheduler: when timers fire and what "now" is locally. Store time (leases, due
 * decisions) always comes from `Store.now()`; the clock only paces the node's own waiting.
 * Pass one to each scheduler; there is no module-level clock.
 */
export interface Clock {
  /** Milliseconds since the epoch, as this clock sees it. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for `clearTimer`. */
  setTimer(fn: () => void, ms: number): ClockTimer;
  /** Cancels a timer; a timer that already fired or was cleared is ignored. */
  clearTimer(timer: ClockTimer): void;
}

/** An opaque timer handle of a `Clock`. */
export interface ClockTimer {
  /** Unique per clock. */
  readonly id: number;
}

/** The real clock: `Date.now()` and Node timers (unref'd, so they never keep a process alive). */
export class SystemClock implements Clock {
  #next = 1;
  #timers = new Map<number, ReturnType<typeof setTimeout>>();
  readonly #offsetMs: number;

  /**
   * @param offsetMs added to `Date.now()`; lets tests simulate a node whose clock is skewed.
   */
  constructor(offsetMs = 0) {
    this.#offsetMs = offsetMs;
  }

  /** `Date.now()` plus the offset. */
  now(): number {
    return Date.now() + this.#offsetMs;
  }

  /** A Node `setTimeout`, unref'd. */
  setTimer(fn: () => void, ms: number): ClockTimer {
    const id = this.#next++;
    const handle = setTimeout(
      () => {
        this.#timers.delete(id);
        fn();
      },
      Math.max(0, Math.min(ms, 2_147_483_647)),
    );
    handle.unref?.();
    this.#timers.set(id, handle);
    return { id };
  }

  /** Clears a timer set by this clock. */
  clearTimer(timer: ClockTimer): void {
    const handle = this.#timers.get(timer.id);
    if (handle !== undefined) clearTimeout(handle);
    this.#timers.delete(timer.id);
  }
}

interface PendingTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A virtual clock for deterministic tests: time moves only when the test calls `advance()` or
 * `advanceTo()`. Timers fire in time order; between two timers the pending promise jobs are
 * drained, so async work started by a timer settles before the next one fires.
 */
export class TestClock implements Clock {
  #now: number;
  #next = 1;
  #seq = 0;
  #timers = new Map<number, PendingTimer>();

  /** @param start the initial time, ms since the epoch (default 2030-01-01T00:00:00Z). */
  constructor(start: number | Date = Date.UTC(2030, 0, 1)) {
    this.#now = typeof start === 'number' ? start : start.getTime();
  }

  /** The virtual time. */
  now(): number {
    return this.#now;
  }

  /** Registers a virtual timer. */
  setTimer(fn: () => void, ms: number): ClockTimer {
    const id = this.#next++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), seq: this.#seq++, fn });
    return { id };
  }

  /** Removes a virtual timer. */
  clearTimer(timer: ClockTimer): void {
    this.#timers.delete(timer.id);
  }

  /** How many timers are pending. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#now + ms);
  }

  /** Moves time forward to `target` (ms or Date), firing every timer due on the way, in order. */
  async advanceTo(target: number | Date): Promise<void> {
    const until = typeof target === 'number' ? target : target.getTime();
    await settle();
    for (;;) {
      let first: PendingTimer | undefined;
      for (const t of this.#timers.values()) {
        if (
          t.at <= until &&
          (first === undefined || t.at < first.at || (t.at === first.at && t.seq < first.seq))
        ) {
          first = t;
        }
      }
      if (first === undefined) break;
      this.#timers.delete(first.id);
      if (first.at > this.#now) this.#now = first.at;
      first.fn();
      await settle();
    }
    if (until > this.#now) this.#now = until;
    await settle();
  }

  /** Drains pending promise jobs without moving time. */
  async flush(): Promise<void> {
    await settle();
  }
}

/** Lets chains of resolved promises and immediates run to completion (no real waiting). */
async function settle(rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
