/** Conformance: listRuns filters and keyset pagination under concurrent inserts, countRuns, getRun. */
import { describe, expect, it } from 'vitest';
import type { Page, RunFilter, RunRecord } from '../model';
import { jobDraft, retryPolicy, runDraft } from './fixtures';
import { expectOasisError, type Harness } from './harness';

/** Registers the run listing tests. */
export function listingTests(h: Harness): void {
  describe('listing runs', () => {
    it('getRun returns null for an id that does not exist, whatever its shape', async () => {
      expect(await h.store.getRun('no-such-run')).toBeNull();
      expect(await h.store.getRun('0')).toBeNull();
      expect(await h.store.getRun('99999999999999999999')).toBeNull();
    });

    it('lists newest first and filters by job, handler, state, node, trigger, parent and time range', async () => {
      const app = h.app();
      const n1 = await h.node(app, 'n1', { handlers: ['h', 'mail'] });
      const n2 = await h.node(app, 'n2');
      const t0 = await h.store.now();
      const a = await h.enqueue(app, { jobKey: 'ja', trigger: 'schedule' });
      const b = await h.enqueue(app, { jobKey: 'jb', handler: 'mail', trigger: 'manual' });
      await h.advance(h.short);
      const t1 = await h.store.now();
      const c = await h.enqueue(app, { jobKey: 'ja', trigger: 'api', targetNode: 'n2' });
      const d = await h.enqueue(app, {
        parentRunId: a.id,
        trigger: 'retry',
        retry: retryPolicy(2),
        attempt: 2,
      });
      await h.enqueue(h.app(), { jobKey: 'ja' });
      expect((await h.claimAs(n1, 1)).map((r) => r.id)).toEqual([a.id]);
      expect((await h.claimAs(n2, 1)).map((r) => r.id)).toEqual([c.id]);
      const ids = async (filter: Parameters<typeof h.store.listRuns>[0]) =>
        (await h.store.listRuns({ app, ...filter })).items.map((r) => r.id);
      expect(await ids({})).toEqual([d.id, c.id, b.id, a.id]);
      expect(await ids({ jobKey: 'ja' })).toEqual([c.id, a.id]);
      expect(await ids({ handler: 'mail' })).toEqual([b.id]);
      expect(await ids({ states: ['running'] })).toEqual([c.id, a.id]);
      expect(await ids({ states: ['pending', 'succeeded'] })).toEqual([d.id, b.id]);
      expect(await ids({ nodeId: 'n2' })).toEqual([c.id]);
      expect(await ids({ trigger: 'manual' })).toEqual([b.id]);
      expect(await ids({ parentRunId: a.id })).toEqual([d.id]);
      expect(await ids({ from: t1 })).toEqual([d.id, c.id]);
      expect(await ids({ from: t0, to: t1 })).toEqual([b.id, a.id]);
      expect(await ids({ jobKey: 'ja', states: ['running'], nodeId: 'n1', from: t0 })).toEqual([a.id]);
      expect(await ids({ jobKey: 'nothing' })).toEqual([]);
    });

    it("a 'summary' page has the full page's runs, order and cursors; it may leave out only params, result and the error's stack", async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const big = 'p'.repeat(2_000);
      for (let i = 0; i < 5; i++) await h.enqueue(app, { jobKey: 'j', params: { i, big } });
      await h.enqueue(app, { params: { task: true } });
      const [ok, bad] = await h.claimAs(node, 2);
      await h.store.completeRun({
        runId: ok!.id,
        nodeId: 'n1',
        incarnation: node.incarnation,
        outcome: 'succeeded',
        result: { rows: 3, big },
        durationMs: 5,
      });
      await h.store.completeRun({
        runId: bad!.id,
        nodeId: 'n1',
        incarnation: node.incarnation,
        outcome: 'failed',
        error: { name: 'Boom', message: 'it broke', stack: 'Boom: it broke\n    at here' },
        durationMs: 6,
      });
      const filters: Omit<RunFilter, 'app'>[] = [
        {},
        { jobKey: 'j' },
        { jobKey: 'j', states: ['pending', 'failed'] },
      ];
      for (const f of filters) {
        const filter: RunFilter = { app, ...f };
        let cursor: string | null = null;
        let pages = 0;
        do {
          const full = await h.store.listRuns(filter, { limit: 2, cursor });
          const summary = await h.store.listRuns(filter, { limit: 2, cursor }, 'summary');
          expect(summary.nextCursor).toBe(full.nextCursor);
          expect(summary.items.map((r) => r.id)).toEqual(full.items.map((r) => r.id));
          summary.items.forEach((r, i) => {
            const whole = full.items[i]!;
            const { params, result, error, ...rest } = r;
            const { params: p0, result: r0, error: e0, ...rest0 } = whole;
            expect(rest).toEqual(rest0);
            expect(params === null || JSON.stringify(params) === JSON.stringify(p0)).toBe(true);
            expect(result === null || JSON.stringify(result) === JSON.stringify(r0)).toBe(true);
            if (e0 === null) expect(error).toBeNull();
            else expect(error).toMatchObject({ name: e0.name, message: e0.message });
          });
          cursor = full.nextCursor;
          pages++;
        } while (cursor !== null && pages < 10);
        expect(cursor).toBeNull();
      }
      await expectOasisError(h.store.listRuns({ app }, {}, 'brief' as 'summary'), 'VALIDATION', {
        field: 'view',
      });
    });

    it('pages through with a cursor while runs are inserted: none seen twice, none of the earlier ones missed, newest first', async () => {
      const app = h.app();
      const earlier: RunRecord[] = [];
      for (let i = 0; i < 4; i++) {
        const batch = await h.store.enqueueRuns(
          Array.from({ length: 8 }, (_, j) => runDraft(app, { params: { i, j } })),
        );
        earlier.push(...batch.map((r) => r.run));
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const [page]: [Page<RunRecord>, unknown] = await Promise.all([
          h.at(pages).listRuns({ app }, { limit: 7, cursor }),
          h.at(pages + 1).enqueueRuns([runDraft(app, { params: { late: pages } })]),
        ]);
        seen.push(...page.items.map((r) => r.id));
        cursor = page.nextCursor;
        pages++;
        await h.enqueue(app, { params: { between: pages } });
        expect(pages).toBeLessThan(50);
      } while (cursor !== null);
      expect(new Set(seen).size).toBe(seen.length);
      const earlierIds = earlier.map((r) => r.id);
      const seenEarlier = seen.filter((id) => earlierIds.includes(id));
      expect(seenEarlier).toEqual([...earlierIds].reverse());
    });

    it('a page of exactly the remaining items has nextCursor null; a bad cursor is a ValidationError', async () => {
      const app = h.app();
      await h.store.enqueueRuns(Array.from({ length: 4 }, () => runDraft(app)));
      const first = await h.store.listRuns({ app }, { limit: 2 });
      expect(first.items).toHaveLength(2);
      expect(first.nextCursor).not.toBeNull();
      const second = await h.store.listRuns({ app }, { limit: 2, cursor: first.nextCursor });
      expect(second.items).toHaveLength(2);
      expect(second.nextCursor).toBeNull();
      expect((await h.store.listRuns({ app })).items).toHaveLength(4);
      await expectOasisError(h.store.listRuns({ app }, { cursor: 'not a cursor!' }), 'VALIDATION');
    });

    it('empty batches and empty lists are no-ops, not errors', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const now = await h.store.now();
      await h.store.saveJob(jobDraft(app, 'j', { nextFireAt: now + 5_000, partition: 3 }), null);
      expect(await h.store.enqueueRuns([])).toEqual([]);
      expect(await h.store.fireJobs(app, [])).toEqual([]);
      await h.store.appendLogs([]);
      expect(await h.store.retargetRuns({ app, epoch: await h.lead(node), moves: [] })).toBe(0);
      await h.enqueue(app);
      expect(await h.store.claimRuns({ ...node, handlers: [], limit: 5, leaseMs: h.long })).toEqual([]);
      expect(await h.store.dueJobs({ app, partitions: [], limit: 5 })).toEqual([]);
      expect(await h.store.nextWakeAt({ app, partitions: null, handlers: [], nodeId: 'n1' })).toBe(
        now + 5_000,
      );
      expect(await h.store.nextWakeAt({ app, partitions: [], handlers: [], nodeId: 'n1' })).toBeNull();
      const map = await h.store.writePartitionMap({
        app,
        epoch: (await h.store.getLeader(app))!.epoch,
        assignments: {},
      });
      expect(map.assignments).toEqual({});
      const beat = await h.store.heartbeat({
        app,
        nodeId: 'n1',
        incarnation: node.incarnation,
        state: 'active',
        running: 0,
        runs: [],
        runLeaseMs: h.long,
      });
      expect(beat.lostRunIds).toEqual([]);
      expect(await h.store.countRuns(app, ['pending'])).toEqual({ pending: 1 });
    });

    it('countRuns counts the app runs in each asked state, with zeros', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      await h.store.enqueueRuns(Array.from({ length: 5 }, () => runDraft(app)));
      await h.enqueue(h.app());
      await h.claimAs(node, 2);
      expect(await h.store.countRuns(app, ['pending', 'running'])).toEqual({ pending: 3, running: 2 });
      expect(await h.store.countRuns(app, ['dead'])).toEqual({ dead: 0 });
    });
  });
}
