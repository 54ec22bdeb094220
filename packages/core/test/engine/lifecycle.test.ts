import { afterEach, describe, expect, it } from 'vitest';
import {
  type RunContext,
  SchedulerStateError,
  ShutdownError,
  type Store,
  StoreUnavailableError,
} from '../../src/index';
import { deferred, Harness, T0 } from './harness';

/** A store that throws `StoreUnavailableError` from every call while `down` is true, and counts calls. */
function flakyStore(inner: Store): {
  store: Store;
  state: { down: boolean; calls: Record<string, number>; failures: number };
} {
  const state = { down: false, calls: {} as Record<string, number>, failures: 0 };
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (prop === 'subscribe') return value.bind(target);
      return (...args: unknown[]) => {
        state.calls[String(prop)] = (state.calls[String(prop)] ?? 0) + 1;
        if (state.down) {
          state.failures++;
          return Promise.reject(new StoreUnavailableError('connection refused (test)'));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, state };
}

describe('scheduler life', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  it('joins, leads, announces its partitions, and leaves', async () => {
    h = new Harness();
    const s = h.scheduler({ nodeId: 'node-a' });
    s.handle('x', () => {});
    await s.start();
    await h.clock.flush();
    expect(s.state).toBe('running');
    expect(s.isLeader).toBe(true);
    expect(h.eventsOf('node:joined').map((e) => e.node.nodeId)).toEqual(['node-a']);
    expect(h.eventsOf('leader:changed')).toMatchObject([{ isLeader: true, leader: { nodeId: 'node-a' } }]);
    expect(h.eventsOf('partitions:assigned')).toEqual([{ partitions: null, generation: 0 }]);
    expect((await s.listNodes()).map((n) => [n.nodeId, n.state, n.handlers])).toEqual([
      ['node-a', 'active', ['x']],
    ]);
    await expect(s.start()).rejects.toBeInstanceOf(SchedulerStateError);
    await s.stop();
    expect(s.state).toBe('stopped');
    expect((await h.store.listNodes('test'))[0]?.state).toBe('offline');
    expect((await h.store.getLeader('test'))?.expiresAt).toBe(h.clock.now());
    expect(h.eventsOf('node:left')).toEqual([{ nodeId: 'node-a', incarnation: 1 }]);
  });

  it('code-declared jobs: unchanged across restarts keep nextFireAt; an operator disable survives; changes apply', async () => {
    h = new Harness();
    const declare = (schedule: string | { every: string }, params: Record<string, number> = { v: 1 }) => {
      const s = h.scheduler();
      s.handle('report', () => {});
      s.job({ key: 'report', handler: 'report', schedule, params });
      return s;
    };
    const a = declare({ every: '1h' });
    await a.start();
    const created = await a.jobs.get('report');
    expect(created).toMatchObject({ source: 'code', nextFireAt: T0 + 3_600_000, version: 1, enabled: true });
    await a.stop();

    await h.advance(10 * 60_000);
    const b = declare({ every: '1h' });
    await b.start();
    const same = await b.jobs.get('report');
    expect(same).toMatchObject({ nextFireAt: T0 + 3_600_000, version: 1 });
    await b.jobs.disable('report', { actor: 'alice' });
    await b.stop();

    const c = declare({ every: '1h' }, { v: 2 }); // params changed
    await c.start();
    const changed = await c.jobs.get('report');
    expect(changed).toMatchObject({ enabled: false, params: { v: 2 }, nextFireAt: T0 + 3_600_000 });
    await c.stop();

    const d = declare({ every: '2h' }, { v: 2 }); // schedule changed: fire times restart from now
    await d.start();
    const moved = await d.jobs.get('report');
    expect(moved).toMatchObject({ enabled: false, nextFireAt: h.clock.now() + 7_200_000 });
    const audit = await h.store.listAudit({ app: 'test', targetId: 'report' });
    expect(audit.items.map((e) => [e.actor, e.action]).reverse()).toEqual([
      ['code', 'job.create'],
      ['alice', 'job.disable'],
      ['code', 'job.update'],
      ['code', 'job.update'],
    ]);
  });

  it('stop() waits for running handlers within its bound', async () => {
    h = new Harness();
    const s = h.scheduler();
    const gate = deferred();
    s.handle('w', () => gate.promise);
    await s.start();
    const run = await s.enqueue('w', {});
    await h.clock.flush();
    const stopping = s.stop({ timeoutMs: 10_000 });
    await h.advance(4_000);
    expect(s.state).toBe('stopping');
    gate.resolve();
    await h.clock.flush();
    await stopping;
    expect(s.state).toBe('stopped');
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded');
  });

  it('stop() aborts handlers past its bound and records them failed, with their retry at once', async () => {
    h = new Harness();
    const s = h.scheduler();
    const reasons: unknown[] = [];
    s.handle(
      'w',
      (ctx: RunContext) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            resolve(null);
          }),
        ),
    );
    s.handle('ignorer', () => new Promise(() => {})); // never settles, ignores the signal
    await s.start();
    const retried = await s.enqueue('w', {}, { retry: { maxAttempts: 2, delay: '1h', jitter: 0 } });
    const ignored = await s.enqueue('ignorer', {});
    await h.clock.flush();
    const stopping = s.stop({ timeoutMs: 5_000 });
    await h.advance(4_999);
    expect(reasons).toEqual([]);
    expect(s.state).toBe('stopping');
    await h.advance(1);
    await stopping;
    expect(reasons[0]).toBeInstanceOf(ShutdownError);
    const a = await h.store.getRun(retried.id);
    expect(a).toMatchObject({ state: 'failed', error: { name: 'ShutdownError' } });
    const retry = (await h.runs({ states: ['pending'] }))[0];
    expect(retry).toMatchObject({ parentRunId: retried.id, attempt: 2, dueAt: h.clock.now() });
    expect((await h.store.getRun(ignored.id))?.state).toBe('dead');
  });

  it('a throwing or rejecting event listener does not break runs', async () => {
    h = new Harness();
    const s = h.scheduler();
    let later = 0;
    s.on('run:started', () => {
      throw new Error('listener bug');
    });
    s.on('run:succeeded', async () => {
      throw new Error('async listener bug');
    });
    s.on('run:started', () => {
      later++;
    });
    s.handle('ok', () => 'done');
    await s.start();
    const run = await s.enqueue('ok', {});
    await h.clock.flush();
    expect((await s.getRun(run.id))?.state).toBe('succeeded');
    expect(later).toBe(1);
    const errors = h.eventsOf('error').filter((e) => e.during === 'listener');
    expect(errors.map((e) => (e.error as Error).message).sort()).toEqual([
      'async listener bug',
      'listener bug',
    ]);
    // A listener removed with off() is the one that was added.
    const fn = () => {};
    const before = s.listenerCount('job:fired');
    s.on('job:fired', fn);
    expect(s.listenerCount('job:fired')).toBe(before + 1);
    s.off('job:fired', fn);
    expect(s.listenerCount('job:fired')).toBe(before);
  });

  it('backs off while the store is unavailable, reports errors, and resumes', async () => {
    h = new Harness();
    const { store, state } = flakyStore(h.store);
    const s = h.scheduler({ store, pollInterval: '5s' });
    const starts: number[] = [];
    s.handle('tick', (ctx) => {
      starts.push(ctx.scheduledFor - T0);
    });
    s.job({ key: 'tick', handler: 'tick', schedule: { every: '10s' } });
    await s.start();
    await h.advance(10_000);
    expect(starts).toEqual([10_000]);
    state.down = true;
    await h.advance(60_000);
    const failuresWhileDown = state.failures;
    expect(failuresWhileDown).toBeGreaterThan(5);
    // Capped exponential back-off: far fewer calls than one per 100 ms.
    expect(failuresWhileDown).toBeLessThan(150);
    const errors = h.eventsOf('error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.error instanceof StoreUnavailableError)).toBe(true);
    expect(s.state).toBe('running');
    state.down = false;
    await h.advance(30_000);
    // Fires resume: the gap is a misfire (fire-once), then back on schedule.
    const runs = await h.runs();
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.every((r) => r.state === 'succeeded')).toBe(true);
    expect(runs.some((r) => r.trigger === 'misfire')).toBe(true);
    expect(runs.at(-1)!.scheduledFor).toBe(T0 + 100_000);
  });

  it('an idle leader makes at most 2 store calls per second with the defaults', async () => {
    h = new Harness();
    const { store, state } = flakyStore(h.store);
    const s = h.scheduler({ store });
    s.handle('daily', () => {});
    s.job({ key: 'daily', handler: 'daily', schedule: '0 0 3 * * *' });
    await s.start();
    await h.advance(10_000); // settle
    state.calls = {};
    await h.advance(60_000);
    const total = Object.values(state.calls).reduce((a, b) => a + b, 0);
    expect(s.isLeader).toBe(true);
    expect(state.calls.heartbeat).toBe(60);
    expect(total / 60).toBeLessThanOrEqual(2);
  });

  it('a run finishing while the store is down is recorded once it is back', async () => {
    h = new Harness();
    const { store, state } = flakyStore(h.store);
    const s = h.scheduler({ store });
    const gate = deferred();
    s.handle('w', () => gate.promise.then(() => 'ok'));
    await s.start();
    const run = await s.enqueue('w', {});
    await h.clock.flush();
    state.down = true;
    gate.resolve();
    await h.advance(3_000);
    expect((await h.store.getRun(run.id))?.state).toBe('running');
    state.down = false;
    await h.advance(5_000);
    expect((await h.store.getRun(run.id))?.state).toBe('succeeded');
    expect(h.eventsOf('run:succeeded')).toHaveLength(1);
  });

  it('stop() while the store is down still ends, within its bounds, with errors reported', async () => {
    h = new Harness();
    const { store, state } = flakyStore(h.store);
    const s = h.scheduler({ store });
    const gate = deferred();
    s.handle('w', () => gate.promise.then(() => 'ok'));
    await s.start();
    const run = await s.enqueue('w', {});
    await h.clock.flush();
    state.down = true;
    gate.resolve();
    const stopping = s.stop({ timeoutMs: 1_000 });
    await h.advance(10_000);
    await stopping;
    expect(s.state).toBe('stopped');
    expect(h.eventsOf('error').some((e) => e.during === 'leave')).toBe(true);
    // The outcome could not be written: the run stays running in the store until reaped.
    state.down = false;
    expect((await h.store.getRun(run.id))?.state).toBe('running');
  });

  it('recovers the runs of a crashed earlier process: lost, then retried here', async () => {
    h = new Harness();
    // A node that claimed a run and then died without a word.
    const ghost = await h.store.registerNode({
      nodeId: 'ghost',
      app: 'test',
      host: 'h',
      pid: 1,
      version: '0',
      handlers: ['w'],
      weight: 1,
      concurrency: 1,
    });
    await h.store.enqueueRuns([
      {
        app: 'test',
        jobKey: null,
        handler: 'w',
        params: {},
        trigger: 'api',
        scheduledFor: T0,
        attempt: 1,
        retry: { maxAttempts: 3, backoff: 'fixed', delayMs: 1000, maxDelayMs: 1000, jitter: 0 },
        timeoutMs: null,
        shardIndex: 0,
        shardTotal: 1,
        priority: 0,
        block: 'parallel',
        routing: 'any',
        targetNode: null,
        idempotencyKey: null,
        parentRunId: null,
      },
    ]);
    const [claimed] = await h.store.claimRuns({
      app: 'test',
      nodeId: 'ghost',
      incarnation: ghost.incarnation,
      handlers: ['w'],
      limit: 1,
      leaseMs: 60_000,
    });
    const s = h.scheduler({ nodeId: 'survivor' });
    const ran: string[] = [];
    s.handle('w', (ctx) => {
      ran.push(`${ctx.attempt}:${ctx.parentRunId}`);
    });
    await s.start();
    await h.advance(4_000);
    expect(ran).toEqual([]); // the ghost is not yet past the node TTL (5 s)
    await h.advance(4_000);
    expect((await h.store.getRun(claimed!.id))?.state).toBe('lost');
    expect(ran).toEqual([`2:${claimed!.id}`]);
    expect(h.eventsOf('run:lost').map((e) => e.runId)).toEqual([claimed!.id]);
    expect((await h.store.listNodes('test')).find((n) => n.nodeId === 'ghost')?.state).toBe('offline');
  });

  it('a restart with the same node id recovers the runs its crashed incarnation held', async () => {
    h = new Harness();
    const crashed = await h.store.registerNode({
      nodeId: 'worker-1',
      app: 'test',
      host: 'h',
      pid: 1,
      version: '0',
      handlers: ['w'],
      weight: 1,
      concurrency: 1,
    });
    const s = h.scheduler({ nodeId: 'worker-1' });
    const ran: number[] = [];
    s.handle('w', (ctx) => {
      ran.push(ctx.attempt);
    });
    const run = await s.enqueue('w', {}, { retry: { maxAttempts: 2, jitter: 0 } });
    await h.store.claimRuns({
      app: 'test',
      nodeId: 'worker-1',
      incarnation: crashed.incarnation,
      handlers: ['w'],
      limit: 1,
      leaseMs: 15_000,
    });
    await s.start(); // incarnation 2 of the same node id
    await h.advance(16_000); // at the latest when the old lease expires
    expect((await h.store.getRun(run.id))?.state).toBe('lost');
    expect(ran).toEqual([2]);
  });

  it('a node fenced by the store aborts its handlers and rejoins with a new incarnation', async () => {
    h = new Harness();
    const s = h.scheduler({ nodeId: 'n1' });
    const reasons: unknown[] = [];
    s.handle(
      'w',
      (ctx: RunContext) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            resolve(null);
          }),
        ),
    );
    await s.start();
    const run = await s.enqueue('w', {});
    await h.clock.flush();
    expect(s.incarnation).toBe(1);
    await h.store.removeNode('test', 'n1'); // an operator removed it: its next heartbeat is fenced
    await h.advance(1_000);
    expect(s.incarnation).toBe(2);
    expect((reasons[0] as Error).name).toBe('RunLostError');
    expect(h.eventsOf('node:joined').map((e) => e.node.incarnation)).toEqual([1, 2]);
    // Lost here at once (run unknown to this node), then reaped as lost by the new leader incarnation.
    expect(h.eventsOf('run:lost').map((e) => [e.runId, e.run?.state ?? null])).toEqual([
      [run.id, null],
      [run.id, 'lost'],
    ]);
    expect((await h.store.getRun(run.id))?.state).toBe('lost');
  });
});
