import type { RunRecord } from '@oasis/core';
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

/** A small seeded PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// The memory store answers dueJobs, nextWakeAt and claimRuns from indexes (heaps per partition
// and per handler + target). These tests drive it through random changes and compare each answer
// with the same question answered by scanning every record, as the contract words it.
describe('MemoryStore indexes agree with a full scan', () => {
  it('dueJobs and nextWakeAt, through saves, fires, disables, partition moves and deletes', async () => {
    const rand = prng(2026);
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const store = new MemoryStore({ clock });
    const apps = ['a', 'b'];
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const keys = Array.from({ length: 60 }, (_, i) => `job-${i}`);
    const all = async (app: string) => (await store.listJobs({ app }, { limit: 1000 })).items;
    for (let step = 0; step < 1_500; step++) {
      const app = pick(apps);
      const key = pick(keys);
      const now = clock.now();
      const existing = await store.getJob(app, key);
      const r = rand();
      if (r < 0.35) {
        const at = rand() < 0.15 ? null : now + Math.floor((rand() - 0.5) * 20) * 1000;
        await store.saveJob(
          jobDraft(app, key, { nextFireAt: at, enabled: rand() < 0.85, partition: Math.floor(rand() * 4) }),
          'any',
        );
      } else if (r < 0.5 && existing) {
        await store.deleteJob(app, key);
      } else if (r < 0.7 && existing?.nextFireAt != null) {
        const next = rand() < 0.2 ? null : existing.nextFireAt + Math.floor(rand() * 10) * 1000;
        await store.fireJobs(app, [
          {
            jobKey: key,
            expectedNextFireAt: existing.nextFireAt,
            nextFireAt: next,
            lastFireAt: now,
            runs: [],
          },
        ]);
      } else if (r < 0.8) {
        await clock.advance(Math.floor(rand() * 3) * 1000);
      }
      if (step % 10 !== 0) continue;
      const t = clock.now();
      for (const a of apps) {
        const jobs = await all(a);
        for (const partitions of [null, [0], [1, 3], [], [2, 2]]) {
          const inParts = jobs.filter(
            (j) =>
              j.enabled && j.nextFireAt !== null && (partitions === null || partitions.includes(j.partition)),
          );
          const expected = inParts
            .filter((j) => j.nextFireAt! <= t)
            .sort((x, y) => x.nextFireAt! - y.nextFireAt! || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
            .map((j) => j.key);
          for (const limit of [1, 3, 100]) {
            const due = await store.dueJobs({ app: a, partitions, limit });
            expect(due.map((j) => j.key)).toEqual(expected.slice(0, limit));
          }
          const wake = inParts.length === 0 ? null : Math.min(...inParts.map((j) => j.nextFireAt!));
          expect(await store.nextWakeAt({ app: a, partitions, handlers: [], nodeId: 'n1' })).toBe(wake);
        }
      }
    }
  });

  it('claimRuns and nextWakeAt, through enqueues, retargets, cancels, claims and completions', async () => {
    const rand = prng(42);
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const store = new MemoryStore({ clock });
    const app = 'app';
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const nodes = new Map<string, number>();
    for (const id of ['n1', 'n2']) {
      nodes.set(id, (await store.registerNode(nodeInfo(app, id, { handlers: ['h', 'g'] }))).incarnation);
    }
    const epoch = (
      await store.acquireLeadership({ app, nodeId: 'n1', incarnation: nodes.get('n1')!, ttlMs: 1e9 })
    ).epoch;
    const running: RunRecord[] = [];
    let claims = 0;
    for (let step = 0; step < 1_500; step++) {
      const now = clock.now();
      const r = rand();
      if (r < 0.4) {
        const jobKey = rand() < 0.3 ? null : pick(['j1', 'j2', 'j3', 'j4']);
        await store.enqueueRuns([
          runDraft(app, {
            jobKey,
            handler: pick(['h', 'g', 'x']),
            priority: pick([0, 0, 1, 5]),
            dueAt: now + Math.floor((rand() - 0.6) * 10) * 1000,
            targetNode: rand() < 0.2 ? pick(['n1', 'n2', 'n3']) : null,
            block: jobKey === null ? 'parallel' : pick(['serial', 'parallel', 'skip', 'replace'] as const),
          }),
        ]);
      } else if (r < 0.5) {
        const pending = (await store.listRuns({ app, states: ['pending'] }, { limit: 1000 })).items;
        const targeted = pending.filter((p) => p.targetNode !== null);
        if (targeted.length > 0) {
          const run = pick(targeted);
          await store.retargetRuns({
            app,
            epoch,
            moves: [{ runId: run.id, from: run.targetNode!, to: pick(['n1', 'n2']) }],
          });
        }
      } else if (r < 0.55) {
        const pending = (await store.listRuns({ app, states: ['pending'] }, { limit: 1000 })).items;
        if (pending.length > 0) await store.cancelRun(pick(pending).id, 'test');
      } else if (r < 0.7 && running.length > 0) {
        const run = running.splice(Math.floor(rand() * running.length), 1)[0]!;
        await store.completeRun({
          runId: run.id,
          nodeId: run.ownerNode!,
          incarnation: run.ownerIncarnation!,
          outcome: 'succeeded',
          error: null,
          durationMs: 1,
          retry: null,
        });
      } else if (r < 0.9) {
        const nodeId = pick(['n1', 'n2']);
        const handlers = pick([['h'], ['g'], ['h', 'g'], ['x', 'h']]);
        const limit = pick([1, 2, 5]);
        // What the contract says, from a scan of every pending and running run.
        const active = (await store.listRuns({ app, states: ['pending', 'running'] }, { limit: 1000 })).items;
        const busy = new Set(
          active.filter((a) => a.state === 'running' && a.jobKey !== null).map((a) => a.jobKey!),
        );
        const candidates = active
          .filter(
            (a) =>
              a.state === 'pending' &&
              a.dueAt <= now &&
              handlers.includes(a.handler) &&
              (a.targetNode === null || a.targetNode === nodeId),
          )
          .sort((x, y) => y.priority - x.priority || x.dueAt - y.dueAt || (x.id < y.id ? -1 : 1));
        const expected: string[] = [];
        for (const c of candidates) {
          if (expected.length >= limit) break;
          if (c.jobKey !== null) {
            if (c.block !== 'parallel' && busy.has(c.jobKey)) continue;
            busy.add(c.jobKey);
          }
          expected.push(c.id);
        }
        const claimed = await store.claimRuns({
          app,
          nodeId,
          incarnation: nodes.get(nodeId)!,
          handlers,
          limit,
          leaseMs: 1e9,
        });
        expect(claimed.map((c) => c.id)).toEqual(expected);
        running.push(...claimed);
        const pendingNow = (await store.listRuns({ app, states: ['pending'] }, { limit: 1000 })).items.filter(
          (p) => handlers.includes(p.handler) && (p.targetNode === null || p.targetNode === nodeId),
        );
        const wake = pendingNow.length === 0 ? null : Math.min(...pendingNow.map((p) => p.dueAt));
        expect(await store.nextWakeAt({ app, partitions: [], handlers, nodeId })).toBe(wake);
        claims += claimed.length;
      } else {
        await clock.advance(Math.floor(rand() * 3) * 1000);
      }
    }
    expect(claims).toBeGreaterThan(100);
  });
});
