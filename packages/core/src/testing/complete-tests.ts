/**
 * Conformance: completeRun (outcomes, retries, fencing), completeRuns (batched, refusals in
 * place), delay-after re-arm, cancelRun.
 */
import { describe, expect, it } from 'vitest';
import type { NodeRecord, RunRecord, StatsBucket } from '../model';
import { type CompleteRequest, STORE_LIMITS } from '../store/store';
import { jobDraft, retryPolicy, runDraft } from './fixtures';
import { expectOasisError, type Harness } from './harness';

/** Registers the completion and cancel tests. */
export function completeTests(h: Harness): void {
  /** A node that has claimed one fresh run of `app`. */
  async function claimedRun(
    app: string,
    overrides: Parameters<typeof runDraft>[1] = {},
    nodeId = 'n1',
  ): Promise<{ node: NodeRecord; run: RunRecord }> {
    const node = await h.node(app, nodeId);
    const queued = await h.enqueue(app, overrides);
    const claimed = await h.claimAs(node, 100);
    const run = claimed.find((r) => r.id === queued.id);
    expect(run, 'the run was claimed').toBeDefined();
    return { node, run: run! };
  }

  const complete = (node: NodeRecord, run: RunRecord, extra: Partial<CompleteRequest> = {}) =>
    h.store.completeRun({
      runId: run.id,
      nodeId: node.nodeId,
      incarnation: node.incarnation,
      outcome: 'succeeded',
      durationMs: 12,
      ...extra,
    });

  describe('completeRun', () => {
    it('success records state, result, duration and finishedAt', async () => {
      const app = h.app();
      const { node, run } = await claimedRun(app);
      const { run: done, retry } = await complete(node, run, { result: { rows: 3, ok: true } });
      expect(retry).toBeNull();
      expect(done).toMatchObject({
        id: run.id,
        state: 'succeeded',
        result: { rows: 3, ok: true },
        durationMs: 12,
      });
      expect(done.finishedAt).toBeGreaterThanOrEqual(run.startedAt!);
      expect(await h.store.getRun(run.id)).toEqual(done);
    });

    it('failure with a retry: the run is failed and the retry is inserted in the same step, due after delayMs', async () => {
      const app = h.app();
      const { node, run } = await claimedRun(app, { retry: retryPolicy(3, h.short) });
      const { run: failed, retry } = await complete(node, run, {
        outcome: 'failed',
        error: { name: 'TypeError', message: 'boom', stack: 'TypeError: boom\n    at x' },
        retry: runDraft(app, {
          trigger: 'retry',
          attempt: 2,
          parentRunId: run.id,
          retry: run.retry,
          delayMs: h.short,
        }),
      });
      expect(failed).toMatchObject({ state: 'failed', error: { name: 'TypeError', message: 'boom' } });
      expect(retry).toMatchObject({ state: 'pending', attempt: 2, trigger: 'retry', parentRunId: run.id });
      expect(retry!.dueAt).toBe(retry!.createdAt + h.short);
      expect(await h.store.getRun(retry!.id)).toEqual(retry);
      const children = await h.store.listRuns({ app, parentRunId: run.id });
      expect(children.items.map((r) => r.id)).toEqual([retry!.id]);
      expect(await h.claimAs(node)).toEqual([]);
      await h.advance(h.short + 50);
      expect((await h.claimAs(node)).map((r) => r.id)).toEqual([retry!.id]);
    });

    it('a retry of a skip job is pending, not skipped: the failed run ends before its retry is inserted', async () => {
      const app = h.app();
      const { node, run } = await claimedRun(app, {
        jobKey: 'skip-job',
        block: 'skip',
        retry: retryPolicy(3),
      });
      const { run: failed, retry } = await complete(node, run, {
        outcome: 'failed',
        error: { name: 'Error', message: 'boom' },
        retry: runDraft(app, {
          jobKey: 'skip-job',
          block: 'skip',
          trigger: 'retry',
          attempt: 2,
          parentRunId: run.id,
          retry: run.retry,
        }),
      });
      expect(failed.state).toBe('failed');
      expect(retry).toMatchObject({ state: 'pending', reason: null, attempt: 2, parentRunId: run.id });
    });

    it('a lost run of a skip job is retried as pending, not skipped', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const leader = await h.node(app, 'leader');
      const epoch = await h.lead(leader);
      const queued = await h.enqueue(app, { jobKey: 'skip-job', block: 'skip', retry: retryPolicy(2) });
      const [run] = await h.claimAs(node, 1, h.short);
      expect(run!.id).toBe(queued.id);
      await h.advance(h.short + 50);
      const reaped = await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long });
      expect(reaped.lost.map((r) => r.id)).toEqual([run!.id]);
      expect(reaped.retries).toHaveLength(1);
      expect(reaped.retries[0]).toMatchObject({ state: 'pending', attempt: 2, parentRunId: run!.id });
    });

    it('failure without a retry ends dead; timed_out and cancelled keep their outcome', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      await h.store.enqueueRuns([runDraft(app), runDraft(app), runDraft(app)]);
      const [a, b, c] = await h.claimAs(node, 3);
      const dead = await complete(node, a!, { outcome: 'failed', error: { name: 'Error', message: 'no' } });
      expect(dead.run.state).toBe('dead');
      expect(dead.retry).toBeNull();
      expect((await complete(node, b!, { outcome: 'timed_out' })).run.state).toBe('timed_out');
      expect((await complete(node, c!, { outcome: 'cancelled' })).run.state).toBe('cancelled');
      expect((await h.store.listRuns({ app, states: ['dead'] })).items.map((r) => r.id)).toEqual([a!.id]);
    });

    it('is fenced for a wrong node, a wrong or stale incarnation, and a run already ended; the run is unchanged', async () => {
      const app = h.app();
      const { node, run } = await claimedRun(app);
      const other = await h.node(app, 'n2');
      await expectOasisError(
        h.store.completeRun({
          runId: run.id,
          nodeId: 'n2',
          incarnation: other.incarnation,
          outcome: 'succeeded',
          durationMs: 1,
        }),
        'FENCED',
        { scope: 'run' },
      );
      await expectOasisError(
        h.store.completeRun({
          runId: run.id,
          nodeId: 'n1',
          incarnation: node.incarnation + 1000,
          outcome: 'succeeded',
          durationMs: 1,
        }),
        'FENCED',
      );
      expect(await h.store.getRun(run.id)).toEqual(run);
      await complete(node, run);
      await expectOasisError(complete(node, run, { outcome: 'failed' }), 'FENCED');
      expect((await h.store.getRun(run.id))!.state).toBe('succeeded');
      expect(await h.store.prune({ app, keepLast: 0, limit: 10 })).toBe(1);
      await expectOasisError(complete(node, run), 'NOT_FOUND', { entity: 'run' });
      await expectOasisError(complete(node, { ...run, id: 'no-such-run' }), 'NOT_FOUND', { entity: 'run' });
    });

    it('still works after a graceful leave: the leaving node may finish its runs', async () => {
      const app = h.app();
      const { node, run } = await claimedRun(app);
      await h.store.leaveNode(app, node.nodeId, node.incarnation);
      const { run: done } = await complete(node, run);
      expect(done.state).toBe('succeeded');
    });

    it('is fenced after the node re-registered: the old incarnation cannot complete its run', async () => {
      const app = h.app();
      const { node, run } = await claimedRun(app);
      const again = await h.node(app, 'n1');
      expect(again.incarnation).toBeGreaterThan(node.incarnation);
      await expectOasisError(complete(node, run), 'FENCED');
      await expectOasisError(complete(again, run), 'FENCED');
      expect(await h.store.getRun(run.id)).toEqual(run);
    });

    it('is fenced after the run was reaped as lost, and the retry inserted by the reap stays', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const leader = await h.node(app, 'leader');
      const epoch = await h.lead(leader);
      const queued = await h.enqueue(app, { retry: retryPolicy(2) });
      const [run] = await h.claimAs(node, 1, h.short);
      expect(run!.id).toBe(queued.id);
      await h.advance(h.short + 50);
      const reaped = await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long });
      expect(reaped.lost.map((r) => r.id)).toEqual([run!.id]);
      const lost = await h.store.getRun(run!.id);
      await expectOasisError(complete(node, run!), 'FENCED', { scope: 'run' });
      expect(await h.store.getRun(run!.id)).toEqual(lost);
      expect(reaped.retries).toHaveLength(1);
      expect(await h.store.getRun(reaped.retries[0]!.id)).toMatchObject({ state: 'pending' });
    });
  });

  describe('completeRuns', () => {
    /** A completion request of `node` for `run` (succeeded, 12 ms unless overridden). */
    const request = (
      node: NodeRecord,
      run: RunRecord,
      extra: Partial<CompleteRequest> = {},
    ): CompleteRequest => ({
      runId: run.id,
      nodeId: node.nodeId,
      incarnation: node.incarnation,
      outcome: 'succeeded',
      durationMs: 12,
      ...extra,
    });
    const retryDraft = (app: string, run: RunRecord, delayMs: number) =>
      runDraft(app, {
        jobKey: run.jobKey,
        trigger: 'retry',
        attempt: run.attempt + 1,
        parentRunId: run.id,
        retry: run.retry,
        delayMs,
      });
    /** Sums the app's stats buckets. */
    async function totals(
      app: string,
    ): Promise<Pick<StatsBucket, 'succeeded' | 'failed' | 'dead' | 'timedOut'>> {
      const now = await h.store.now();
      const buckets = await h.store.getStats({ app, from: now - 7_200_000, to: now + 7_200_000 });
      const sum = { succeeded: 0, failed: 0, dead: 0, timedOut: 0 };
      for (const b of buckets) {
        sum.succeeded += b.succeeded;
        sum.failed += b.failed;
        sum.dead += b.dead;
        sum.timedOut += b.timedOut;
      }
      return sum;
    }

    it('ends a mixed batch: results in request order, a fenced and an unknown run refused in place, the others end', async () => {
      const app = h.app();
      await h.store.saveJob(
        jobDraft(app, 'd', { schedule: { kind: 'delay-after', ms: 5_000 }, nextFireAt: null }),
        null,
      );
      const node = await h.node(app, 'n1');
      const other = await h.node(app, 'n2');
      const ok = await h.enqueue(app);
      const retried = await h.enqueue(app, { retry: retryPolicy(3, h.short) });
      const dead = await h.enqueue(app);
      const timedOut = await h.enqueue(app);
      const delayed = await h.enqueue(app, { jobKey: 'd' });
      const serialFirst = await h.enqueue(app, { jobKey: 's', block: 'serial' });
      const serialNext = await h.enqueue(app, { jobKey: 's', block: 'serial' });
      const foreign = await h.enqueue(app, { targetNode: 'n2' });
      const claimed = new Map((await h.claimAs(node, 100)).map((r) => [r.id, r]));
      expect([...claimed.keys()].sort()).toEqual(
        [ok, retried, dead, timedOut, delayed, serialFirst].map((r) => r.id).sort(),
      );
      const [foreignRun] = await h.claimAs(other, 100);
      expect(foreignRun!.id).toBe(foreign.id);
      const mine = (r: RunRecord) => claimed.get(r.id)!;

      const items = await h.at(1).completeRuns([
        request(node, mine(ok), { result: { rows: 3 } }),
        request(node, mine(retried), {
          outcome: 'failed',
          error: { name: 'Error', message: 'boom' },
          retry: retryDraft(app, mine(retried), h.short),
        }),
        request(node, foreignRun!),
        request(node, mine(dead), { outcome: 'failed', error: { name: 'Error', message: 'no' } }),
        { ...request(node, mine(ok)), runId: 'no-such-run' },
        request(node, mine(timedOut), { outcome: 'timed_out', durationMs: 30 }),
        request(node, mine(delayed)),
        request(node, mine(serialFirst)),
      ]);

      expect(items).toHaveLength(8);
      expect(items.map((i) => (i.ok ? i.run.id : null))).toEqual([
        ok.id,
        retried.id,
        null,
        dead.id,
        null,
        timedOut.id,
        delayed.id,
        serialFirst.id,
      ]);
      expect(items[2]).toMatchObject({ ok: false, error: { code: 'FENCED', scope: 'run' } });
      expect(items[4]).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', entity: 'run' } });
      expect(await h.store.getRun(foreign.id)).toEqual(foreignRun);

      const [a, b, , c, , d, e, f] = items;
      if (!a?.ok || !b?.ok || !c?.ok || !d?.ok || !e?.ok || !f?.ok)
        throw new Error('an item that must end was refused');
      expect(a).toMatchObject({
        run: { state: 'succeeded', result: { rows: 3 }, durationMs: 12 },
        retry: null,
      });
      expect(b.run).toMatchObject({ state: 'failed', error: { name: 'Error', message: 'boom' } });
      expect(b.retry).toMatchObject({
        state: 'pending',
        attempt: 2,
        trigger: 'retry',
        parentRunId: retried.id,
      });
      expect(b.retry!.dueAt).toBe(b.retry!.createdAt + h.short);
      expect(c).toMatchObject({ run: { state: 'dead' }, retry: null });
      expect(d).toMatchObject({ run: { state: 'timed_out', durationMs: 30 }, retry: null });
      expect(e.run.state).toBe('succeeded');
      expect(f.run.state).toBe('succeeded');
      for (const item of [a, b, c, d, e, f]) {
        expect(await h.store.getRun(item.run.id)).toEqual(item.run);
        if (item.retry) expect(await h.store.getRun(item.retry.id)).toEqual(item.retry);
      }
      const children = await h.store.listRuns({ app, parentRunId: retried.id });
      expect(children.items.map((r) => r.id)).toEqual([b.retry!.id]);

      expect(await h.store.getJob(app, 'd')).toMatchObject({ nextFireAt: e.run.finishedAt! + 5_000 });
      expect((await h.claimAs(node)).map((r) => r.id)).toEqual([serialNext.id]);
      expect(await totals(app)).toEqual({ succeeded: 3, failed: 1, dead: 1, timedOut: 1 });
    });

    it('each item is what completeRun returns for the same request', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const outcomes: Array<(run: RunRecord) => Partial<CompleteRequest>> = [
        () => ({ result: { rows: 1 } }),
        (run) => ({
          outcome: 'failed',
          error: { name: 'Error', message: 'x' },
          retry: retryDraft(app, run, 0),
        }),
        () => ({ outcome: 'failed', error: { name: 'Error', message: 'y' } }),
        () => ({ outcome: 'timed_out' }),
        () => ({ outcome: 'cancelled' }),
      ];
      await h.store.enqueueRuns(outcomes.flatMap(() => [runDraft(app), runDraft(app)]));
      const claimed = await h.claimAs(node, 100);
      expect(claimed).toHaveLength(outcomes.length * 2);
      const single = claimed.slice(0, outcomes.length);
      const batched = claimed.slice(outcomes.length);
      const one = [];
      for (const [i, run] of single.entries()) one.push(await complete(node, run, outcomes[i]!(run)));
      const many = await h.store.completeRuns(batched.map((run, i) => request(node, run, outcomes[i]!(run))));
      /** The record without what differs between two runs made and ended at different times. */
      const shape = (r: RunRecord | null) =>
        r && {
          ...r,
          id: '',
          createdAt: 0,
          dueAt: 0,
          startedAt: 0,
          finishedAt: 0,
          leaseExpiresAt: r.leaseExpiresAt === null ? null : 0,
          parentRunId: r.parentRunId === null ? null : '',
        };
      expect(many).toHaveLength(outcomes.length);
      for (const [i, item] of many.entries()) {
        if (!item.ok) throw new Error(`item ${i} was refused: ${item.error.message}`);
        expect(shape(item.run)).toEqual(shape(one[i]!.run));
        expect(shape(item.retry)).toEqual(shape(one[i]!.retry));
        if (item.retry) expect(item.retry.parentRunId).toBe(item.run.id);
      }
    });

    it('an empty batch is a no-op; a duplicate run id or more than maxBatch requests is refused and changes nothing', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const queued = await h.enqueue(app);
      const [run] = await h.claimAs(node, 1);
      expect(run!.id).toBe(queued.id);
      expect(await h.store.completeRuns([])).toEqual([]);
      await expectOasisError(
        h.store.completeRuns([request(node, run!), request(node, run!, { outcome: 'failed' })]),
        'VALIDATION',
        { field: 'requests[1].runId' },
      );
      const tooMany = Array.from({ length: STORE_LIMITS.maxBatch + 1 }, (_, i) =>
        i === 0 ? request(node, run!) : { ...request(node, run!), runId: `no-such-run-${i}` },
      );
      await expectOasisError(h.store.completeRuns(tooMany), 'VALIDATION', { field: 'requests' });
      expect(await h.store.getRun(run!.id)).toEqual(run);
      const [item] = await h.store.completeRuns([request(node, run!)]);
      expect(item).toMatchObject({ ok: true, run: { id: run!.id, state: 'succeeded' }, retry: null });
    });

    it('a node that re-registered is fenced for every run of its old incarnation, in place', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      await h.store.enqueueRuns([runDraft(app), runDraft(app)]);
      const runs = await h.claimAs(node, 2);
      expect(runs).toHaveLength(2);
      await h.node(app, 'n1');
      const items = await h.store.completeRuns(runs.map((r) => request(node, r)));
      expect(items).toMatchObject([
        { ok: false, error: { code: 'FENCED' } },
        { ok: false, error: { code: 'FENCED' } },
      ]);
      for (const r of runs) expect(await h.store.getRun(r.id)).toEqual(r);
    });
  });

  describe('delay-after jobs', () => {
    it('re-arm when their run ends with no retry: nextFireAt = end + delay', async () => {
      const app = h.app();
      await h.store.saveJob(
        jobDraft(app, 'd', { schedule: { kind: 'delay-after', ms: 5_000 }, nextFireAt: null }),
        null,
      );
      const { node, run } = await claimedRun(app, { jobKey: 'd' });
      const { run: done } = await complete(node, run);
      expect(await h.store.getJob(app, 'd')).toMatchObject({ nextFireAt: done.finishedAt! + 5_000 });
    });

    it('do not re-arm while a retry follows, and re-arm when the retry ends dead', async () => {
      const app = h.app();
      await h.store.saveJob(
        jobDraft(app, 'd', { schedule: { kind: 'delay-after', ms: 7_000 }, nextFireAt: null }),
        null,
      );
      const { node, run } = await claimedRun(app, { jobKey: 'd', retry: retryPolicy(2, 0) });
      const { retry } = await complete(node, run, {
        outcome: 'failed',
        retry: runDraft(app, {
          jobKey: 'd',
          trigger: 'retry',
          attempt: 2,
          parentRunId: run.id,
          retry: retryPolicy(2, 0),
        }),
      });
      expect(retry).not.toBeNull();
      expect((await h.store.getJob(app, 'd'))!.nextFireAt).toBeNull();
      const [second] = await h.claimAs(node);
      expect(second!.id).toBe(retry!.id);
      const { run: dead } = await complete(node, second!, { outcome: 'failed' });
      expect(dead.state).toBe('dead');
      expect(await h.store.getJob(app, 'd')).toMatchObject({ nextFireAt: dead.finishedAt! + 7_000 });
    });

    it('re-arm when a pending run is cancelled; a job whose nextFireAt is set is left alone', async () => {
      const app = h.app();
      await h.store.saveJob(
        jobDraft(app, 'd', { schedule: { kind: 'delay-after', ms: 9_000 }, nextFireAt: null }),
        null,
      );
      const run = await h.enqueue(app, { jobKey: 'd' });
      const cancelled = await h.store.cancelRun(run.id, 'operator');
      expect(await h.store.getJob(app, 'd')).toMatchObject({ nextFireAt: cancelled.finishedAt! + 9_000 });
      const set = (await h.store.getJob(app, 'd'))!.nextFireAt;
      const again = await h.enqueue(app, { jobKey: 'd' });
      await h.store.cancelRun(again.id, 'operator');
      expect((await h.store.getJob(app, 'd'))!.nextFireAt).toBe(set);
    });
  });

  describe('cancelRun', () => {
    it('cancels a pending run at once with its reason; it is never claimed', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const run = await h.enqueue(app);
      const cancelled = await h.store.cancelRun(run.id, 'changed my mind');
      expect(cancelled).toMatchObject({ id: run.id, state: 'cancelled', reason: 'changed my mind' });
      expect(cancelled.finishedAt).not.toBeNull();
      expect(await h.claimAs(node)).toEqual([]);
    });

    it('asks a running run to stop: cancelRequested, heartbeat returns it, the node completes it cancelled', async () => {
      const app = h.app();
      const { node, run } = await claimedRun(app);
      const asked = await h.store.cancelRun(run.id, 'operator');
      expect(asked).toMatchObject({ state: 'running', cancelRequested: true });
      const beat = await h.at(1).heartbeat({
        app,
        nodeId: 'n1',
        incarnation: node.incarnation,
        state: 'active',
        running: 1,
        runs: [{ runId: run.id, progress: 40 }],
        runLeaseMs: h.long,
      });
      expect(beat.cancelRunIds).toEqual([run.id]);
      const { run: done } = await complete(node, run, { outcome: 'cancelled' });
      expect(done).toMatchObject({
        state: 'cancelled',
        cancelRequested: true,
        reason: 'operator',
        progress: 40,
      });
      // What the completion returns is the run as stored, including what other steps wrote while it ran.
      expect(done).toEqual(await h.store.getRun(run.id));
    });

    it('returns a final run unchanged and throws NotFoundError for an unknown run', async () => {
      const app = h.app();
      const { node, run } = await claimedRun(app);
      const { run: done } = await complete(node, run);
      expect(await h.store.cancelRun(run.id, 'late')).toEqual(done);
      expect(await h.store.prune({ app, keepLast: 0, limit: 10 })).toBe(1);
      await expectOasisError(h.store.cancelRun(run.id, 'gone'), 'NOT_FOUND', { entity: 'run' });
      await expectOasisError(h.store.cancelRun('no-such-run', 'gone'), 'NOT_FOUND', { entity: 'run' });
    });
  });
}
