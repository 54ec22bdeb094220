/** Conformance: fireJobs compare-and-set, exactly-once materialization, enqueue idempotency. */
import { describe, expect, it } from 'vitest';
import type { FireRequest } from '../store/store';
import { jobDraft, runDraft } from './fixtures';
import type { Harness } from './harness';

/** Registers the firing and idempotency tests. */
export function firingTests(h: Harness): void {
  const fireOf = (app: string, key: string, at: number, next: number | null, slots = 1): FireRequest => ({
    jobKey: key,
    expectedNextFireAt: at,
    nextFireAt: next,
    lastFireAt: at,
    runs: Array.from({ length: slots }, (_, i) =>
      runDraft(app, {
        jobKey: key,
        trigger: 'schedule',
        scheduledFor: at,
        idempotencyKey: `fire:${key}:${at}:${i}`,
        shardIndex: i,
        shardTotal: slots,
      }),
    ),
  });

  describe('firing', () => {
    it('fireJobs advances nextFireAt and lastFireAt and inserts the runs in one step', async () => {
      const app = h.app();
      const now = await h.store.now();
      const at = now - 1000;
      const saved = await h.store.saveJob(jobDraft(app, 'f', { nextFireAt: at }), null);
      const [result] = await h.store.fireJobs(app, [fireOf(app, 'f', at, at + 60_000, 2)]);
      expect(result).toMatchObject({ jobKey: 'f', fired: true });
      expect(result!.runs).toHaveLength(2);
      expect(result!.runs.map((r) => r.shardIndex).sort()).toEqual([0, 1]);
      for (const run of result!.runs) {
        expect(run).toMatchObject({
          app,
          jobKey: 'f',
          state: 'pending',
          trigger: 'schedule',
          scheduledFor: at,
        });
        expect(await h.store.getRun(run.id)).toEqual(run);
      }
      const job = await h.store.getJob(app, 'f');
      expect(job).toMatchObject({ nextFireAt: at + 60_000, lastFireAt: at });
      expect(job!.version).toBeGreaterThan(saved.version);
      expect(await h.store.dueJobs({ app, partitions: null, limit: 10 })).toEqual([]);
    });

    it('a stale expectedNextFireAt, a disabled job or a missing job fires nothing (fired: false)', async () => {
      const app = h.app();
      const now = await h.store.now();
      await h.store.saveJob(jobDraft(app, 'a', { nextFireAt: now - 10 }), null);
      await h.store.saveJob(jobDraft(app, 'off', { nextFireAt: now - 10, enabled: false }), null);
      const results = await h.store.fireJobs(app, [
        fireOf(app, 'a', now - 20, now + 1000),
        fireOf(app, 'off', now - 10, now + 1000),
        fireOf(app, 'missing', now - 10, now + 1000),
      ]);
      expect(results.map((r) => [r.jobKey, r.fired, r.runs.length])).toEqual([
        ['a', false, 0],
        ['off', false, 0],
        ['missing', false, 0],
      ]);
      expect(await h.store.getJob(app, 'a')).toMatchObject({ nextFireAt: now - 10, lastFireAt: null });
      expect(await h.allRuns(app)).toEqual([]);
    });

    it('each fire in a batch succeeds or fails on its own', async () => {
      const app = h.app();
      const now = await h.store.now();
      await h.store.saveJob(jobDraft(app, 'ok', { nextFireAt: now - 10 }), null);
      await h.store.saveJob(jobDraft(app, 'moved', { nextFireAt: now - 5 }), null);
      const results = await h.store.fireJobs(app, [
        fireOf(app, 'ok', now - 10, null),
        fireOf(app, 'moved', now - 999, null),
      ]);
      expect(results.map((r) => r.fired)).toEqual([true, false]);
      expect(await h.store.getJob(app, 'ok')).toMatchObject({ nextFireAt: null, lastFireAt: now - 10 });
      expect(await h.allRuns(app)).toHaveLength(1);
    });

    it('exactly one of 8 racing fireJobs for the same fire time fires, and its runs are inserted once', async () => {
      const app = h.app();
      const now = await h.store.now();
      const at = now - 100;
      await h.store.saveJob(jobDraft(app, 'race', { nextFireAt: at }), null);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => h.at(i).fireJobs(app, [fireOf(app, 'race', at, at + 1000, 3)])),
      );
      const fired = results.filter((r) => r[0]!.fired);
      expect(fired).toHaveLength(1);
      expect(fired[0]![0]!.runs).toHaveLength(3);
      const runs = await h.allRuns(app);
      expect(runs).toHaveLength(3);
      expect(new Set(runs.map((r) => r.shardIndex))).toEqual(new Set([0, 1, 2]));
    });

    it('a fire re-sent after its nextFireAt was reset inserts nothing: the idempotency keys hold', async () => {
      const app = h.app();
      const now = await h.store.now();
      const at = now - 100;
      await h.store.saveJob(jobDraft(app, 'again', { nextFireAt: at }), null);
      const [first] = await h.store.fireJobs(app, [fireOf(app, 'again', at, at + 1000, 2)]);
      expect(first!.runs).toHaveLength(2);
      const job = (await h.store.getJob(app, 'again'))!;
      const { version, createdAt, updatedAt, ...draft } = job;
      await h.store.saveJob({ ...draft, nextFireAt: at }, version);
      const [second] = await h.at(1).fireJobs(app, [fireOf(app, 'again', at, at + 1000, 2)]);
      expect(second!.fired).toBe(true);
      expect(second!.runs).toEqual([]);
      expect((await h.allRuns(app)).map((r) => r.id).sort()).toEqual(first!.runs.map((r) => r.id).sort());
    });

    it('dueJobs with horizonMs also reads jobs due within it; their fired runs are not claimable before their dueAt', async () => {
      const app = h.app();
      // Real-time stores get more room, so that a slow round trip cannot make the job due.
      const dueIn = h.virtualTime ? 300 : 2_000;
      const horizonMs = dueIn + 200;
      const now = await h.store.now();
      const at = now + dueIn;
      await h.store.saveJob(jobDraft(app, 'soon', { nextFireAt: at }), null);
      await h.store.saveJob(jobDraft(app, 'later', { nextFireAt: at + 60_000 }), null);
      expect(await h.store.dueJobs({ app, partitions: null, limit: 10 })).toEqual([]);
      expect(await h.store.dueJobs({ app, partitions: null, limit: 10, horizonMs: 0 })).toEqual([]);
      const ahead = await h.store.dueJobs({ app, partitions: null, limit: 10, horizonMs });
      expect(ahead.map((j) => [j.key, j.nextFireAt])).toEqual([['soon', at]]);

      const node = await h.node(app, 'n1');
      const fire = fireOf(app, 'soon', at, at + 60_000);
      fire.runs = fire.runs.map((r) => ({ ...r, dueAt: at }));
      const [fired] = await h.store.fireJobs(app, [fire]);
      expect(fired!.fired).toBe(true);
      expect(fired!.runs.map((r) => [r.state, r.dueAt, r.scheduledFor])).toEqual([['pending', at, at]]);
      expect(await h.claimAs(node)).toEqual([]);
      expect(await h.store.nextWakeAt({ app, partitions: [], handlers: ['h'], nodeId: 'n1' })).toBe(at);
      await h.advance(dueIn + 50);
      const claimed = await h.claimAs(node);
      expect(claimed.map((r) => r.id)).toEqual([fired!.runs[0]!.id]);
    });

    it('a fire with no runs still advances the job', async () => {
      const app = h.app();
      const now = await h.store.now();
      await h.store.saveJob(jobDraft(app, 'empty', { nextFireAt: now - 1 }), null);
      const [r] = await h.store.fireJobs(app, [{ ...fireOf(app, 'empty', now - 1, now + 5), runs: [] }]);
      expect(r).toEqual({ jobKey: 'empty', fired: true, runs: [] });
      expect(await h.store.getJob(app, 'empty')).toMatchObject({ nextFireAt: now + 5, lastFireAt: now - 1 });
    });
  });

  describe('enqueue', () => {
    it('fills id, state, times and dueAt (now, absolute dueAt, or delayMs from store now)', async () => {
      const app = h.app();
      const before = await h.store.now();
      const results = await h.store.enqueueRuns([
        runDraft(app, { params: { order: 42 }, priority: 3 }),
        runDraft(app, { dueAt: before + 123_000 }),
        runDraft(app, { delayMs: 60_000, dueAt: before + 1 }),
      ]);
      const after = await h.store.now();
      expect(results.map((r) => r.created)).toEqual([true, true, true]);
      const [a, b, c] = results.map((r) => r.run);
      expect(new Set([a!.id, b!.id, c!.id]).size).toBe(3);
      expect(a).toMatchObject({
        app,
        state: 'pending',
        params: { order: 42 },
        priority: 3,
        attempt: 1,
        ownerNode: null,
        ownerIncarnation: null,
        cancelRequested: false,
        startedAt: null,
        finishedAt: null,
        reason: null,
        error: null,
      });
      expect(a!.createdAt).toBeGreaterThanOrEqual(before);
      expect(a!.createdAt).toBeLessThanOrEqual(after);
      expect(a!.dueAt).toBe(a!.createdAt);
      expect(b!.dueAt).toBe(before + 123_000);
      expect(c!.dueAt).toBe(c!.createdAt + 60_000);
      expect(await h.store.getRun(a!.id)).toEqual(a);
    });

    it('an existing idempotency key returns the existing run and inserts nothing; keys are per app', async () => {
      const app = h.app();
      const first = await h.store.enqueueRuns([
        runDraft(app, { idempotencyKey: 'order-1', params: { v: 1 } }),
      ]);
      const again = await h
        .at(1)
        .enqueueRuns([runDraft(app, { idempotencyKey: 'order-1', params: { v: 2 } })]);
      expect(first[0]!.created).toBe(true);
      expect(again[0]!.created).toBe(false);
      expect(again[0]!.run).toEqual(first[0]!.run);
      const otherApp = h.app();
      const elsewhere = await h.store.enqueueRuns([runDraft(otherApp, { idempotencyKey: 'order-1' })]);
      expect(elsewhere[0]!.created).toBe(true);
      expect(await h.allRuns(app)).toHaveLength(1);
    });

    it('the same idempotency key twice in one batch inserts one run', async () => {
      const app = h.app();
      const results = await h.store.enqueueRuns([
        runDraft(app, { idempotencyKey: 'same' }),
        runDraft(app, { idempotencyKey: 'same' }),
      ]);
      expect(results.map((r) => r.created)).toEqual([true, false]);
      expect(results[1]!.run.id).toBe(results[0]!.run.id);
      expect(await h.allRuns(app)).toHaveLength(1);
    });

    it('10 concurrent enqueues with the same idempotency key make one run', async () => {
      const app = h.app();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          h.at(i).enqueueRuns([runDraft(app, { idempotencyKey: 'concurrent' })]),
        ),
      );
      const created = results.filter((r) => r[0]!.created);
      expect(created).toHaveLength(1);
      expect(new Set(results.map((r) => r[0]!.run.id)).size).toBe(1);
      expect(await h.allRuns(app)).toHaveLength(1);
    });

    it('a draft with state skipped is inserted final with its reason', async () => {
      const app = h.app();
      const run = await h.enqueue(app, {
        trigger: 'misfire',
        state: 'skipped',
        reason: 'missed 3 fire times',
      });
      expect(run).toMatchObject({ state: 'skipped', reason: 'missed 3 fire times' });
      expect(run.finishedAt).not.toBeNull();
      const node = await h.node(app, 'n1');
      expect(await h.claimAs(node)).toEqual([]);
    });
  });
}
