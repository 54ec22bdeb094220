import { type NodeRecord, RUN_STATES, type RunFilter, type RunRecord } from '@oasis/core';
import { jobDraft, nodeInfo, retryPolicy, runDraft, uniqueApp } from '@oasis/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index';
import { RedisKeys } from '../src/keys';
import { cleanPrefix, REDIS_URL, randomPrefix, redisReachable } from './redis-helpers';
import { pollUntil } from './redis-server';

const reachable = await redisReachable();
const prefix = randomPrefix('sjidx');
const keys = new RedisKeys(prefix);
const STATES = RUN_STATES;
/** A job key with ':' in it: its sets' names must still say which state and job they hold. */
const COLON_JOB = 'billing:nightly';

/**
 * The per-(state, job) sets that exist for these jobs of an app (read by name, not by SCAN: the
 * shared server may hold millions of keys).
 */
async function setsOf(raw: Redis, app: string, jobKeys: string[]): Promise<string[]> {
  const names = jobKeys.flatMap((job) => STATES.map((state) => keys.runsByStateAndJob(app, state, job)));
  const exists = await Promise.all(names.map((k) => raw.exists(k)));
  return names.filter((_, i) => exists[i] === 1);
}

/**
 * The per-(state, job) index invariant of one app whose runs belong to `jobKeys` (or to none),
 * read through the back door: every run with a job is in exactly the set of its state and job,
 * runs without one are in none, and no set holds a run that is gone or of another state or job.
 */
async function expectIndexExact(raw: Redis, app: string, jobKeys: string[]): Promise<void> {
  const base = keys.base(app);
  const head = `${base}:runs:sj:`;
  const setsOfRun = new Map<string, string[]>();
  for (const key of await setsOf(raw, app, jobKeys)) {
    const rest = key.slice(head.length);
    const colon = rest.indexOf(':');
    const state = rest.slice(0, colon);
    const job = rest.slice(colon + 1);
    for (const seq of await raw.zrange(key, 0, -1)) {
      const [runState, runJob] = await raw.hmget(`${base}:run:${seq}`, 'state', 'jobKey');
      expect({ key, seq, state: runState, job: runJob }).toEqual({ key, seq, state, job });
      expect(await raw.zscore(key, seq)).toBe(seq);
      setsOfRun.set(seq, [...(setsOfRun.get(seq) ?? []), key]);
    }
  }
  for (const seq of await raw.zrange(`${base}:runs`, 0, -1)) {
    const [state, jobKey] = await raw.hmget(`${base}:run:${seq}`, 'state', 'jobKey');
    const job = jobKey ?? null;
    if (job !== null) expect(jobKeys).toContain(job);
    expect({ seq, sets: setsOfRun.get(seq) ?? [] }).toEqual({
      seq,
      sets: job === null ? [] : [keys.runsByStateAndJob(app, state!, job)],
    });
    setsOfRun.delete(seq);
  }
  expect([...setsOfRun.keys()]).toEqual([]);
}

/** Every page of a listing, following cursors to the end. */
async function allPages(store: RedisStore, filter: RunFilter, limit: number): Promise<RunRecord[][]> {
  const pages: RunRecord[][] = [];
  let cursor: string | null = null;
  do {
    const page = await store.listRuns(filter, { limit, cursor });
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 1000);
  expect(cursor).toBeNull();
  return pages;
}

