/**
 * The app's hourly totals (migration 0006), per database: written by the same upsert as the
 * per-job buckets, equal to their sum, never returned by `getStats`, and back-filled from the
 * existing buckets by the migration.
 */
import type { StatsBucket } from '@oasis/core';
import { nodeInfo, runDraft } from '@oasis/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqlStore } from '../src/index';
import { tableNames } from '../src/tables';
import { targets, undoPartialRunIndexes, uniquePrefix } from './helpers';

const all = await targets();
afterAll(async () => {
  for (const t of all) await t.close();
});

type Counts = Omit<StatsBucket, 'jobKey'>;

/** Per hour, the sum of the per-job buckets (max for the largest duration). */
function sumPerHour(buckets: StatsBucket[]): Counts[] {
  const byHour = new Map<number, Counts>();
  for (const b of buckets) {
    const t = byHour.get(b.hour);
    if (!t) {
      const { jobKey: _j, ...counts } = b;
      byHour.set(b.hour, { ...counts });
      continue;
    }
    t.succeeded += b.succeeded;
    t.failed += b.failed;
    t.dead += b.dead;
    t.timedOut += b.timedOut;
    t.cancelled += b.cancelled;
    t.lost += b.lost;
    t.skipped += b.skipped;
    t.totalDurationMs += b.totalDurationMs;
    t.maxDurationMs = Math.max(t.maxDurationMs, b.maxDurationMs);
  }
  return [...byHour.values()].sort((a, b) => a.hour - b.hour);
}

for (const target of all) {
  // Skipped only when this target's server is unreachable: serverAvailable() warned loudly (and failed the run under CI=true).
  describe.skipIf(!target.available)(`hourly totals: ${target.label}`, () => {
    const prefixes: string[] = [];
    afterAll(async () => {
      for (const p of prefixes) await target.drop(p);
    });

    it('equal the sum of the per-job buckets, are kept apart from getStats, and are back-filled by 0006', async () => {
      const prefix = uniquePrefix('st');
      prefixes.push(prefix);
      const store = createSqlStore({ ...target.options(prefix), migrate: true });
      const app = 'totals';
      try {
        await store.init();
        const node = await store.registerNode(nodeInfo(app, 'n'));
        await store.enqueueRuns([
          runDraft(app, { jobKey: 'a' }),
          runDraft(app, { jobKey: 'a' }),
          runDraft(app, { jobKey: 'b' }),
          runDraft(app),
        ]);
        const claimed = await store.claimRuns({
          app,
          nodeId: 'n',
          incarnation: node.incarnation,
          handlers: ['h'],
          limit: 10,
          leaseMs: 600_000,
        });
        expect(claimed).toHaveLength(4);
        const items = await store.completeRuns(
          claimed.map((run, i) => ({
            runId: run.id,
            nodeId: 'n',
            incarnation: node.incarnation,
            outcome: i === 1 ? ('failed' as const) : ('succeeded' as const),
            durationMs: 10 * (i + 1),
          })),
        );
        expect(items.every((i) => i.ok)).toBe(true);
        await store.enqueueRuns([runDraft(app, { jobKey: 'b', state: 'skipped', reason: 'misfire' })]);

        const now = await store.now();
        const range = { from: now - 7_200_000, to: now + 7_200_000 };
        const buckets = await store.getStats({ app, ...range });
        expect(buckets.every((b) => b.jobKey === null || ['a', 'b'].includes(b.jobKey))).toBe(true);
        const totals = await store.getHourlyTotals({ app, ...range });
        expect(totals).toEqual(sumPerHour(buckets));
        const all = totals.reduce((n, t) => n + t.succeeded + t.dead + t.skipped, 0);
        expect(all).toBe(5);
        expect(await store.getHourlyTotals({ app: 'other', ...range })).toEqual([]);
      } finally {
        await store.close();
      }

      // as if the buckets were written before 0006: no totals, migration not applied
      const names = tableNames(prefix);
      await undoPartialRunIndexes(target, prefix);
      await target.query(`delete from "${names.stats}" where job_key = ?`, ['\u0001all']);
      await target.query(`delete from "${names.migrations}" where name in (?, ?)`, [
        '0006_stats_app_totals',
        '0007_runs_job_state_time',
      ]);
      const onRuns = target.label === 'mariadb' ? ` on "${names.runs}"` : '';
      await target.query(`drop index "${prefix}runs_job_state_time"${onRuns}`);
      await target.query(`create index "${prefix}runs_job_state" on "${names.runs}" (app, job_key, state)`);
      await target.query(
        target.label === 'mariadb'
          ? `drop index "${prefix}stats_app_hour" on "${names.stats}"`
          : `drop index "${prefix}stats_app_hour"`,
      );
      const again = createSqlStore({ ...target.options(prefix), migrate: true });
      try {
        await again.init();
        const now = await again.now();
        const range = { from: now - 7_200_000, to: now + 7_200_000 };
        const buckets = await again.getStats({ app, ...range });
        expect(await again.getHourlyTotals({ app, ...range })).toEqual(sumPerHour(buckets));
      } finally {
        await again.close();
      }
    });
  });
}
