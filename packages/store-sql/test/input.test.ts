/**
 * Hostile input through the store, on each database: injection-shaped strings, LIKE wildcards,
 * quotes of every dialect and case variants are stored and matched literally, never executed.
 */
import { jobDraft, runDraft } from '@oasis/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqlStore, type SqlStore } from '../src/index';
import { tableNames } from '../src/tables';
import { targets, uniquePrefix } from './helpers';

const all = await targets();
afterAll(async () => {
  for (const t of all) await t.close();
});

const HOSTILE = [
  "x'; DROP TABLE jobs; --",
  'x"; DROP TABLE "jobs"; --',
  'x`; DROP TABLE `jobs`; --',
  "\\'; select 1; -- \\",
  '$1 $$ $tag$ ? :name @v',
  'ünïcødé ✓ 日本 🚀',
];

for (const target of all) {
  // Skipped only when this target's server is unreachable: serverAvailable() warned loudly (and failed the run under CI=true).
  describe.skipIf(!target.available)(`input is data: ${target.label}`, () => {
    const prefix = uniquePrefix('i');
    let store: SqlStore;
    beforeAll(async () => {
      store = createSqlStore({ ...target.options(prefix), migrate: true });
      await store.init();
    });
    afterAll(async () => {
      await store.close();
      await target.drop(prefix);
    });

    it('injection-shaped keys, handlers, tags and params round-trip literally; the tables survive', async () => {
      const app = 'inj';
      for (const [i, s] of HOSTILE.entries()) {
        await store.saveJob(
          jobDraft(app, `${s}#${i}`, { handler: s, tags: [s], description: s, params: { s, nested: [s] } }),
          null,
        );
        const job = await store.getJob(app, `${s}#${i}`);
        expect(job?.handler).toBe(s);
        expect(job?.tags).toEqual([s]);
        expect(job?.params).toEqual({ s, nested: [s] });
        expect((await store.listJobs({ app, tag: s })).items.map((j) => j.key)).toEqual([`${s}#${i}`]);
        const [run] = await store.enqueueRuns([
          runDraft(app, { jobKey: `${s}#${i}`, idempotencyKey: s, handler: s }),
        ]);
        expect((await store.listRuns({ app, jobKey: `${s}#${i}` })).items.map((r) => r.id)).toEqual([
          run!.run.id,
        ]);
        expect((await store.getRun(run!.run.id))?.idempotencyKey).toBe(s);
      }
      expect((await store.listJobs({ app }, { limit: 100 })).items).toHaveLength(HOSTILE.length);
      const rows = await target.query(`select count(*) as n from "${tableNames(prefix).jobs}"`);
      expect(Number(rows[0]!.n)).toBe(HOSTILE.length);
    });

    it('free text keeps NUL, U+FFFF and every control character (PostgreSQL text cannot hold NUL)', async () => {
      const app = 'nul';
      const text = 'a\u0000b\uffffc\uffff0d\u0000\u0000\t\n\u001f\u007f end';
      const job = await store.saveJob(jobDraft(app, 'j', { description: text, owner: text }), null);
      expect(job.description).toBe(text);
      expect((await store.getJob(app, 'j'))?.owner).toBe(text);
      expect((await store.listJobs({ app, search: 'end' })).items.map((j) => j.description)).toEqual([text]);
      const [queued] = await store.enqueueRuns([runDraft(app)]);
      await store.appendLogs([
        { runId: queued!.run.id, level: 'info', message: text, fields: { text }, ts: 1 },
        { runId: queued!.run.id, level: 'info', message: 'plain \uffff', fields: null, ts: 2 },
      ]);
      const lines = await store.readLogs(queued!.run.id, 0, 10);
      expect(lines.map((l) => l.message)).toEqual([text, 'plain \uffff']);
      expect(lines[0]!.fields).toEqual({ text });
      expect((await store.cancelRun(queued!.run.id, text)).reason).toBe(text);
      expect((await store.getRun(queued!.run.id))?.reason).toBe(text);
    });

    it('search treats %, _ and ! as plain characters', async () => {
      const app = 'like';
      for (const key of ['a%b', 'axb', 'a_b', 'a!b', 'plain']) await store.saveJob(jobDraft(app, key), null);
      const search = async (s: string) => (await store.listJobs({ app, search: s })).items.map((j) => j.key);
      expect(await search('%')).toEqual(['a%b']);
      expect(await search('_')).toEqual(['a_b']);
      expect(await search('!')).toEqual(['a!b']);
      expect(await search('A%B')).toEqual(['a%b']);
      expect(await search("' or '1'='1")).toEqual([]);
    });

    it('keys differing only in case are different jobs (byte-wise keys on every database)', async () => {
      const app = 'case';
      await store.saveJob(jobDraft(app, 'Job'), null);
      await store.saveJob(jobDraft(app, 'job'), null);
      expect((await store.listJobs({ app })).items.map((j) => j.key)).toEqual(['Job', 'job']);
      expect((await store.listRuns({ app, jobKey: 'JOB' })).items).toEqual([]);
      const [a] = await store.enqueueRuns([runDraft(app, { idempotencyKey: 'K' })]);
      const [b] = await store.enqueueRuns([runDraft(app, { idempotencyKey: 'k' })]);
      expect(a!.created && b!.created).toBe(true);
    });

    it('ids that are not ids match nothing instead of failing', async () => {
      for (const id of ['1 or 1=1', "1'; drop table x; --", '-1', '1e3', '']) {
        expect(await store.getRun(id)).toBeNull();
        expect(await store.readLogs(id, 0, 10)).toEqual([]);
      }
      await expect(store.cancelRun('1 or 1=1', 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });
}
