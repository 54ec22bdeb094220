/** Conformance: store time, job CRUD with compare-and-set, listJobs, dueJobs, nextWakeAt. */
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../model';
import { jobDraft } from './fixtures';
import { expectOasisError, type Harness } from './harness';

/** Registers the time and job tests. */
export function jobTests(h: Harness): void {
  describe('store time', () => {
    it('now() is a whole number of ms that moves forward with time', async () => {
      const a = await h.store.now();
      expect(Number.isInteger(a)).toBe(true);
      await h.advance(h.short);
      const b = await h.store.now();
      expect(b).toBeGreaterThanOrEqual(a + h.short);
    });

    // On virtual time the store's clock is the test clock, not the wall clock: nothing to compare.
    it.skipIf(h.virtualTime)(
      'now() is close to wall time (only when the suite waits in real time: skipped with advanceTime)',
      async () => {
        const now = await h.store.now();
        expect(Math.abs(now - Date.now())).toBeLessThan(30_000);
      },
    );

    it('every store instance reads the same clock', async () => {
      const times = await Promise.all(h.stores.map((s) => s.now()));
      const spread = Math.max(...times) - Math.min(...times);
      expect(spread).toBeLessThan(5_000);
    });
  });

  describe('jobs', () => {
    it('creates a job with version 1 and store times, and reads it back equal', async () => {
      const app = h.app();
      const before = await h.store.now();
      const draft = jobDraft(app, 'report', {
        params: { n: 1, nested: { list: [1, 'two', null, true] } },
        tags: ['a', 'b'],
        alertContacts: ['ops@example.com'],
        description: 'Nightly report',
        owner: 'team-a',
        schedule: { kind: 'cron', cron: '0 3 * * *', tz: 'Europe/Paris' },
        nextFireAt: before + 60_000,
        timeoutMs: 30_000,
        priority: -5,
      });
      const saved = await h.store.saveJob(draft, null);
      expect(saved).toMatchObject({ ...draft, version: 1 });
      expect(saved.createdAt).toBeGreaterThanOrEqual(before);
      expect(saved.updatedAt).toBe(saved.createdAt);
      const read = await h.at(1).getJob(app, 'report');
      expect(read).toEqual(saved);
    });

    it('getJob returns null for an unknown key and does not leak across apps', async () => {
      const app = h.app();
      await h.store.saveJob(jobDraft(app, 'k'), null);
      expect(await h.store.getJob(app, 'missing')).toBeNull();
      expect(await h.store.getJob(h.app(), 'k')).toBeNull();
    });

    it('refuses to create a job twice (ConflictError) and keeps the first', async () => {
      const app = h.app();
      const first = await h.store.saveJob(jobDraft(app, 'dup', { description: 'first' }), null);
      await expectOasisError(
        h.at(1).saveJob(jobDraft(app, 'dup', { description: 'second' }), null),
        'CONFLICT',
      );
      expect(await h.store.getJob(app, 'dup')).toEqual(first);
    });

    it('updates with compare-and-set on the version; a stale version is a ConflictError that changes nothing', async () => {
      const app = h.app();
      const v1 = await h.store.saveJob(jobDraft(app, 'cas'), null);
      const v2 = await h.store.saveJob(jobDraft(app, 'cas', { description: 'edited' }), 1);
      expect(v2.version).toBe(2);
      expect(v2.description).toBe('edited');
      expect(v2.createdAt).toBe(v1.createdAt);
      await expectOasisError(h.store.saveJob(jobDraft(app, 'cas', { description: 'stale' }), 1), 'CONFLICT');
      expect(await h.store.getJob(app, 'cas')).toEqual(v2);
      await expectOasisError(h.store.saveJob(jobDraft(app, 'nope'), 3), 'CONFLICT');
      expect(await h.store.getJob(app, 'nope')).toBeNull();
    });

    it('exactly one of several concurrent updates with the same version wins', async () => {
      const app = h.app();
      await h.store.saveJob(jobDraft(app, 'race'), null);
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          h.at(i).saveJob(jobDraft(app, 'race', { description: `w${i}` }), 1),
        ),
      );
      const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<JobRecord>[];
      expect(won).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'CONFLICT' });
      expect(await h.store.getJob(app, 'race')).toEqual(won[0]!.value);
    });

    it("'any' creates or overwrites, bumping the version", async () => {
      const app = h.app();
      const a = await h.store.saveJob(jobDraft(app, 'any'), 'any');
      expect(a.version).toBe(1);
      const b = await h.store.saveJob(jobDraft(app, 'any', { enabled: false }), 'any');
      expect(b.version).toBe(2);
      expect(b.enabled).toBe(false);
    });

    it('deleteJob with a stale version is a ConflictError; otherwise it returns the record, then null', async () => {
      const app = h.app();
      const saved = await h.store.saveJob(jobDraft(app, 'del'), null);
      await expectOasisError(h.store.deleteJob(app, 'del', 7), 'CONFLICT');
      expect(await h.store.getJob(app, 'del')).toEqual(saved);
      expect(await h.store.deleteJob(app, 'del', 1)).toEqual(saved);
      expect(await h.store.getJob(app, 'del')).toBeNull();
      expect(await h.store.deleteJob(app, 'del')).toBeNull();
    });

    it('deleteJob cancels its pending runs (reason `job deleted`) and leaves running ones', async () => {
      const app = h.app();
      await h.store.saveJob(jobDraft(app, 'gone'), null);
      const node = await h.node(app, 'n1');
      const running = await h.enqueue(app, { jobKey: 'gone' });
      expect((await h.claimAs(node)).map((r) => r.id)).toEqual([running.id]);
      const pending = await h.enqueue(app, { jobKey: 'gone' });
      const other = await h.enqueue(app, { jobKey: 'other' });
      await h.store.deleteJob(app, 'gone');
      expect(await h.store.getRun(pending.id)).toMatchObject({ state: 'cancelled', reason: 'job deleted' });
      expect((await h.store.getRun(pending.id))!.finishedAt).not.toBeNull();
      expect(await h.store.getRun(running.id)).toMatchObject({ state: 'running' });
      expect(await h.store.getRun(other.id)).toMatchObject({ state: 'pending' });
    });

    it('listJobs filters by app, search (key, handler, description; case-insensitive), enabled, tag, handler and source', async () => {
      const app = h.app();
      await h.store.saveJob(
        jobDraft(app, 'alpha-report', { tags: ['daily'], description: 'Sends MAIL' }),
        null,
      );
      await h.store.saveJob(jobDraft(app, 'beta', { handler: 'reportHandler', enabled: false }), null);
      await h.store.saveJob(jobDraft(app, 'gamma', { source: 'admin', tags: ['daily', 'x'] }), null);
      await h.store.saveJob(jobDraft(h.app(), 'alpha-elsewhere'), null);
      const keys = async (filter: Parameters<typeof h.store.listJobs>[0]) =>
        (await h.store.listJobs(filter)).items.map((j) => j.key);
      expect(await keys({ app })).toEqual(['alpha-report', 'beta', 'gamma']);
      expect(await keys({ app, search: 'REPORT' })).toEqual(['alpha-report', 'beta']);
      expect(await keys({ app, search: 'mail' })).toEqual(['alpha-report']);
      expect(await keys({ app, enabled: false })).toEqual(['beta']);
      expect(await keys({ app, enabled: true })).toEqual(['alpha-report', 'gamma']);
      expect(await keys({ app, tag: 'daily' })).toEqual(['alpha-report', 'gamma']);
      expect(await keys({ app, handler: 'reportHandler' })).toEqual(['beta']);
      expect(await keys({ app, source: 'admin' })).toEqual(['gamma']);
      expect(await keys({ app, search: 'nothing-matches' })).toEqual([]);
    });

    it('listJobs search treats % and _ literally', async () => {
      const app = h.app();
      await h.store.saveJob(jobDraft(app, 'a_c'), null);
      await h.store.saveJob(jobDraft(app, 'abc'), null);
      await h.store.saveJob(jobDraft(app, '100%'), null);
      await h.store.saveJob(jobDraft(app, '1000'), null);
      expect((await h.store.listJobs({ app, search: 'a_c' })).items.map((j) => j.key)).toEqual(['a_c']);
      expect((await h.store.listJobs({ app, search: '0%' })).items.map((j) => j.key)).toEqual(['100%']);
    });

    it('listJobs pages by key ascending with a cursor until nextCursor is null', async () => {
      const app = h.app();
      const all = ['k05', 'k01', 'k07', 'k03', 'k02', 'k06', 'k04'];
      for (const key of all) await h.store.saveJob(jobDraft(app, key), null);
      const seen: string[] = [];
      let cursor: string | null = null;
      const sizes: number[] = [];
      do {
        const page = await h.store.listJobs({ app }, { limit: 3, cursor });
        sizes.push(page.items.length);
        seen.push(...page.items.map((j) => j.key));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual([...all].sort());
      expect(sizes).toEqual([3, 3, 1]);
      const exact = await h.store.listJobs({ app }, { limit: 7 });
      expect(exact.items).toHaveLength(7);
      expect(exact.nextCursor).toBeNull();
    });

    it('dueJobs returns enabled jobs due by store time in the given partitions, earliest first, at most limit', async () => {
      const app = h.app();
      const now = await h.store.now();
      await h.store.saveJob(jobDraft(app, 'late', { nextFireAt: now - 1000, partition: 1 }), null);
      await h.store.saveJob(jobDraft(app, 'early', { nextFireAt: now - 5000, partition: 2 }), null);
      await h.store.saveJob(jobDraft(app, 'mid', { nextFireAt: now - 3000, partition: 3 }), null);
      await h.store.saveJob(
        jobDraft(app, 'off', { nextFireAt: now - 9000, partition: 1, enabled: false }),
        null,
      );
      await h.store.saveJob(jobDraft(app, 'future', { nextFireAt: now + h.long, partition: 1 }), null);
      await h.store.saveJob(jobDraft(app, 'never', { nextFireAt: null, partition: 1 }), null);
      await h.store.saveJob(jobDraft(h.app(), 'foreign', { nextFireAt: now - 9000, partition: 1 }), null);
      const keys = async (partitions: number[] | null, limit = 100) =>
        (await h.store.dueJobs({ app, partitions, limit })).map((j) => j.key);
      expect(await keys(null)).toEqual(['early', 'mid', 'late']);
      expect(await keys([1, 3])).toEqual(['mid', 'late']);
      expect(await keys([5])).toEqual([]);
      expect(await keys(null, 2)).toEqual(['early', 'mid']);
    });

    it('a job becomes due when store time reaches its nextFireAt', async () => {
      const app = h.app();
      const now = await h.store.now();
      await h.store.saveJob(jobDraft(app, 'soon', { nextFireAt: now + h.short }), null);
      expect(await h.store.dueJobs({ app, partitions: null, limit: 10 })).toEqual([]);
      await h.advance(h.short + 50);
      expect((await h.store.dueJobs({ app, partitions: null, limit: 10 })).map((j) => j.key)).toEqual([
        'soon',
      ]);
    });

    it('nextWakeAt is the earliest next fire of its partitions or due time of its claimable runs; null when none', async () => {
      const app = h.app();
      const now = await h.store.now();
      const query = { app, partitions: [4], handlers: ['h'], nodeId: 'n1' };
      expect(await h.store.nextWakeAt(query)).toBeNull();
      await h.store.saveJob(jobDraft(app, 'j4', { nextFireAt: now + 50_000, partition: 4 }), null);
      await h.store.saveJob(jobDraft(app, 'j5', { nextFireAt: now + 10_000, partition: 5 }), null);
      await h.store.saveJob(
        jobDraft(app, 'j4off', { nextFireAt: now + 1_000, partition: 4, enabled: false }),
        null,
      );
      expect(await h.store.nextWakeAt(query)).toBe(now + 50_000);
      expect(await h.store.nextWakeAt({ ...query, partitions: null })).toBe(now + 10_000);
      await h.enqueue(app, { dueAt: now + 40_000 });
      await h.enqueue(app, { dueAt: now + 30_000, handler: 'other' });
      await h.enqueue(app, { dueAt: now + 20_000, targetNode: 'n2' });
      expect(await h.store.nextWakeAt(query)).toBe(now + 40_000);
      await h.enqueue(app, { dueAt: now + 35_000, targetNode: 'n1' });
      expect(await h.store.nextWakeAt(query)).toBe(now + 35_000);
    });
  });
}
