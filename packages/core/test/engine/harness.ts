import {
  MemoryStore,
  type OasisEvents,
  type RunRecord,
  type RunState,
  Scheduler,
  type SchedulerOptions,
  type Store,
  TestClock,
} from '../../src/index';

/** 2030-01-01T00:00:00Z, the default start of the test clock. */
export const T0 = Date.UTC(2030, 0, 1);

/** A virtual clock, a memory store on it, and helpers to make schedulers on them. */
export class Harness {
  readonly clock: TestClock;
  readonly store: MemoryStore;
  readonly schedulers: Scheduler[] = [];
  readonly events: Array<{ name: keyof OasisEvents; payload: unknown }> = [];

  constructor(start: number | Date = T0) {
    this.clock = new TestClock(start);
    this.store = new MemoryStore({ clock: this.clock });
  }

  /** A scheduler on the harness's clock and store (app `test` unless given); records its events. */
  scheduler(options: Partial<SchedulerOptions> & { store?: Store } = {}): Scheduler {
    const s = new Scheduler({
      store: this.store,
      app: 'test',
      clock: this.clock,
      random: () => 0.5,
      ...options,
    });
    const names: (keyof OasisEvents)[] = [
      'run:started',
      'run:succeeded',
      'run:failed',
      'run:retried',
      'run:timed_out',
      'run:cancelled',
      'run:lost',
      'run:dead',
      'run:skipped',
      'job:fired',
      'node:joined',
      'node:left',
      'leader:changed',
      'partitions:assigned',
      'history:pruned',
      'error',
    ];
    for (const name of names) s.on(name, (payload: unknown) => this.events.push({ name, payload }));
    this.schedulers.push(s);
    return s;
  }

  /** Events of one name, payloads only. */
  eventsOf<K extends keyof OasisEvents>(name: K): OasisEvents[K][0][] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload as OasisEvents[K][0]);
  }

  /** Every run of the app, oldest first. */
  async runs(filter: { jobKey?: string; states?: RunState[]; handler?: string } = {}): Promise<RunRecord[]> {
    const page = await this.store.listRuns({ app: 'test', ...filter }, { limit: 1000 });
    return page.items.reverse();
  }

  /** Moves virtual time (firing timers on the way). */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** Stops every scheduler still running. */
  async stopAll(): Promise<void> {
    for (const s of this.schedulers) {
      if (s.state === 'running') {
        const p = s.stop({ timeoutMs: 0 });
        await this.clock.advance(0);
        await p;
      }
    }
  }
}

/** A promise and its resolve, for handlers that the test finishes. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
