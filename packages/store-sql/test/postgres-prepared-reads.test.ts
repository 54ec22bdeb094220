/**
 * PostgreSQL's prepared hot reads (`getRun`, `getJob`, `listRuns` as named statements, option
 * `preparedReads`, default on): the same answers as plain statements, and still answers after
 * the table changed under a kept plan (PostgreSQL refuses such a plan with "cached plan must not
 * change result type"; the store prepares the text again).
 */
import { jobDraft, runDraft } from '@oasis/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqlStore } from '../src/index';
import { tableNames } from '../src/tables';
import { dropTables, PG_URL, serverAvailable, uniquePrefix } from './helpers';

const available = await serverAvailable('postgres', PG_URL);

// Skipped, with serverAvailable's loud notice, only when PostgreSQL is unreachable; under CI=true
// serverAvailable throws instead.
describe.skipIf(!available)('postgres prepared reads', () => {
  const prefix = uniquePrefix('pr');
  afterAll(() => dropTables('postgres', PG_URL, prefix));

  it('answer as plain statements do, and survive a column type change under a kept plan', async () => {
    const app = 'prepared';
    // one connection each, so every read after the first goes to the statement it prepared
    const prepared = createSqlStore({
      dialect: 'postgres',
      connectionString: PG_URL,
      tablePrefix: prefix,
      migrate: true,
      pool: { max: 1 },
    });
    const plain = createSqlStore({
      dialect: 'postgres',
      connectionString: PG_URL,
      tablePrefix: prefix,
      pool: { max: 1 },
      preparedReads: false,
    });
    try {
      await prepared.init();
      await plain.init();
      await prepared.saveJob(jobDraft(app, 'a'), null);
      const made = await prepared.enqueueRuns([
        runDraft(app, { jobKey: 'a' }),
        runDraft(app, { jobKey: 'a' }),
        runDraft(app, { jobKey: 'b' }),
      ]);
      const id = made[0]!.run.id;
      const reads = (s: typeof prepared) =>
        Promise.all([
          s.getRun(id),
          s.getJob(app, 'a'),
          s.listRuns({ app, jobKey: 'a', states: ['pending'] }, { limit: 1 }),
          s.listRuns({ app }, { limit: 2 }),
        ]);
      const expected = await reads(plain);
      expect(expected[0]?.id).toBe(id);
      expect(expected[2].items).toHaveLength(1);
      expect(expected[2].nextCursor).not.toBeNull();
      // more than five calls: PostgreSQL may then switch a statement to its generic plan
      for (let i = 0; i < 7; i++) expect(await reads(prepared)).toEqual(expected);

      // a column's type changes (a later migration could): a kept statement's result type is stale
      const pg = (await import('pg')).default;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        await admin.query(`alter table ${tableNames(prefix).runs} alter column reason type varchar(4000)`);
      } finally {
        await admin.end();
      }
      for (let i = 0; i < 2; i++) expect(await reads(prepared)).toEqual(expected);
    } finally {
      await prepared.close();
      await plain.close();
    }
  });
});
