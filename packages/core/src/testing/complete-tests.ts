/** Conformance: completeRun (outcomes, retries, fencing), delay-after re-arm, cancelRun. */
import { describe, expect, it } from 'vitest';
import type { NodeRecord, RunRecord } from '../model';
import type { CompleteRequest } from '../store/store';
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
        runs: [{ runId: run.id }],
        runLeaseMs: h.long,
      });
      expect(beat.cancelRunIds).toEqual([run.id]);
      const { run: done } = await complete(node, run, { outcome: 'cancelled' });
      expect(done.state).toBe('cancelled');
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
