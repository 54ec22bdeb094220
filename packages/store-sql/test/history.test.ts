/**
 * Run history at size, per database: thousands of runs paged by keyset with filters, pruned in
 * bounded batches by age and by count with their logs; and the store clock's test offset.
 */
import { nodeInfo, runDraft } from '@oasis/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqlStore, type SqlStore } from '../src/index';
import { tableNames } from '../src/tables';
import { targets, uniquePrefix } from './helpers';

const all = await targets();
afterAll(async () => {
  for (const t of all) await t.close();
});

const RUNS = 3000;

for (const target of all) {
  // Skipped only when this target's server is unreachable: serverAvailable() warned loudly (and failed the run under CI=true).
  describe.skipIf(!target.available)(`history at size: ${target.label}`, () => {
    const prefix = uniquePrefix('h');
    let store: SqlStore;
    beforeAll(async () => {
      store = createSqlStore({ ...target.options(prefix), migrate: true });
      await store.init();
    });
    afterAll(async () => {
      await store.close();
      await target.drop(prefix);
    });

    it(`pages ${RUNS} runs by job and state without gaps or repeats, then prunes them in batches`, async () => {
      const app = 'hist';
      const drafts = Array.from({ length: RUNS }, (_, i) =>
        runDraft(app, { jobKey: i % 2 === 0 ? 'even' : 'odd' }),
      );
      const ids: string[] = [];
      for (let i = 0; i < drafts.length; i += 1000) {
        ids.push(...(await store.enqueueRuns(drafts.slice(i, i + 1000))).map((r) => r.run.id));
      }
      const node = await store.registerNode(nodeInfo(app, 'n'));
      const claimed = await store.claimRuns({
        app,
        nodeId: 'n',
        incarnation: node.incarnation,
        handlers: ['h'],
        limit: 1000,
        leaseMs: 600_000,
      });
      for (const run of claimed) {
        await store.appendLogs([{ runId: run.id, level: 'info', message: 'x', fields: null, ts: 1 }]);
        await store.completeRun({
          runId: run.id,
          nodeId: 'n',
          incarnation: node.incarnation,
          outcome: 'succeeded',
          durationMs: 1,
        });
      }
      // keyset pages of the even job's succeeded runs: newest first, each exactly once
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await store.listRuns(
          { app, jobKey: 'even', states: ['succeeded'] },
          { limit: 77, cursor },
        );
        seen.push(...page.items.map((r) => r.id));
        cursor = page.nextCursor;
        // a run inserted while paging lands before the cursor and never shifts later pages
        if (seen.length === 77) await store.enqueueRuns([runDraft(app, { jobKey: 'even' })]);
      } while (cursor !== null);
      const expected = claimed
        .filter((r) => r.jobKey === 'even')
        .map((r) => r.id)
        .sort()
        .reverse();
      expect(seen).toEqual(expected);

      // prune by age: every finished run is older than "now + 1 h"; batches of 400
      const later = (await store.now()) + 3_600_000;
      let deleted = 0;
      let calls = 0;
      for (;;) {
        const n = await store.prune({ app, finishedBefore: later, keepLast: 100, limit: 400 });
        expect(n).toBeLessThanOrEqual(400);
        calls++;
        if (n === 0) break;
        deleted += n;
      }
      expect(deleted).toBe(claimed.length - 100);
      expect(calls).toBe(Math.ceil((claimed.length - 100) / 400) + 1);
      // the newest 100 final runs and every pending run are left; logs of pruned runs are gone
      expect(await store.countRuns(app, ['succeeded', 'pending'])).toEqual({
        succeeded: 100,
        pending: RUNS - claimed.length + 1,
      });
      const logs = await target.query(`select count(*) as n from "${tableNames(prefix).runLogs}"`);
      expect(Number(logs[0]!.n)).toBe(100);
      expect(ids).toHaveLength(RUNS);
    }, 180_000);
  });
}

describe('clockOffsetMs (tests only)', () => {
  it('shifts the store clock and the due decisions made with it', async () => {
    const plain = createSqlStore({ dialect: 'sqlite', filename: ':memory:', migrate: true });
    const skewed = createSqlStore({
      dialect: 'sqlite',
      filename: ':memory:',
      migrate: true,
      clockOffsetMs: 3_600_000,
    });
    await plain.init();
    await skewed.init();
    const a = await plain.now();
    const b = await skewed.now();
    const c = await plain.now();
    expect(b).toBeGreaterThanOrEqual(a + 3_600_000);
    expect(b).toBeLessThanOrEqual(c + 3_600_000);
    const [run] = await skewed.enqueueRuns([runDraft('clock', { delayMs: 1_000 })]);
    expect(run!.run.dueAt).toBeGreaterThanOrEqual(b + 1_000);
    await plain.close();
    await skewed.close();
  });
});