// Skipped only when Redis is unreachable: redisReachable() warned loudly (and failed the run under CI=true).
describe.skipIf(!reachable)('redis store per-(state, job) run index', () => {
  let store: RedisStore;
  let raw: Redis;
  let offset = 0;

  beforeAll(async () => {
    store = createRedisStore({ url: REDIS_URL, prefix, clockOffsetMs: () => offset });
    await store.init();
    raw = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await store.close();
    raw.disconnect();
    await cleanPrefix(prefix);
  });

  async function claim(app: string, node: NodeRecord, limit: number): Promise<RunRecord[]> {
    return store.claimRuns({
      app,
      nodeId: node.nodeId,
      incarnation: node.incarnation,
      handlers: ['h'],
      limit,
      leaseMs: 600_000,
    });
  }

  function done(
    node: NodeRecord,
    run: RunRecord,
    outcome: 'succeeded' | 'failed' | 'timed_out' | 'cancelled',
  ) {
    const retry =
      outcome === 'failed' && run.attempt < 2
        ? runDraft(run.app, {
            jobKey: run.jobKey,
            trigger: 'retry',
            attempt: run.attempt + 1,
            retry: retryPolicy(2),
            parentRunId: run.id,
          })
        : null;
    return {
      runId: run.id,
      nodeId: node.nodeId,
      incarnation: node.incarnation,
      outcome,
      error: outcome === 'failed' ? { name: 'Error', message: 'boom' } : null,
      durationMs: 5,
      retry,
    };
  }

  it('every step that moves or deletes a run keeps its job in exactly the set of its state', async () => {
    const app = uniqueApp('inv');
    const JOBS = ['par', 'ser', 'skp', 'rep', COLON_JOB];
    for (const [key, block] of [
      ['par', 'parallel'],
      ['ser', 'serial'],
      ['skp', 'skip'],
      ['rep', 'replace'],
      [COLON_JOB, 'parallel'],
    ] as const) {
      await store.saveJob(jobDraft(app, key, { block, retry: retryPolicy(2) }), null);
    }
    const n1 = await store.registerNode(nodeInfo(app, 'n1', { concurrency: 100 }));
    const n2 = await store.registerNode(nodeInfo(app, 'n2', { concurrency: 100 }));
    const job = (jobKey: string, block: 'parallel' | 'serial' | 'skip' | 'replace' = 'parallel') =>
      runDraft(app, { jobKey, block, retry: retryPolicy(2) });
    // Job runs of every block strategy (skip and replace give skipped and cancelled runs at
    // insert), and one-off tasks.
    await store.enqueueRuns([
      ...Array.from({ length: 8 }, () => job('par')),
      ...Array.from({ length: 3 }, () => job('ser', 'serial')),
      ...Array.from({ length: 2 }, () => job('skp', 'skip')),
      ...Array.from({ length: 3 }, () => job('rep', 'replace')),
      ...Array.from({ length: 4 }, () => job(COLON_JOB)),
      ...Array.from({ length: 5 }, () => runDraft(app)),
    ]);
    await expectIndexExact(raw, app, JOBS);
    expect(await raw.get(keys.runIndexMarker(app))).toBe('1');

    // Claims by two nodes (batched pending -> running).
    const c1 = await claim(app, n1, 9);
    const c2 = await claim(app, n2, 5);
    expect(c1.length + c2.length).toBe(14);
    await expectIndexExact(raw, app, JOBS);

    // Completions in one batch: every outcome, failures with and without a retry left.
    const outcomes = ['succeeded', 'failed', 'timed_out', 'cancelled', 'failed', 'succeeded'] as const;
    const items = await store.completeRuns(c1.slice(0, 6).map((run, i) => done(n1, run, outcomes[i]!)));
    expect(items.every((i) => i.ok)).toBe(true);
    await expectIndexExact(raw, app, JOBS);
    // A retry's own failure with no attempt left: dead.
    const retried = await claim(app, n1, 10);
    const retryRun = retried.find((r) => r.attempt === 2);
    expect(retryRun).toBeDefined();
    await store.completeRun(done(n1, retryRun!, 'failed'));
    expect((await store.getRun(retryRun!.id))!.state).toBe('dead');
    await expectIndexExact(raw, app, JOBS);

    // Cancel a pending run and a running one (which then ends as cancelled).
    await store.enqueueRuns([job('par'), job(COLON_JOB)]);
    const pending = (await store.listRuns({ app, jobKey: COLON_JOB, states: ['pending'] })).items[0]!;
    expect((await store.cancelRun(pending.id, 'not needed')).state).toBe('cancelled');
    const running = c1[6]!;
    expect((await store.cancelRun(running.id, 'stop')).cancelRequested).toBe(true);
    await store.completeRun(done(n1, running, 'cancelled'));
    await expectIndexExact(raw, app, JOBS);

    // n2 goes silent: the leader's reap marks its running runs lost and inserts their retries.
    offset += 60_000;
    const beat = await store.heartbeat({
      app,
      nodeId: n1.nodeId,
      incarnation: n1.incarnation,
      state: 'active',
      running: 0,
      runs: [],
      runLeaseMs: 600_000,
    });
    expect(beat.lostRunIds).toEqual([]);
    const lease = await store.acquireLeadership({
      app,
      nodeId: n1.nodeId,
      incarnation: n1.incarnation,
      ttlMs: 60_000,
    });
    const reaped = await store.reapDeadNodes({ app, epoch: lease.epoch, nodeTtlMs: 30_000 });
    expect(reaped.offlineNodes).toEqual(['n2']);
    expect(reaped.lost.length).toBe(c2.length);
    expect(reaped.lost.some((r) => r.jobKey !== null)).toBe(true);
    await expectIndexExact(raw, app, JOBS);
    // By now the jobs have runs in every state: each kind of set was checked.
    const present = new Set<string>();
    for (const k of await setsOf(raw, app, JOBS))
      present.add(k.slice(`${keys.base(app)}:runs:sj:`.length).split(':')[0]!);
    expect([...present].sort()).toEqual([...STATES].sort());

    // Prune some final runs, then delete a job with pending runs (cancelled by the delete).
    expect(await store.prune({ app, finishedBefore: (await store.now()) + 1, limit: 6 })).toBe(6);
    await expectIndexExact(raw, app, JOBS);
    await store.enqueueRuns([job('ser', 'serial'), job('ser', 'serial')]);
    expect(await store.deleteJob(app, 'ser')).not.toBeNull();
    expect((await store.countRuns(app, ['pending'])).pending).toBeGreaterThan(0);
    await expectIndexExact(raw, app, JOBS);

    // Finally prune everything final: no set of a pruned run is left.
    let pruned = 1;
    while (pruned > 0)
      pruned = await store.prune({ app, finishedBefore: (await store.now()) + 1, limit: 100 });
    await expectIndexExact(raw, app, JOBS);
    expect((await store.countRuns(app, ['succeeded', 'dead', 'lost'])).succeeded).toBe(0);
  });

  it('job + states pages through the index equal the walk over the job, cursors to the end', async () => {
    const app = uniqueApp('pages');
    const node = await store.registerNode(nodeInfo(app, 'n1', { concurrency: 1000 }));
    const jobs = ['a', 'b', COLON_JOB];
    const start = offset;
    // 360 runs over 6 "hours" of store time, of three jobs and some tasks, in every state.
    for (let hour = 0; hour < 6; hour++) {
      offset = start + hour * 3_600_000;
      const made = await store.enqueueRuns(
        Array.from({ length: 60 }, (_, i) =>
          runDraft(app, {
            jobKey: i % 7 === 6 ? null : jobs[i % 3]!,
            trigger: i % 4 === 0 ? 'manual' : 'api',
            retry: retryPolicy(1),
            params: { hour, i },
          }),
        ),
      );
      expect(made).toHaveLength(60);
      const claimed = await claim(app, node, 45);
      const outcomes = ['succeeded', 'failed', 'timed_out', 'cancelled', 'succeeded'] as const;
      // A third stays running, the rest end in varied ways; 15 stay pending.
      const ending = claimed.filter((_, i) => i % 3 !== 0);
      const items = await store.completeRuns(ending.map((run, i) => done(node, run, outcomes[i % 5]!)));
      expect(items.every((i) => i.ok)).toBe(true);
    }
    const now = await store.now();
    const t0 = (await store.listRuns({ app }, { limit: 1000 })).items.at(-1)!.createdAt;
    const filters: RunFilter[] = [];
    for (const jobKey of jobs) {
      filters.push(
        { app, jobKey, states: ['succeeded'] },
        { app, jobKey, states: ['dead', 'failed', 'timed_out'] },
        { app, jobKey, states: ['pending', 'running'] },
        { app, jobKey, states: ['running', 'running', 'cancelled'] },
        { app, jobKey, states: ['lost'] },
        { app, jobKey, states: ['succeeded', 'dead'], from: t0 + 3_600_000, to: t0 + 4 * 3_600_000 },
        { app, jobKey, states: ['succeeded', 'running'], from: t0 + 5_400_000 },
        { app, jobKey, states: ['succeeded', 'pending', 'dead'], to: t0 + 2 * 3_600_000 + 1 },
        { app, jobKey, states: ['succeeded', 'dead'], trigger: 'manual' },
        { app, jobKey, states: ['running', 'dead', 'succeeded'], nodeId: 'n1' },
        { app, jobKey, states: ['succeeded'], nodeId: 'elsewhere' },
        { app, jobKey, states: [...STATES], from: t0, to: now + 1 },
      );
    }
    filters.push({ app, states: ['succeeded', 'dead'] }, { app, jobKey: 'none', states: ['succeeded'] });
    const marker = keys.runIndexMarker(app);
    for (const limit of [7, 50]) {
      for (const filter of filters) {
        expect(await raw.get(marker)).toBe('1');
        const indexed = await allPages(store, filter, limit);
        await raw.del(marker);
        const walked = await allPages(store, filter, limit);
        await raw.set(marker, '1');
        // A listing may end with an empty page: its last page was full and it had not seen the end.
        // The walk more often (the job's next run was of another state) than the index.
        const ids = (pages: RunRecord[][]) => {
          const out = pages.map((p) => p.map((r) => r.id));
          if (out.length > 1 && out.at(-1)!.length === 0) out.pop();
          return out;
        };
        expect({ filter, limit, pages: ids(indexed) }).toEqual({ filter, limit, pages: ids(walked) });
        expect(indexed.length).toBeLessThanOrEqual(walked.length);
        expect(indexed.flat()).toEqual(walked.flat());
      }
    }
    // A state named twice lists each run once (through the state sets too, without a job).
    const twice = await allPages(store, { app, states: ['succeeded', 'succeeded', 'pending'] }, 50);
    const once = await allPages(store, { app, states: ['succeeded', 'pending'] }, 50);
    expect(twice.flat().map((r) => r.id)).toEqual(once.flat().map((r) => r.id));
    expect(new Set(once.flat().map((r) => r.id)).size).toBe(once.flat().length);
    // The filters were not all empty: the comparison compared runs.
    const some = await allPages(store, { app, jobKey: 'a', states: ['succeeded', 'dead'] }, 50);
    expect(some.flat().length).toBeGreaterThan(10);
  });

  it('the backfill builds the index of older data in bounded steps while runs keep moving', async () => {
    const app = uniqueApp('fill');
    const node = await store.registerNode(nodeInfo(app, 'n1', { concurrency: 1000 }));
    const jobs = ['x', 'y', COLON_JOB];
    const mixed = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) =>
        runDraft(app, {
          jobKey: i % 5 === 4 ? null : jobs[i % 3]!,
          params: { tag, i },
          retry: retryPolicy(2),
        }),
      );
    await store.enqueueRuns(mixed(300, 'old'));
    const claimed = await claim(app, node, 200);
    await store.completeRuns(
      claimed.slice(0, 120).map((r, i) => done(node, r, i % 4 === 0 ? 'failed' : 'succeeded')),
    );
    // Old data: no sets and no marker, as a store written before the index existed leaves it.
    const sets = await setsOf(raw, app, jobs);
    expect(sets.length).toBeGreaterThan(5);
    await raw.del(...sets, keys.runIndexMarker(app));

    // The backfill in steps of 40 runs, with other steps between its calls: inserts, claims,
    // completions (with retries), a cancel and a prune.
    let steps = 0;
    let read = 0;
    for (;;) {
      const step = await store.indexRunsStep(app, 40);
      steps++;
      read += step.runs;
      expect(step.runs).toBeLessThanOrEqual(40);
      if (step.done) break;
      expect(await raw.exists(keys.runIndexMarker(app))).toBe(0);
      expect(await raw.exists(keys.runIndexCursor(app))).toBe(1);
      if (steps % 2 === 0) await store.enqueueRuns(mixed(7, `during${steps}`));
      const more = await claim(app, node, 6);
      await store.completeRuns(
        more.slice(0, 4).map((r, i) => done(node, r, i === 0 ? 'failed' : 'succeeded')),
      );
      if (steps === 3) {
        const p = (await store.listRuns({ app, jobKey: 'y', states: ['pending'] })).items[0]!;
        await store.cancelRun(p.id, 'during the backfill');
      }
      if (steps === 4)
        expect(await store.prune({ app, finishedBefore: (await store.now()) + 1, limit: 15 })).toBe(15);
      expect(steps).toBeLessThan(100);
    }
    expect(steps).toBeGreaterThan(5);
    expect(read).toBeGreaterThanOrEqual(300 - 15);
    expect(await raw.get(keys.runIndexMarker(app))).toBe('1');
    expect(await raw.exists(keys.runIndexCursor(app))).toBe(0);
    await expectIndexExact(raw, app, jobs);
    // Done is done: another step reads nothing; a build finds nothing to do.
    expect(await store.indexRunsStep(app)).toEqual({ done: true, runs: 0 });
    expect(await store.buildRunIndex(app)).toEqual({ apps: 0, calls: 0, runs: 0 });
    // And the listings through it are the walk's.
    const indexed = await allPages(store, { app, jobKey: 'x', states: ['succeeded', 'pending'] }, 50);
    await raw.del(keys.runIndexMarker(app));
    const walked = await allPages(store, { app, jobKey: 'x', states: ['succeeded', 'pending'] }, 50);
    await raw.set(keys.runIndexMarker(app), '1');
    expect(indexed.flat()).toEqual(walked.flat());
    expect(walked.flat().length).toBeGreaterThan(20);
  });

  it('init() builds the index of older apps in the background; a new app has it from its first run', async () => {
    const app = uniqueApp('init');
    await store.enqueueRuns(Array.from({ length: 30 }, (_, i) => runDraft(app, { jobKey: `j${i % 4}` })));
    expect(await raw.get(keys.runIndexMarker(app))).toBe('1');
    const sets = await setsOf(raw, app, ['j0', 'j1', 'j2', 'j3']);
    expect(sets).toHaveLength(4);
    await raw.del(...sets, keys.runIndexMarker(app));
    // Told not to, init() builds nothing (close() waits for a build it would have started).
    const quiet = createRedisStore({ url: REDIS_URL, prefix, buildRunIndexOnInit: false });
    await quiet.init();
    await quiet.close();
    expect(await raw.exists(keys.runIndexMarker(app))).toBe(0);
    // By default the build runs behind init().
    const other = createRedisStore({ url: REDIS_URL, prefix });
    try {
      await other.init();
      await pollUntil(async () => (await raw.get(keys.runIndexMarker(app))) === '1', 'the index marker');
      await expectIndexExact(raw, app, ['j0', 'j1', 'j2', 'j3']);
    } finally {
      await other.close();
    }
  });
});
