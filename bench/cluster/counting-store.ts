/**
 * A counting `Store`: a Proxy that forwards every method to the real store (with the real store
 * as `this`, so `#private` fields work) and counts the calls per method. Heartbeats are also
 * timed: the gap between one node's successive heartbeat calls, their latency and failures, to
 * tell whether a node held its heartbeat.
 */
import type { Store } from '@oasis/core';

/** Calls per store method, and heartbeat timing, of one node (or of several that share it). */
export class OpCounter {
  readonly counts = new Map<string, number>();
  /** Heartbeat calls since the last reset. */
  heartbeats = 0;
  /** Heartbeats that threw (fenced, store errors). */
  heartbeatErrors = 0;
  /** Largest gap between two successive heartbeat calls since the last reset, ms. */
  maxHeartbeatGapMs = 0;
  /** Latency of each heartbeat call since the last reset, ms. */
  readonly heartbeatLatencies: number[] = [];
  #lastHeartbeatAt: number | null = null;
  #since = performance.now();

  /** Forgets the counts (not the time of the last heartbeat, so the next gap is a real one). */
  reset(): void {
    this.counts.clear();
    this.heartbeats = 0;
    this.heartbeatErrors = 0;
    this.maxHeartbeatGapMs = 0;
    this.heartbeatLatencies.length = 0;
    this.#since = performance.now();
  }

  /** Milliseconds since the last reset. */
  elapsedMs(): number {
    return performance.now() - this.#since;
  }

  /** Total calls since the last reset. */
  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  add(method: string): void {
    this.counts.set(method, (this.counts.get(method) ?? 0) + 1);
  }

  heartbeatCalled(): number {
    const now = performance.now();
    if (this.#lastHeartbeatAt !== null) {
      this.maxHeartbeatGapMs = Math.max(this.maxHeartbeatGapMs, now - this.#lastHeartbeatAt);
    }
    this.#lastHeartbeatAt = now;
    this.heartbeats++;
    return now;
  }
}

/** Wraps `store` so that each method call is counted in `counter`. */
export function countingStore(store: Store, counter: OpCounter): Store {
  return new Proxy(store, {
    get(target, prop, _receiver) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'constructor') return value;
      const fn = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        counter.add(prop);
        if (prop !== 'heartbeat') return fn.apply(target, args);
        const t0 = counter.heartbeatCalled();
        const out = fn.apply(target, args) as Promise<unknown>;
        return out.then(
          (v) => {
            counter.heartbeatLatencies.push(performance.now() - t0);
            return v;
          },
          (err: unknown) => {
            counter.heartbeatErrors++;
            throw err;
          },
        );
      };
    },
  });
}
