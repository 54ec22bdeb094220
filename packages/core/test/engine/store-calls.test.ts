/**
 * How many store calls the engine makes: completions go in batches, claims take the slots that
 * freed meanwhile, and an idle node stays within its budget. Counts only, never timings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CompleteRequest,
  type CompleteRunsItem,
  FencedError,
  type Store,
  StoreUnavailableError,
} from '../../src/index';
import { deferred, Harness } from './harness';

/** Hooks of `countingStore`: replace a `completeRuns` call (return undefined to pass it through). */
interface CountingHooks {
  completeRuns?: (requests: CompleteRequest[], call: number) => Promise<CompleteRunsItem[]> | undefined;
}

/** A store that counts every call by method name and records each `completeRuns` batch size. */
function countingStore(
  inner: Store,
  hooks: CountingHooks = {},
): {
  store: Store;
  calls: Record<string, number>;
  batches: number[];
  total: () => number;
  reset: () => void;
} {
  const calls: Record<string, number> = {};
  const batches: number[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (prop === 'subscribe' || prop === 'init' || prop === 'close') return value.bind(target);
      return (...args: unknown[]) => {
        const name = String(prop);
        calls[name] = (calls[name] ?? 0) + 1;
        if (name === 'completeRuns') {
          const requests = args[0] as CompleteRequest[];
          batches.push(requests.length);
          const replaced = hooks.completeRuns?.(requests, calls[name]!);
          if (replaced !== undefined) return replaced;
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const total = () => Object.values(calls).reduce((a, b) => a + b, 0);
  const reset = () => {
    for (const key of Object.keys(calls)) delete calls[key];
    batches.length = 0;
  };
  return { store, calls, batches, total, reset };
}

describe('store calls of the engine', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  it('runs that end together are recorded in one completeRuns batch; a refused item is lost, the others end', async () => {
    h = new Harness();
    let refused = '';
    const counting = countingStore(h.store, {
      completeRuns: (requests) => {
        if (!requests.some((r) => r.runId === refused)) return undefined;
        const rest = requests.filter((r) => r.runId !== refused);
        return h.store.completeRuns(rest).then((items) => {
          const out: CompleteRunsItem[] = [];
          let i = 0;
          for (const r of requests) {
            out.push(
              r.runId === refused
                ? { ok: false, error: new FencedError('run', `run '${r.runId}' is not yours (test)`) }
                : items[i++]!,
            );
          }
          return out;
        });
      },
    });
    const s = h.scheduler({ store: counting.store, concurrency: 10 });
    const gate = deferred();
    s.handle('w', () => gate.promise);
    await s.start();
    const runs = [];
    for (let i = 0; i < 10; i++) runs.push(await s.enqueue('w', { i }));
    await h.clock.flush();
    expect(s.running).toBe(10);
    refused = runs[3]!.id;
    gate.resolve();
    await h.clock.flush();
    expect(counting.batches).toEqual([10]);
    expect(counting.calls.completeRun).toBeUndefined();
    expect(h.eventsOf('run:lost').map((e) => e.runId)).toEqual([refused]);
    expect(h.eventsOf('run:succeeded')).toHaveLength(9);
    expect((await h.runs({ states: ['succeeded'] })).length).toBe(9);
    expect((await h.store.getRun(refused))?.state).toBe('running');
  });

  it('a batch refused as a whole while the store is unavailable is sent again after a back-off', async () => {
    h = new Harness();
    const counting = countingStore(h.store, {
      completeRuns: (_requests, call) =>
        call === 1 ? Promise.reject(new StoreUnavailableError('connection refused (test)')) : undefined,
    });
    const s = h.scheduler({ store: counting.store, concurrency: 5 });
    const gate = deferred();
    s.handle('w', () => gate.promise);
    await s.start();
    for (let i = 0; i < 5; i++) await s.enqueue('w', { i });
    await h.clock.flush();
    gate.resolve();
    await h.clock.flush();
    expect((await h.runs({ states: ['succeeded'] })).length).toBe(0);
    const stopping = s.stop();
    await h.advance(1_000);
    await stopping;
    expect(counting.batches).toEqual([5, 5]);
    expect((await h.runs({ states: ['succeeded'] })).length).toBe(5);
    expect(h.eventsOf('run:succeeded')).toHaveLength(5);
    expect(h.eventsOf('error').map((e) => e.during)).toEqual(['complete']);
  });

  it('outcomes the store has not recorded yet hold claims back beyond one concurrency of backlog', async () => {
    h = new Harness();
    const stall = deferred();
    const counting = countingStore(h.store, {
      // Every completeRuns waits until the store "recovers": outcomes pile up meanwhile.
      completeRuns: (requests) => stall.promise.then(() => h.store.completeRuns(requests)),
    });
    const s = h.scheduler({ store: counting.store, concurrency: 10 });
    let started = 0;
    s.handle('noop', () => {
      started++;
    });
    for (let i = 0; i < 100; i++) await s.enqueue('noop', { i });
    await s.start();
    await h.advance(2_000);
    // Slots free before outcomes are stored, but no more than one concurrency's worth may wait.
    expect(started).toBeGreaterThan(10);
    expect(started).toBeLessThanOrEqual(20);
    stall.resolve();
    for (let i = 0; i < 50 && (await h.runs({ states: ['succeeded'] })).length < 100; i++)
      await h.advance(100);
    expect((await h.runs({ states: ['succeeded'] })).length).toBe(100);
    expect(started).toBe(100);
  });

  it('a heartbeat with more runs than one store batch renews them all, in batches', async () => {
    h = new Harness();
    const stall = deferred();
    const sizes: number[] = [];
    const inner = h.store;
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        if (prop === 'heartbeat') {
          return (request: { runs: unknown[] }) => {
            sizes.push(request.runs.length);
            return inner.heartbeat(request as Parameters<Store['heartbeat']>[0]);
          };
        }
        if (prop === 'completeRuns') {
          return (requests: CompleteRequest[]) => stall.promise.then(() => inner.completeRuns(requests));
        }
        return value.bind(target);
      },
    });
    const s = h.scheduler({ store, concurrency: 1_000 });
    const hold = deferred();
    s.handle('w', (ctx) => ((ctx.params as { i: number }).i < 1_000 ? undefined : hold.promise));
    for (let i = 0; i < 2_000; i++) await s.enqueue('w', { i });
    await s.start();
    await h.advance(3_000);
    // 1,000 outcomes wait for the store and 1,000 handlers run: two heartbeat calls per beat.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1_000);
    const lost = (await h.runs({ states: ['lost'] })).length;
    expect(lost).toBe(0);
    expect(sizes.filter((n) => n === 1_000).length).toBeGreaterThanOrEqual(2);
    hold.resolve();
    stall.resolve();
  });

  it('draining many no-op runs at concurrency 50 takes far fewer claims and completions than runs', async () => {
    h = new Harness();
    const counting = countingStore(h.store);
    const s = h.scheduler({ store: counting.store, concurrency: 50 });
    const n = 1_000;
    s.handle('noop', () => {});
    // Enqueued before start, so the drain is the only thing the node does.
    for (let i = 0; i < n; i++) await s.enqueue('noop', { i });
    counting.reset();
    await s.start();
    for (let i = 0; i < 100 && (await h.runs({ states: ['succeeded'] })).length < n; i++) {
      await h.clock.flush();
    }
    const done = await h.store.listRuns({ app: 'test', states: ['succeeded'] }, { limit: 1000 });
    expect(done.items).toHaveLength(n);
    const perRun = (name: string) => (counting.calls[name] ?? 0) / n;
    console.info(
      `drain of ${n} runs at concurrency 50: ${JSON.stringify(counting.calls)}; ` +
        `store calls per run ${(counting.total() / n).toFixed(3)} (claim ${perRun('claimRuns')}, complete ${perRun('completeRuns')})`,
    );
    expect(counting.calls.completeRun).toBeUndefined();
    expect(counting.calls.completeRuns ?? 0).toBeLessThan(n / 2);
    expect(counting.calls.claimRuns ?? 0).toBeLessThan(n / 10);
    expect(counting.batches.reduce((a, b) => a + b, 0)).toBe(n);
  });

  it('an idle node makes at most 2 store calls per second with the defaults, leader or not', async () => {
    h = new Harness();
    const leader = countingStore(h.store);
    const follower = countingStore(h.store);
    const a = h.scheduler({ store: leader.store, nodeId: 'a' });
    const b = h.scheduler({ store: follower.store, nodeId: 'b' });
    for (const s of [a, b]) s.handle('daily', () => {});
    a.job({ key: 'daily', handler: 'daily', schedule: '0 0 3 * * *' });
    await a.start();
    await b.start();
    await h.advance(60_000); // settle: leadership, partition map, first checks
    leader.reset();
    follower.reset();
    await h.advance(300_000);
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);
    const perSecond = (c: { total: () => number }) => c.total() / 300;
    console.info(
      `idle store calls per second: leader ${perSecond(leader).toFixed(2)} ${JSON.stringify(leader.calls)}; ` +
        `follower ${perSecond(follower).toFixed(2)} ${JSON.stringify(follower.calls)}`,
    );
    expect(leader.calls.heartbeat).toBe(300);
    expect(perSecond(leader)).toBeLessThanOrEqual(2);
    expect(perSecond(follower)).toBeLessThanOrEqual(2);
  });
  it('a run that became due between a claim and the next-wake read is claimed at once, not at the next poll', async () => {
    h = new Harness();
    let advanceOnRead = false;
    // nextWakeAt moves the clock 5 ms first: the delayed run becomes due after the claim that missed it.
    const store = new Proxy(h.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        if (prop !== 'nextWakeAt') return value.bind(target);
        return async (...args: unknown[]) => {
          if (advanceOnRead) {
            advanceOnRead = false;
            await h.clock.advance(5);
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const gate = deferred();
    const s = h.scheduler({ store, concurrency: 10 });
    const started: number[] = [];
    s.handle('w', async (ctx) => {
      started.push((ctx.params as { n: number }).n);
      // The first run holds its slot, so no completion wakes the claim loop.
      if ((ctx.params as { n: number }).n === 1) await gate.promise;
    });
    await s.start();
    await h.advance(2_000);
    await s.enqueue('w', { n: 1 });
    await s.enqueue('w', { n: 2 }, { delay: 3 });
    advanceOnRead = true;
    await h.clock.flush();
    await h.advance(100);
    await h.advance(100);
    // Without the prompt re-claim, run 2 would wait for the 5 s safety-net poll.
    expect(started).toEqual([1, 2]);
    gate.resolve();
  });
});
