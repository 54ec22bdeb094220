import {
  ConflictError,
  MemoryStore,
  RuntimeStore,
  type Store,
  StoreClosedError,
  StoreError,
  TestClock,
  ValidationError,
  wrapStore,
} from '@oasis/core';
import { jobDraft, nodeInfo, runDraft } from '@oasis/core/testing';
import { describe, expect, it } from 'vitest';

/** A MemoryStore whose calls are recorded, with hooks to make init, close or a method misbehave. */
function spyStore(hooks: { init?: () => Promise<void>; close?: () => Promise<void> } = {}) {
  const inner = new MemoryStore({ clock: new TestClock() });
  const calls: string[] = [];
  const failures = new Map<string, unknown>();
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls.push(prop);
        if (prop === 'init' && hooks.init) return hooks.init();
        if (prop === 'close' && hooks.close) return hooks.close();
        if (failures.has(prop)) return Promise.reject(failures.get(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Store;
  return { store, calls, failures };
}

describe('RuntimeStore', () => {
  it('runs init once for concurrent and later callers, and before the first call', async () => {
    let inits = 0;
    const { store, calls } = spyStore({
      init: async () => {
        inits++;
        await new Promise((r) => setTimeout(r, 5));
      },
    });
    const guarded = wrapStore(store);
    await Promise.all([guarded.init(), guarded.init(), guarded.now(), guarded.listNodes('app')]);
    await guarded.init();
    expect(inits).toBe(1);
    expect(calls[0]).toBe('init');
  });

  it('retries init after a failed attempt, with the failure typed', async () => {
    let attempts = 0;
    const { store } = spyStore({
      init: async () => {
        attempts++;
        if (attempts === 1) throw new Error('connection refused');
      },
    });
    const guarded = wrapStore(store);
    const error = await guarded.init().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toContain('init()');
    expect((error as StoreError).cause).toMatchObject({ message: 'connection refused' });
    await guarded.init();
    expect(attempts).toBe(2);
  });

  it('closes once; every call after close throws StoreClosedError naming the method', async () => {
    let closes = 0;
    const { store, calls } = spyStore({
      close: async () => {
        closes++;
      },
    });
    const guarded = wrapStore(store);
    await guarded.init();
    await Promise.all([guarded.close(), guarded.close()]);
    await guarded.close();
    expect(closes).toBe(1);
    const before = calls.length;
    const error = await guarded.getRun('r1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreClosedError);
    expect((error as Error).message).toContain('getRun');
    await expect(guarded.init()).rejects.toBeInstanceOf(StoreClosedError);
    expect(() => guarded.subscribe('app', () => {})).toThrow(StoreClosedError);
    expect(calls.length).toBe(before);
  });

  it('close unsubscribes its listeners', async () => {
    const inner = new MemoryStore();
    const guarded = wrapStore(inner);
    let heard = 0;
    guarded.subscribe('app', () => heard++);
    await guarded.close();
    await inner.enqueueRuns([runDraft('app')]);
    await new Promise((r) => setImmediate(r));
    expect(heard).toBe(0);
  });

  it('wraps errors that are not OasisErrors in StoreError with the method and cause; OasisErrors pass as they are', async () => {
    const { store, failures } = spyStore();
    const guarded = wrapStore(store);
    const original = new TypeError('socket hang up');
    failures.set('getJob', original);
    const error = await guarded.getJob('app', 'k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('STORE_ERROR');
    expect((error as StoreError).message).toMatch(/memory store: getJob\(\) failed: socket hang up/);
    expect((error as StoreError).cause).toBe(original);
    const conflict = new ConflictError('lost');
    failures.set('saveJob', conflict);
    await expect(guarded.saveJob(jobDraft('app', 'k'), null)).rejects.toBe(conflict);
  });

  it('does not wrap twice and passes name and capabilities through', () => {
    const inner = new MemoryStore();
    const once = wrapStore(inner);
    expect(wrapStore(once)).toBe(once);
    expect(once).toBeInstanceOf(RuntimeStore);
    expect(once.name).toBe('memory');
    expect(once.capabilities).toEqual({ crossProcess: false, notifications: true, skipLocked: false });
  });

  it('subscribe refuses a bad app or a listener that is not a function', () => {
    const guarded = wrapStore(new MemoryStore());
    expect(() => guarded.subscribe('bad app', () => {})).toThrow(ValidationError);
    expect(() => guarded.subscribe('app', 'nope' as never)).toThrow(ValidationError);
  });

  it('a throwing subscriber cannot break the store', async () => {
    const guarded = wrapStore(new MemoryStore());
    let heard = 0;
    guarded.subscribe('app', () => {
      throw new Error('bad listener');
    });
    guarded.subscribe('app', () => heard++);
    await guarded.enqueueRuns([runDraft('app')]);
    await new Promise((r) => setImmediate(r));
    expect(heard).toBe(1);
  });

  describe('validation before the store is called', () => {
    const app = 'app';
    const node = { app, nodeId: 'n1', incarnation: 1 };
    const cases: Array<[string, (s: Store) => Promise<unknown>, string]> = [
      [
        'enqueueRuns',
        (s) => s.enqueueRuns([runDraft(app, { params: { m: new Map() } as never })]),
        'drafts[0].params.m',
      ],
      [
        'enqueueRuns',
        (s) => s.enqueueRuns([runDraft(app, { params: [[() => 1]] as never })]),
        'drafts[0].params[0][0]',
      ],
      [
        'enqueueRuns',
        (s) => s.enqueueRuns([runDraft(app, { params: 'x'.repeat(70_000) })]),
        'drafts[0].params',
      ],
      ['enqueueRuns', (s) => s.enqueueRuns({} as never), 'drafts'],
      ['claimRuns', (s) => s.claimRuns(null as never), 'request'],
      ['getJob', (s) => s.getJob('bad app', 'k'), 'app'],
      [
        'saveJob',
        (s) => s.saveJob(jobDraft(app, 'k', { retry: { ...jobDraft(app, 'k').retry, jitter: 2 } }), null),
        'draft.retry.jitter',
      ],
      ['saveJob', (s) => s.saveJob(jobDraft(app, 'k', { partition: 64 }), null), 'draft.partition'],
      [
        'saveJob',
        (s) => s.saveJob(jobDraft(app, 'k', { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }), null),
        'draft.tags',
      ],
      [
        'saveJob',
        (s) => s.saveJob(jobDraft(app, 'k', { description: 'd'.repeat(4097) }), null),
        'draft.description',
      ],
      [
        'saveJob',
        (s) => s.saveJob(jobDraft(app, 'k', { schedule: { kind: 'every', ms: 0 } }), null),
        'draft.schedule.ms',
      ],
      ['saveJob', (s) => s.saveJob(jobDraft(app, 'k'), 0), 'expectedVersion'],
      ['deleteJob', (s) => s.deleteJob(app, '', 1), 'key'],
      ['listJobs', (s) => s.listJobs({ source: 'yaml' as never }), 'filter.source'],
      ['dueJobs', (s) => s.dueJobs({ app, partitions: [-1], limit: 10 }), 'query.partitions[0]'],
      ['dueJobs', (s) => s.dueJobs({ app, partitions: null, limit: 1001 }), 'query.limit'],
      ['dueJobs', (s) => s.dueJobs({ app, partitions: null, limit: 10, horizonMs: -1 }), 'query.horizonMs'],
      [
        'dueJobs',
        (s) => s.dueJobs({ app, partitions: null, limit: 10, horizonMs: 60_001 }),
        'query.horizonMs',
      ],
      ['dueJobs', (s) => s.dueJobs({ app, partitions: null, limit: 10, horizonMs: 1.5 }), 'query.horizonMs'],
      [
        'fireJobs',
        (s) =>
          s.fireJobs(app, [
            { jobKey: 'k', expectedNextFireAt: 1.5, nextFireAt: null, lastFireAt: 1, runs: [] },
          ]),
        'fires[0].expectedNextFireAt',
      ],
      [
        'fireJobs',
        (s) =>
          s.fireJobs(app, [
            {
              jobKey: 'k',
              expectedNextFireAt: 1,
              nextFireAt: null,
              lastFireAt: 1,
              runs: [runDraft('other', { jobKey: 'k' })],
            },
          ]),
        'fires[0].runs[0].app',
      ],
      [
        'nextWakeAt',
        (s) => s.nextWakeAt({ app, partitions: null, handlers: [7 as never], nodeId: 'n1' }),
        'query.handlers[0]',
      ],
      [
        'enqueueRuns',
        (s) => s.enqueueRuns([runDraft(app, { shardIndex: 2, shardTotal: 2 })]),
        'drafts[0].shardIndex',
      ],
      [
        'enqueueRuns',
        (s) => s.enqueueRuns([runDraft(app, { state: 'running' as never })]),
        'drafts[0].state',
      ],
      [
        'enqueueRuns',
        (s) => s.enqueueRuns([runDraft(app, { params: { d: new Date(0) } as never })]),
        'drafts[0].params.d',
      ],
      [
        'enqueueRuns',
        (s) => s.enqueueRuns([runDraft(app, { params: { u: undefined } as never })]),
        'drafts[0].params.u',
      ],
      [
        'claimRuns',
        (s) => s.claimRuns({ ...node, handlers: ['h'], limit: 1, leaseMs: 0 }),
        'request.leaseMs',
      ],
      [
        'claimRuns',
        (s) => s.claimRuns({ ...node, incarnation: 0, handlers: ['h'], limit: 1, leaseMs: 10 }),
        'request.incarnation',
      ],
      [
        'completeRun',
        (s) =>
          s.completeRun({
            runId: 'r',
            nodeId: 'n1',
            incarnation: 1,
            outcome: 'dead' as never,
            durationMs: 1,
          }),
        'request.outcome',
      ],
      [
        'completeRun',
        (s) =>
          s.completeRun({
            runId: 'r',
            nodeId: 'n1',
            incarnation: 1,
            outcome: 'failed',
            durationMs: 1,
            retry: runDraft(app, { attempt: 0 }),
          }),
        'request.retry.attempt',
      ],
      [
        'completeRun',
        (s) =>
          s.completeRun({
            runId: 'r',
            nodeId: 'n1',
            incarnation: 1,
            outcome: 'succeeded',
            durationMs: 1,
            result: 'x'.repeat(70_000),
          }),
        'request.result',
      ],
      ['cancelRun', (s) => s.cancelRun('r', 'x'.repeat(5000)), 'reason'],
      ['getRun', (s) => s.getRun('r'.repeat(201)), 'runId'],
      ['listRuns', (s) => s.listRuns({ trigger: 'cron' as never }), 'filter.trigger'],
      ['listRuns', (s) => s.listRuns({ from: -1 }), 'filter.from'],
      ['countRuns', (s) => s.countRuns(app, ['nope' as never]), 'states[0]'],
      ['countRuns', (s) => s.countRuns(app, []), 'states'],
      ['listRuns', (s) => s.listRuns({ states: [] }), 'filter.states'],
      ['registerNode', (s) => s.registerNode(nodeInfo(app, 'n\u0000')), 'info.nodeId'],
      [
        'registerNode',
        (s) => s.registerNode(nodeInfo(app, 'n1', { weight: Number.POSITIVE_INFINITY })),
        'info.weight',
      ],
      [
        'heartbeat',
        (s) => s.heartbeat({ ...node, state: 'offline' as never, running: 0, runs: [], runLeaseMs: 10 }),
        'request.state',
      ],
      [
        'heartbeat',
        (s) =>
          s.heartbeat({
            ...node,
            state: 'active',
            running: 0,
            runs: [{ runId: 'r', progress: 101 }],
            runLeaseMs: 10,
          }),
        'request.runs[0].progress',
      ],
      ['leaveNode', (s) => s.leaveNode(app, 'n1', -1), 'incarnation'],
      ['setNodeDesiredState', (s) => s.setNodeDesiredState(app, 'n1', 'offline' as never), 'desired'],
      ['removeNode', (s) => s.removeNode(app, ''), 'nodeId'],
      ['listNodes', (s) => s.listNodes('x'.repeat(65)), 'app'],
      ['acquireLeadership', (s) => s.acquireLeadership({ ...node, ttlMs: 0 }), 'request.ttlMs'],
      ['getLeader', (s) => s.getLeader('a b'), 'app'],
      ['resignLeadership', (s) => s.resignLeadership(app, 'n1', 0), 'epoch'],
      [
        'writePartitionMap',
        (s) => s.writePartitionMap({ app, epoch: 1, assignments: { n1: [99] } }),
        'request.assignments.n1[0]',
      ],
      ['getPartitionMap', (s) => s.getPartitionMap(''), 'app'],
      ['reapDeadNodes', (s) => s.reapDeadNodes({ app, epoch: 1, nodeTtlMs: 0 }), 'request.nodeTtlMs'],
      [
        'retargetRuns',
        (s) => s.retargetRuns({ app, epoch: 1, moves: [{ runId: '', from: null, to: null }] }),
        'request.moves[0].runId',
      ],
      [
        'appendLogs',
        (s) => s.appendLogs([{ runId: 'r', level: 'fatal' as never, message: 'm', fields: null, ts: 1 }]),
        'lines[0].level',
      ],
      [
        'appendLogs',
        (s) => s.appendLogs([{ runId: 'r', level: 'info', message: 'm'.repeat(8193), fields: null, ts: 1 }]),
        'lines[0].message',
      ],
      [
        'appendLogs',
        (s) => s.appendLogs([{ runId: 'r', level: 'info', message: 'm', fields: [1] as never, ts: 1 }]),
        'lines[0].fields',
      ],
      ['readLogs', (s) => s.readLogs('r', 0, 0), 'limit'],
      [
        'appendAudit',
        (s) =>
          s.appendAudit({
            app,
            actor: 'a',
            action: 'x',
            targetType: 'user' as never,
            targetId: 'i',
            before: null,
            after: null,
          }),
        'entry.targetType',
      ],
      ['listAudit', (s) => s.listAudit({ app }, { cursor: 'c'.repeat(2000) }), 'page.cursor'],
      ['getStats', (s) => s.getStats({ app, from: Number.NaN, to: 1 }), 'query.from'],
      ['prune', (s) => s.prune({ app, limit: 10 }), 'request'],
      ['prune', (s) => s.prune({ app, keepLast: 1, limit: 0 }), 'request.limit'],
    ];
    for (const [method, call, field] of cases) {
      it(`${method}: refuses bad ${field} without calling the store`, async () => {
        const { store, calls } = spyStore();
        const guarded = wrapStore(store);
        await guarded.init();
        const error = await call(guarded).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(field);
        expect((error as ValidationError).message).toContain(field);
        expect(calls).toEqual(['init']);
      });
    }
  });
});
