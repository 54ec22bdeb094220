/** Conformance: steps racing each other from several store instances stay atomic. */
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../model';
import { retryPolicy, runDraft } from './fixtures';
import type { Harness } from './harness';

/** Registers the race tests. */
export function raceTests(h: Harness): void {
  describe('races', () => {
    it('10 racing enqueues of a skip job: one run pending, the rest skipped', async () => {
      const app = h.app();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          h.at(i).enqueueRuns([runDraft(app, { jobKey: 'j', block: 'skip' })]),
        ),
      );
      const states = results.map((r) => r[0]!.run.state).sort();
      expect(states).toEqual(['pending', ...Array.from({ length: 9 }, () => 'skipped')]);
      expect(await h.store.countRuns(app, ['pending', 'skipped'])).toEqual({ pending: 1, skipped: 9 });
    });

    it('10 racing enqueues of a replace job: exactly one run is left pending', async () => {
      const app = h.app();
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          h.at(i).enqueueRuns([runDraft(app, { jobKey: 'j', block: 'replace' })]),
        ),
      );
      expect(await h.store.countRuns(app, ['pending', 'cancelled'])).toEqual({ pending: 1, cancelled: 9 });
    });

    it('cancelRun racing claimRuns: each run ends either cancelled and unclaimed, or claimed with cancelRequested', async () => {
      const app = h.app();
      const queued = await h.store.enqueueRuns(Array.from({ length: 40 }, () => runDraft(app)));
      const nodes = await Promise.all(Array.from({ length: 4 }, (_, i) => h.node(app, `n${i}`, {}, h.at(i))));
      const claimed = new Set<string>();
      await Promise.all([
        ...nodes.map(async (node, i) => {
          for (;;) {
            const runs = await h.claimAs(node, 3, h.long, h.at(i));
            if (runs.length === 0) return;
            for (const r of runs) claimed.add(r.id);
          }
        }),
        ...queued.map((q, i) => h.at(i + 1).cancelRun(q.run.id, 'race')),
      ]);
      for (const { run } of queued) {
        const now = (await h.store.getRun(run.id))!;
        if (claimed.has(run.id)) {
          expect(now).toMatchObject({ state: 'running', cancelRequested: true });
        } else {
          expect(now).toMatchObject({ state: 'cancelled', ownerNode: null });
        }
      }
    });

    it('completeRun racing reapDeadNodes on expired leases: each run is either completed or lost, never both', async () => {
      const app = h.app();
      const node = await h.node(app, 'worker');
      const leader = await h.node(app, 'leader');
      const epoch = await h.lead(leader);
      await h.store.enqueueRuns(Array.from({ length: 20 }, () => runDraft(app, { retry: retryPolicy(2) })));
      const runs = await h.claimAs(node, 20, h.short);
      expect(runs).toHaveLength(20);
      await h.advance(h.short + 50);
      const completions = runs.map((run, i) =>
        h
          .at(i)
          .completeRun({
            runId: run.id,
            nodeId: 'worker',
            incarnation: node.incarnation,
            outcome: 'succeeded',
            durationMs: 1,
          })
          .then(
            () => 'completed' as const,
            (err: { code?: string }) => {
              expect(err.code).toBe('FENCED');
              return 'fenced' as const;
            },
          ),
      );
      const [reap, ...outcomes] = await Promise.all([
        h.at(1).reapDeadNodes({ app, epoch, nodeTtlMs: h.long }),
        ...completions,
      ]);
      const lost = new Set(reap.lost.map((r) => r.id));
      runs.forEach((run, i) => {
        expect(outcomes[i] === 'fenced', `run ${run.id}: fenced iff reaped`).toBe(lost.has(run.id));
      });
      for (const run of runs) {
        const now = (await h.store.getRun(run.id))!;
        expect(now.state).toBe(lost.has(run.id) ? 'lost' : 'succeeded');
      }
      expect(reap.retries.map((r) => r.parentRunId).sort()).toEqual([...lost].sort());
    });

    it('racing registerNode calls for one node id get distinct incarnations; only the last one is current', async () => {
      const app = h.app();
      const records = await Promise.all(
        Array.from({ length: 6 }, (_, i) => h.node(app, 'same', {}, h.at(i))),
      );
      const incarnations = records.map((r) => r.incarnation);
      expect(new Set(incarnations).size).toBe(6);
      const current = (await h.store.listNodes(app))[0]!;
      expect(current.incarnation).toBe(Math.max(...incarnations));
    });

    it('racing claimers and completers on a serial job never run two of its runs at once', async () => {
      const app = h.app();
      await h.store.enqueueRuns(
        Array.from({ length: 8 }, () => runDraft(app, { jobKey: 's', block: 'serial' })),
      );
      const nodes = await Promise.all(Array.from({ length: 4 }, (_, i) => h.node(app, `n${i}`, {}, h.at(i))));
      const done: RunRecord[] = [];
      const deadline = Date.now() + 20_000;
      await Promise.all(
        nodes.map(async (node, i) => {
          const store = h.at(i);
          while (done.length < 8 && Date.now() < deadline) {
            const [run] = await h.claimAs(node, 1, h.long, store);
            if (!run) {
              // poll: another node holds the job's run
              await new Promise((resolve) => setTimeout(resolve, 2));
              continue;
            }
            const result = await store.completeRun({
              runId: run.id,
              nodeId: node.nodeId,
              incarnation: node.incarnation,
              outcome: 'succeeded',
              durationMs: 1,
            });
            done.push(result.run);
          }
        }),
      );
      expect(done).toHaveLength(8);
      const intervals = done.map((r) => [r.startedAt!, r.finishedAt!] as const).sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < intervals.length; i++) {
        expect(intervals[i]![0]).toBeGreaterThanOrEqual(intervals[i - 1]![1]);
      }
    });
  });
}
