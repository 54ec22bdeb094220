/** Conformance: run logs, audit entries, hourly stats and pruning. */
import { describe, expect, it } from 'vitest';
import type { NodeRecord, RunLogDraft, RunRecord } from '../model';
import { STORE_LIMITS } from '../store/store';
import { runDraft } from './fixtures';
import type { Harness } from './harness';

/** Registers the log, audit, stats and prune tests. */
export function historyTests(h: Harness): void {
  const line = (runId: string, message: string, extra: Partial<RunLogDraft> = {}): RunLogDraft => ({
    runId,
    level: 'info',
    message,
    fields: null,
    ts: 1_700_000_000_000,
    ...extra,
  });

  /** Enqueues, claims and completes `count` runs with the given outcome. */
  async function finished(
    app: string,
    node: NodeRecord,
    count: number,
    outcome: 'succeeded' | 'failed' | 'timed_out' | 'cancelled',
    jobKey: string | null = null,
    durationMs = 10,
  ): Promise<RunRecord[]> {
    const queued = await h.store.enqueueRuns(Array.from({ length: count }, () => runDraft(app, { jobKey })));
    const ids = new Set(queued.map((q) => q.run.id));
    const claimed = (await h.claimAs(node, 1000)).filter((r) => ids.has(r.id));
    expect(claimed).toHaveLength(count);
    const done: RunRecord[] = [];
    for (const run of claimed) {
      const result = await h.store.completeRun({
        runId: run.id,
        nodeId: node.nodeId,
        incarnation: node.incarnation,
        outcome,
        durationMs,
      });
      done.push(result.run);
    }
    return done;
  }

  describe('run logs', () => {
    it('numbers lines per run in append order; readLogs pages with afterSeq and limit', async () => {
      const app = h.app();
      const a = await h.enqueue(app);
      const b = await h.enqueue(app);
      await h.store.appendLogs([
        line(a.id, 'a1', { level: 'debug', fields: { step: 1, tags: ['x'] } }),
        line(b.id, 'b1'),
        line(a.id, 'a2', { level: 'error' }),
      ]);
      await h.at(1).appendLogs([line(a.id, 'a3'), line(b.id, 'b2')]);
      const logA = await h.store.readLogs(a.id, 0, 100);
      expect(logA.map((l) => [l.seq, l.message])).toEqual([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
      expect(logA[0]).toEqual({
        runId: a.id,
        seq: 1,
        level: 'debug',
        message: 'a1',
        fields: { step: 1, tags: ['x'] },
        ts: 1_700_000_000_000,
      });
      expect((await h.store.readLogs(b.id, 0, 100)).map((l) => [l.seq, l.message])).toEqual([
        [1, 'b1'],
        [2, 'b2'],
      ]);
      expect((await h.store.readLogs(a.id, 1, 1)).map((l) => l.message)).toEqual(['a2']);
      expect(await h.store.readLogs(a.id, 3, 10)).toEqual([]);
      expect(await h.store.readLogs('no-such-run', 0, 10)).toEqual([]);
    });

    it('concurrent appends to one run get distinct, gapless sequence numbers', async () => {
      const app = h.app();
      const run = await h.enqueue(app);
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          h.at(i).appendLogs(Array.from({ length: 5 }, (_, j) => line(run.id, `w${i}-${j}`))),
        ),
      );
      const log = await h.store.readLogs(run.id, 0, 1000);
      expect(log.map((l) => l.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      for (let i = 0; i < 8; i++) {
        const mine = log.filter((l) => l.message.startsWith(`w${i}-`)).map((l) => l.message);
        expect(mine).toEqual(Array.from({ length: 5 }, (_, j) => `w${i}-${j}`));
      }
    });

    it('drops lines of unknown runs', async () => {
      const app = h.app();
      const run = await h.enqueue(app);
      await h.store.appendLogs([line('no-such-run', 'lost'), line(run.id, 'kept')]);
      expect((await h.store.readLogs(run.id, 0, 10)).map((l) => l.message)).toEqual(['kept']);
    });

    it('caps lines per run: the line at the cap becomes a warn "truncated" line and later lines are dropped', async () => {
      const app = h.app();
      const cap = h.options.maxLogLinesPerRun ?? STORE_LIMITS.maxLogLinesPerRun;
      const run = await h.enqueue(app);
      const total = cap + 5;
      for (let start = 0; start < total; start += STORE_LIMITS.maxBatch) {
        const size = Math.min(STORE_LIMITS.maxBatch, total - start);
        await h.store.appendLogs(Array.from({ length: size }, (_, i) => line(run.id, `m${start + i + 1}`)));
      }
      const log: Awaited<ReturnType<typeof h.store.readLogs>> = [];
      for (let after = 0; ; ) {
        const page = await h.store.readLogs(run.id, after, 1000);
        if (page.length === 0) break;
        log.push(...page);
        after = page[page.length - 1]!.seq;
      }
      expect(log).toHaveLength(cap);
      expect(log[cap - 2]!.message).toBe(`m${cap - 1}`);
      expect(log[cap - 1]!.seq).toBe(cap);
      expect(log[cap - 1]!.level).toBe('warn');
      expect(log[cap - 1]!.message).toMatch(/truncated/i);
      await h.store.appendLogs([line(run.id, 'more')]);
      expect(await h.store.readLogs(run.id, cap - 1, 10)).toHaveLength(1);
    });
  });

  describe('audit', () => {
    it('appends with id and store time; lists newest first with filters and keyset pages', async () => {
      const app = h.app();
      const before = await h.store.now();
      const entries = [];
      for (let i = 0; i < 7; i++) {
        entries.push(
          await h.at(i).appendAudit({
            app,
            actor: i % 2 === 0 ? 'alice' : 'bob',
            action: 'job.update',
            targetType: i < 5 ? 'job' : 'node',
            targetId: `t${i % 3}`,
            before: i === 0 ? null : { v: i - 1 },
            after: { v: i, nested: [i] },
          }),
        );
      }
      expect(entries[0]!.at).toBeGreaterThanOrEqual(before);
      expect(entries[0]).toMatchObject({ app, actor: 'alice', before: null, after: { v: 0, nested: [0] } });
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await h.store.listAudit({ app }, { limit: 3, cursor });
        ids.push(...page.items.map((e) => e.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(ids).toEqual(entries.map((e) => e.id).reverse());
      const bob = await h.store.listAudit({ app, actor: 'bob' });
      expect(bob.items.map((e) => e.after)).toEqual([
        { v: 5, nested: [5] },
        { v: 3, nested: [3] },
        { v: 1, nested: [1] },
      ]);
      const nodes = await h.store.listAudit({ app, targetType: 'node', targetId: 't2' });
      expect(nodes.items.map((e) => e.id)).toEqual([entries[5]!.id]);
      expect((await h.store.listAudit({ app: h.app() })).items).toEqual([]);
      const end = (await h.store.now()) + 1;
      expect((await h.store.listAudit({ app, from: before, to: end })).items).toHaveLength(7);
      expect((await h.store.listAudit({ app, to: before })).items).toEqual([]);
    });
  });

  describe('stats', () => {
    it('hourly buckets count each ending (complete, cancel of pending, reap, skipped insert) by app, job and hour', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const start = await h.store.now();
      const ok = await finished(app, node, 3, 'succeeded', 'j', 10);
      const dead = await finished(app, node, 1, 'failed', 'j', 40);
      const timedOut = await finished(app, node, 1, 'timed_out', 'j', 5);
      const oneOff = await finished(app, node, 2, 'succeeded', null, 1);
      const pending = await h.enqueue(app, { jobKey: 'j' });
      await h.store.cancelRun(pending.id, 'operator');
      await h.enqueue(app, { jobKey: 'j', state: 'skipped', reason: 'misfire' });
      const epoch = await h.lead(node);
      await h.enqueue(app, { jobKey: 'j' });
      await h.claimAs(node, 1, h.short);
      await h.advance(h.short + 50);
      await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long });
      const end = (await h.store.now()) + 3_600_000;
      const buckets = await h.store.getStats({ app, from: start - 3_600_000, to: end });
      for (const b of buckets) {
        expect(b.hour % 3_600_000).toBe(0);
        expect(b.app).toBe(app);
      }
      const sum = (jobKey: string | null) =>
        buckets
          .filter((b) => b.jobKey === jobKey)
          .reduce(
            (acc, b) => ({
              succeeded: acc.succeeded + b.succeeded,
              failed: acc.failed + b.failed,
              dead: acc.dead + b.dead,
              timedOut: acc.timedOut + b.timedOut,
              cancelled: acc.cancelled + b.cancelled,
              lost: acc.lost + b.lost,
              skipped: acc.skipped + b.skipped,
              totalDurationMs: acc.totalDurationMs + b.totalDurationMs,
              maxDurationMs: Math.max(acc.maxDurationMs, b.maxDurationMs),
            }),
            {
              succeeded: 0,
              failed: 0,
              dead: 0,
              timedOut: 0,
              cancelled: 0,
              lost: 0,
              skipped: 0,
              totalDurationMs: 0,
              maxDurationMs: 0,
            },
          );
      expect(sum('j')).toMatchObject({
        succeeded: 3,
        failed: 0,
        dead: 1,
        timedOut: 1,
        cancelled: 1,
        lost: 1,
        skipped: 1,
      });
      expect(sum('j').totalDurationMs).toBeGreaterThanOrEqual(3 * 10 + 40 + 5);
      expect(sum('j').maxDurationMs).toBeGreaterThanOrEqual(40);
      expect(sum(null)).toMatchObject({ succeeded: 2, totalDurationMs: 2 });
      const hourOf = (t: number) => Math.floor(t / 3_600_000) * 3_600_000;
      for (const run of [...ok, ...dead, ...timedOut, ...oneOff]) {
        expect(buckets.some((b) => b.jobKey === run.jobKey && b.hour === hourOf(run.finishedAt!))).toBe(true);
      }
      const hours = buckets.map((b) => b.hour);
      expect(hours).toEqual([...hours].sort((x, y) => x - y));
      expect(await h.store.getStats({ app, jobKey: 'j', from: start - 3_600_000, to: end })).toEqual(
        buckets.filter((b) => b.jobKey === 'j'),
      );
      expect(await h.store.getStats({ app, from: end, to: end + 3_600_000 })).toEqual([]);
      expect(await h.store.getStats({ app: h.app(), from: 0, to: end })).toEqual([]);

      // The hourly totals are those buckets summed per hour, every job and one-off task together.
      const totals = await h.store.getHourlyTotals({ app, from: start - 3_600_000, to: end });
      const perHour = [...new Set(hours)];
      expect(totals.map((t) => t.hour)).toEqual(perHour);
      for (const t of totals) {
        const of = buckets.filter((b) => b.hour === t.hour);
        const add = (k: 'succeeded' | 'failed' | 'dead' | 'timedOut' | 'cancelled' | 'lost' | 'skipped') =>
          of.reduce((n, b) => n + b[k], 0);
        expect(t).toEqual({
          app,
          hour: t.hour,
          succeeded: add('succeeded'),
          failed: add('failed'),
          dead: add('dead'),
          timedOut: add('timedOut'),
          cancelled: add('cancelled'),
          lost: add('lost'),
          skipped: add('skipped'),
          totalDurationMs: of.reduce((n, b) => n + b.totalDurationMs, 0),
          maxDurationMs: Math.max(...of.map((b) => b.maxDurationMs)),
        });
      }
      expect(totals.reduce((n, t) => n + t.succeeded, 0)).toBe(5);
      expect(await h.store.getHourlyTotals({ app, from: end, to: end + 3_600_000 })).toEqual([]);
      expect(await h.store.getHourlyTotals({ app: h.app(), from: 0, to: end })).toEqual([]);
      await expect(h.store.getHourlyTotals({ app: '', from: 0, to: end })).rejects.toMatchObject({
        code: 'VALIDATION',
      });
    });
  });

  describe('prune', () => {
    it('deletes final runs finished before a time, with their logs, never pending or running ones, at most limit per call', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const old = await finished(app, node, 3, 'succeeded');
      await h.store.appendLogs(old.map((r) => line(r.id, 'old line')));
      await h.advance(h.short);
      const cutoff = await h.store.now();
      await h.advance(10);
      const recent = await finished(app, node, 2, 'succeeded');
      const pending = await h.enqueue(app);
      const running = await h.enqueue(app);
      await h.claimAs(node, 10);
      expect(await h.store.prune({ app, finishedBefore: cutoff, limit: 2 })).toBe(2);
      expect(await h.store.prune({ app, finishedBefore: cutoff, limit: 2 })).toBe(1);
      expect(await h.store.prune({ app, finishedBefore: cutoff, limit: 2 })).toBe(0);
      for (const r of old) {
        expect(await h.store.getRun(r.id)).toBeNull();
        expect(await h.store.readLogs(r.id, 0, 10)).toEqual([]);
      }
      for (const r of [...recent, pending, running]) expect(await h.store.getRun(r.id)).not.toBeNull();
      expect((await h.store.listRuns({ app })).items).toHaveLength(4);
    });

    it('keepLast with finishedBefore deletes only runs that are both old and beyond the newest N', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const old = await finished(app, node, 3, 'succeeded');
      await h.advance(h.short);
      const cutoff = await h.store.now();
      await h.advance(10);
      const recent = await finished(app, node, 2, 'succeeded');
      expect(await h.store.prune({ app, keepLast: 4, finishedBefore: cutoff, limit: 100 })).toBe(1);
      expect(await h.store.getRun(old[0]!.id)).toBeNull();
      expect(await h.store.prune({ app, keepLast: 1, finishedBefore: cutoff, limit: 100 })).toBe(2);
      const left = (await h.store.listRuns({ app })).items.map((r) => r.id);
      expect(left).toEqual([recent[1]!.id, recent[0]!.id]);
    });

    it('keepLast keeps the newest N final runs of each app; app scopes it', async () => {
      const app = h.app();
      const other = h.app();
      const node = await h.node(app, 'n1');
      const otherNode = await h.node(other, 'n1');
      const runs = await finished(app, node, 5, 'succeeded');
      const others = await finished(other, otherNode, 2, 'succeeded');
      expect(await h.store.prune({ app, keepLast: 2, limit: 100 })).toBe(3);
      // `finished` returns runs in claim order: same priority and due time, so oldest first
      const left = (await h.store.listRuns({ app })).items.map((r) => r.id);
      expect(left).toEqual([runs[4]!.id, runs[3]!.id]);
      expect(await h.store.prune({ app, keepLast: 2, limit: 100 })).toBe(0);
      for (const r of others) expect(await h.store.getRun(r.id)).not.toBeNull();
    });
  });
}
