import { MemoryStore, TestClock } from '@oasis/core';
import { jobDraft, nodeInfo, runDraft, runStoreConformance } from '@oasis/core/testing';
import { describe, expect, it } from 'vitest';

const clock = new TestClock();

// MemoryStore is not crossProcess, so the suite calls create() once and races its concurrent
// calls on that one instance; every test uses its own app, so one shared store is honest.
runStoreConformance({
  name: 'memory',
  create: async () => new MemoryStore({ clock }),
  advanceTime: (ms) => clock.advance(ms),
});

// The same suite on the system clock exercises the real-time path that server stores take: the
// suite waits for store time by polling now() with a deadline.
runStoreConformance({
  name: 'memory (real time)',
  create: async () => new MemoryStore(),
  shortMs: 150,
});

describe('MemoryStore', () => {
  it('hands out copies: changing a returned record or a passed draft changes nothing stored', async () => {
    const store = new MemoryStore({ clock: new TestClock() });
    const draft = jobDraft('app', 'job', { params: { list: [1] }, tags: ['t'] });
    const job = await store.saveJob(draft, null);
    (draft.params as { list: number[] }).list.push(2);
    draft.tags.push('u');
    (job.params as { list: number[] }).list.push(3);
    job.tags.push('v');
    expect(await store.getJob('app', 'job')).toMatchObject({ params: { list: [1] }, tags: ['t'] });
    (await store.listJobs({ app: 'app' })).items[0]!.tags.push('w');
    expect((await store.getJob('app', 'job'))!.tags).toEqual(['t']);

    const runDraftValue = runDraft('app', { params: { a: { b: 1 } } });
    const run = (await store.enqueueRuns([runDraftValue]))[0]!.run;
    (runDraftValue.params as { a: { b: number } }).a.b = 2;
    (run.params as { a: { b: number } }).a.b = 3;
    expect((await store.getRun(run.id))!.params).toEqual({ a: { b: 1 } });

    const info = nodeInfo('app', 'n1');
    const node = await store.registerNode(info);
    info.handlers.push('x');
    node.handlers.push('y');
    expect((await store.listNodes('app'))[0]!.handlers).toEqual(['h']);

    const lease = await store.acquireLeadership({
      app: 'app',
      nodeId: 'n1',
      incarnation: node.incarnation,
      ttlMs: 1000,
    });
    lease.epoch = 99;
    expect((await store.getLeader('app'))!.epoch).toBe(1);
    const assignments = { n1: [1, 2] };
    const map = await store.writePartitionMap({ app: 'app', epoch: 1, assignments });
    assignments.n1.push(3);
    map.assignments.n1!.push(4);
    expect((await store.getPartitionMap('app')).assignments).toEqual({ n1: [1, 2] });
  });

  it('stores only the fields of the contract, whatever else a caller left on an object', async () => {
    const store = new MemoryStore();
    const draft = { ...jobDraft('app', 'job'), version: 40, createdAt: 1, extra: 'x' };
    const job = await store.saveJob(draft, null);
    expect(job.version).toBe(1);
    expect(job).not.toHaveProperty('extra');
  });

  it('honours maxLogLinesPerRun', async () => {
    const store = new MemoryStore({ maxLogLinesPerRun: 3 });
    const run = (await store.enqueueRuns([runDraft('app')]))[0]!.run;
    const line = (message: string) => ({
      runId: run.id,
      level: 'info' as const,
      message,
      fields: null,
      ts: 1,
    });
    await store.appendLogs([line('a'), line('b'), line('c'), line('d')]);
    const log = await store.readLogs(run.id, 0, 10);
    expect(log.map((l) => [l.seq, l.level, l.message.slice(0, 13)])).toEqual([
      [1, 'info', 'a'],
      [2, 'info', 'b'],
      [3, 'warn', 'log truncated'],
    ]);
  });

  it('uses the clock it is given as store time', async () => {
    const testClock = new TestClock(Date.UTC(2031, 5, 1));
    const store = new MemoryStore({ clock: testClock });
    expect(await store.now()).toBe(Date.UTC(2031, 5, 1));
    await testClock.advance(1234);
    expect(await store.now()).toBe(Date.UTC(2031, 5, 1) + 1234);
    const run = (await store.enqueueRuns([runDraft('app', { delayMs: 10 })]))[0]!.run;
    expect(run).toMatchObject({ createdAt: Date.UTC(2031, 5, 1) + 1234, dueAt: Date.UTC(2031, 5, 1) + 1244 });
  });

  it('delivers wake-ups to subscribers of the app only, after the step, and stops after unsubscribe', async () => {
    const store = new MemoryStore();
    const heard: string[] = [];
    const off = store.subscribe('a', (e) => heard.push(`a:${e.type}`));
    store.subscribe('b', (e) => heard.push(`b:${e.type}`));
    await store.enqueueRuns([runDraft('a')]);
    await store.saveJob(jobDraft('a', 'j'), null);
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual(['a:runs', 'a:jobs']);
    off();
    await store.enqueueRuns([runDraft('a')]);
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual(['a:runs', 'a:jobs']);
  });
});
