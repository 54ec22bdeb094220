/** Conformance: claiming (exclusive under concurrency, order, due time, target, handlers) and block strategies. */
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../model';
import { jobDraft, runDraft } from './fixtures';
import { expectOasisError, type Harness } from './harness';

/** Registers the claim and block strategy tests. */
export function claimTests(h: Harness): void {
  describe('claiming', () => {
    it('sets running, owner, incarnation, lease and startedAt', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const run = await h.enqueue(app);
      const before = await h.store.now();
      const [claimed] = await h.claimAs(node, 5, 30_000);
      expect(claimed).toMatchObject({
        id: run.id,
        state: 'running',
        ownerNode: 'n1',
        ownerIncarnation: node.incarnation,
      });
      expect(claimed!.startedAt).toBeGreaterThanOrEqual(before);
      expect(claimed!.leaseExpiresAt).toBe(claimed!.startedAt! + 30_000);
      expect(await h.store.getRun(run.id)).toEqual(claimed);
      expect(await h.claimAs(node)).toEqual([]);
    });

    it('200 runs and 10 concurrent claimers: every run is claimed exactly once', async () => {
      const app = h.app();
      await h.store.enqueueRuns(Array.from({ length: 200 }, (_, i) => runDraft(app, { params: { i } })));
      const nodes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => h.node(app, `n${i}`, {}, h.at(i))),
      );
      const claimedBy = new Map<string, string[]>();
      await Promise.all(
        nodes.map(async (node, i) => {
          const store = h.at(i);
          for (;;) {
            const runs = await h.claimAs(node, 7, h.long, store);
            if (runs.length === 0) return;
            for (const r of runs) {
              expect(r.ownerNode).toBe(node.nodeId);
              claimedBy.set(r.id, [...(claimedBy.get(r.id) ?? []), node.nodeId]);
            }
          }
        }),
      );
      const doubles = [...claimedBy.entries()].filter(([, owners]) => owners.length > 1);
      expect(doubles).toEqual([]);
      expect(claimedBy.size).toBe(200);
      expect(await h.store.countRuns(app, ['pending', 'running'])).toEqual({ pending: 0, running: 200 });
    });

    it('claims highest priority first, then earliest dueAt, then oldest, at most limit', async () => {
      const app = h.app();
      const now = await h.store.now();
      const low = await h.enqueue(app, { priority: 0, dueAt: now - 5000 });
      const highLate = await h.enqueue(app, { priority: 10, dueAt: now - 1000 });
      const highEarly = await h.enqueue(app, { priority: 10, dueAt: now - 2000 });
      const mid1 = await h.enqueue(app, { priority: 5, dueAt: now - 3000 });
      const mid2 = await h.enqueue(app, { priority: 5, dueAt: now - 3000 });
      const node = await h.node(app, 'n1');
      const order: string[] = [];
      for (let i = 0; i < 5; i++) {
        const runs = await h.claimAs(node, 1);
        expect(runs).toHaveLength(1);
        order.push(runs[0]!.id);
      }
      expect(order).toEqual([highEarly.id, highLate.id, mid1.id, mid2.id, low.id]);
      const more = await h.store.enqueueRuns(Array.from({ length: 4 }, () => runDraft(app)));
      expect(more).toHaveLength(4);
      expect(await h.claimAs(node, 3)).toHaveLength(3);
      expect(await h.claimAs(node, 0)).toEqual([]);
    });

    it('a delayed run is not claimable before it is due, and is after', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const run = await h.enqueue(app, { delayMs: h.short });
      expect(await h.claimAs(node)).toEqual([]);
      await h.advance(h.short + 50);
      expect((await h.claimAs(node)).map((r) => r.id)).toEqual([run.id]);
    });

    it('a targeted run goes only to its target node', async () => {
      const app = h.app();
      const n1 = await h.node(app, 'n1');
      const n2 = await h.node(app, 'n2');
      const run = await h.enqueue(app, { targetNode: 'n2' });
      expect(await h.claimAs(n1)).toEqual([]);
      expect((await h.claimAs(n2)).map((r) => r.id)).toEqual([run.id]);
    });

    it('only runs of the handlers asked for are claimed', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1', { handlers: ['mail'] });
      await h.enqueue(app, { handler: 'sms' });
      const mail = await h.enqueue(app, { handler: 'mail' });
      expect((await h.claimAs(node)).map((r) => r.id)).toEqual([mail.id]);
      expect(await h.claimAs(node)).toEqual([]);
    });

    it('runs of other apps are never claimed', async () => {
      const app = h.app();
      const other = h.app();
      await h.enqueue(other);
      const node = await h.node(app, 'n1');
      expect(await h.claimAs(node)).toEqual([]);
    });

    it('a stale incarnation, a removed node or an offline node cannot claim (FencedError), and nothing is claimed', async () => {
      const app = h.app();
      const old = await h.node(app, 'n1');
      const fresh = await h.node(app, 'n1');
      expect(fresh.incarnation).toBeGreaterThan(old.incarnation);
      const run = await h.enqueue(app);
      await expectOasisError(h.claimAs(old), 'FENCED', { scope: 'node' });
      await h.store.leaveNode(app, 'n1', fresh.incarnation);
      await expectOasisError(h.claimAs(fresh), 'FENCED', { scope: 'node' });
      const n2 = await h.node(app, 'n2');
      expect(await h.store.removeNode(app, 'n2')).toBe(true);
      await expectOasisError(h.claimAs(n2), 'FENCED', { scope: 'node' });
      expect(await h.store.getRun(run.id)).toEqual(run);
    });
  });

  describe('block strategies', () => {
    it('serial: a second run of the job waits while the first runs, then is claimable', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const first = await h.enqueue(app, { jobKey: 'j', block: 'serial' });
      const second = await h.enqueue(app, { jobKey: 'j', block: 'serial' });
      const other = await h.enqueue(app, { jobKey: 'k', block: 'serial' });
      const claimed = await h.claimAs(node, 10);
      expect(claimed.map((r) => r.id).sort()).toEqual([first.id, other.id].sort());
      expect(await h.claimAs(node, 10)).toEqual([]);
      await h.store.completeRun({
        runId: first.id,
        nodeId: 'n1',
        incarnation: node.incarnation,
        outcome: 'succeeded',
        durationMs: 1,
      });
      expect((await h.claimAs(node, 10)).map((r) => r.id)).toEqual([second.id]);
    });

    it('serial: concurrent claimers from several instances start only one run of the job', async () => {
      const app = h.app();
      await h.store.enqueueRuns(
        Array.from({ length: 6 }, () => runDraft(app, { jobKey: 's', block: 'serial' })),
      );
      const nodes = await Promise.all(Array.from({ length: 6 }, (_, i) => h.node(app, `n${i}`, {}, h.at(i))));
      const claimed = (await Promise.all(nodes.map((n, i) => h.claimAs(n, 5, h.long, h.at(i))))).flat();
      expect(claimed).toHaveLength(1);
      expect(await h.store.countRuns(app, ['pending', 'running'])).toEqual({ pending: 5, running: 1 });
    });

    it('skip: a new run while one is pending or running is inserted as skipped, with a reason', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const first = await h.enqueue(app, { jobKey: 'j', block: 'skip' });
      const whilePending = await h.enqueue(app, { jobKey: 'j', block: 'skip' });
      expect(whilePending.state).toBe('skipped');
      expect(whilePending.reason).toEqual(expect.any(String));
      expect(whilePending.reason!.length).toBeGreaterThan(0);
      expect(whilePending.finishedAt).not.toBeNull();
      await h.claimAs(node);
      const whileRunning = await h.enqueue(app, { jobKey: 'j', block: 'skip' });
      expect(whileRunning.state).toBe('skipped');
      await h.store.completeRun({
        runId: first.id,
        nodeId: 'n1',
        incarnation: node.incarnation,
        outcome: 'succeeded',
        durationMs: 1,
      });
      const after = await h.enqueue(app, { jobKey: 'j', block: 'skip' });
      expect(after.state).toBe('pending');
    });

    it('skip applies to fired runs too', async () => {
      const app = h.app();
      const now = await h.store.now();
      await h.enqueue(app, { jobKey: 'j', block: 'skip' });
      await h.store.saveJob(jobDraft(app, 'j', { block: 'skip', nextFireAt: now - 1 }), null);
      const [fire] = await h.store.fireJobs(app, [
        {
          jobKey: 'j',
          expectedNextFireAt: now - 1,
          nextFireAt: null,
          lastFireAt: now - 1,
          runs: [
            runDraft(app, {
              jobKey: 'j',
              block: 'skip',
              trigger: 'schedule',
              idempotencyKey: `j@${now - 1}`,
            }),
          ],
        },
      ]);
      expect(fire!.fired).toBe(true);
      expect(fire!.runs.map((r) => r.state)).toEqual(['skipped']);
    });

    it('replace: pending runs are cancelled, the running one is asked to stop (heartbeat cancelRunIds), the new one waits for it', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const running = await h.enqueue(app, { jobKey: 'j', block: 'replace' });
      expect((await h.claimAs(node)).map((r) => r.id)).toEqual([running.id]);
      const pending = await h.enqueue(app, { jobKey: 'j', block: 'replace' });
      const latest = await h.enqueue(app, { jobKey: 'j', block: 'replace' });
      expect(latest.state).toBe('pending');
      expect(await h.store.getRun(pending.id)).toMatchObject({ state: 'cancelled' });
      expect(await h.store.getRun(running.id)).toMatchObject({ state: 'running', cancelRequested: true });
      const beat = await h.store.heartbeat({
        app,
        nodeId: 'n1',
        incarnation: node.incarnation,
        state: 'active',
        running: 1,
        runs: [{ runId: running.id }],
        runLeaseMs: h.long,
      });
      expect(beat.cancelRunIds).toEqual([running.id]);
      expect(beat.lostRunIds).toEqual([]);
      expect(await h.claimAs(node)).toEqual([]);
      const done = await h.store.completeRun({
        runId: running.id,
        nodeId: 'n1',
        incarnation: node.incarnation,
        outcome: 'cancelled',
        durationMs: 3,
      });
      expect(done.run.state).toBe('cancelled');
      expect((await h.claimAs(node)).map((r) => r.id)).toEqual([latest.id]);
    });

    it('parallel: runs of one job are claimed together', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      await h.store.enqueueRuns(
        Array.from({ length: 3 }, () => runDraft(app, { jobKey: 'p', block: 'parallel' })),
      );
      const claimed: RunRecord[] = await h.claimAs(node, 5);
      expect(claimed).toHaveLength(3);
      await h.enqueue(app, { jobKey: 'p', block: 'parallel' });
      expect(await h.claimAs(node, 5)).toHaveLength(1);
    });
  });
}
