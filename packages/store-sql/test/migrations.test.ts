/**
 * Migrations on each database: a fresh schema, idempotent re-runs, init without migrate, the
 * refusal of a schema newer than this version, and prefixes that keep installs apart.
 */
import { isOasisError, SchemaTooNewError, StoreError, ValidationError } from '@oasis/core';
import { jobDraft } from '@oasis/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqlStore } from '../src/index';
import { tableNames } from '../src/tables';
import { targets, undoPartialRunIndexes, uniquePrefix } from './helpers';

/** Every migration of this version, oldest first. */
const ALL = [
  '0001_initial',
  '0002_job_locks',
  '0003_sqlite_events',
  '0004_membership_version',
  '0005_runs_claim_order',
  '0006_stats_app_totals',
  '0007_runs_job_state_time',
  '0008_sqlite_partial_run_indexes',
];

const all = await targets();
afterAll(async () => {
  for (const t of all) await t.close();
});

for (const target of all) {
  // Skipped only when this target's server is unreachable: serverAvailable() warned loudly (and failed the run under CI=true).
  describe.skipIf(!target.available)(`migrations: ${target.label}`, () => {
    const prefixes: string[] = [];
    const fresh = () => {
      const p = uniquePrefix('m');
      prefixes.push(p);
      return p;
    };
    afterAll(async () => {
      for (const p of prefixes) await target.drop(p);
    });

    it('init without migrate refuses a missing schema and says to call migrate()', async () => {
      const store = createSqlStore(target.options(fresh()));
      try {
        const err = await store.init().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StoreError);
        expect((err as Error).message).toMatch(/migrate\(\)/);
        expect((err as Error).message).toMatch(/missing/);
      } finally {
        await store.close();
      }
    });

    it('migrate() creates the schema once; a second run applies nothing; init then works', async () => {
      const prefix = fresh();
      const store = createSqlStore(target.options(prefix));
      try {
        expect(await store.migrate()).toEqual(ALL);
        expect(await store.migrate()).toEqual([]);
        await store.init();
        const job = await store.saveJob(jobDraft('app1', 'k1'), null);
        expect(job.version).toBe(1);
        const rows = await target.query(`select name from "${tableNames(prefix).migrations}" order by name`);
        expect(rows.map((r) => r.name)).toEqual(ALL);
      } finally {
        await store.close();
      }
      // migrate: true on an up-to-date schema is a no-op
      const again = createSqlStore({ ...target.options(prefix), migrate: true });
      await again.init();
      expect((await again.getJob('app1', 'k1'))?.key).toBe('k1');
      await again.close();
    });

    it('init refuses a schema that is behind and names the missing migration; migrate() brings it up', async () => {
      const prefix = fresh();
      const setup = createSqlStore(target.options(prefix));
      await setup.migrate();
      await setup.close();
      // as if this database was migrated by the release before 0007 (and so before 0008)
      const names = tableNames(prefix);
      await undoPartialRunIndexes(target, prefix);
      await target.query(`delete from "${names.migrations}" where name = ?`, ['0007_runs_job_state_time']);
      const onRuns = target.label === 'mariadb' ? ` on "${names.runs}"` : '';
      await target.query(`drop index "${prefix}runs_job_state_time"${onRuns}`);
      await target.query(`create index "${prefix}runs_job_state" on "${names.runs}" (app, job_key, state)`);
      const store = createSqlStore(target.options(prefix));
      const err = await store.init().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(
        /behind \(missing 0007_runs_job_state_time, 0008_sqlite_partial_run_indexes\).*migrate\(\)/,
      );
      expect(await store.migrate()).toEqual(['0007_runs_job_state_time', '0008_sqlite_partial_run_indexes']);
      await store.init();
      await store.close();
    });

    it('refuses a schema migrated by a newer Oasis (SchemaTooNewError), in init and in migrate', async () => {
      const prefix = fresh();
      const setup = createSqlStore(target.options(prefix));
      await setup.migrate();
      await setup.close();
      await target.query(`insert into "${tableNames(prefix).migrations}" (name, timestamp) values (?, ?)`, [
        '9999_from_the_future',
        new Date().toISOString(),
      ]);
      for (const migrate of [false, true]) {
        const store = createSqlStore({ ...target.options(prefix), migrate });
        const err = await store.init().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SchemaTooNewError);
        expect(isOasisError(err, 'SCHEMA_TOO_NEW')).toBe(true);
        expect((err as Error).message).toContain('9999_from_the_future');
        await store.close();
      }
      const explicit = createSqlStore(target.options(prefix));
      await expect(explicit.migrate()).rejects.toBeInstanceOf(SchemaTooNewError);
      await explicit.close();
    });

    it('two prefixes in one database do not see each other', async () => {
      const a = createSqlStore({ ...target.options(fresh()), migrate: true });
      const b = createSqlStore({ ...target.options(fresh()), migrate: true });
      try {
        await a.init();
        await b.init();
        await a.saveJob(jobDraft('shared', 'only-in-a'), null);
        expect(await b.getJob('shared', 'only-in-a')).toBeNull();
        expect((await b.listJobs({ app: 'shared' })).items).toEqual([]);
        await b.saveJob(jobDraft('shared', 'only-in-a', { handler: 'other' }), null);
        expect((await a.getJob('shared', 'only-in-a'))?.handler).toBe('h');
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}

describe('table prefix', () => {
  it.each(['Oasis_', 'a-b', 'x; drop table y; --', '1abc', '', 'a'.repeat(32), 'oasis"_'])(
    'refuses %j with a ValidationError naming tablePrefix',
    (prefix) => {
      let err: unknown;
      try {
        createSqlStore({ dialect: 'sqlite', filename: ':memory:', tablePrefix: prefix });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe('tablePrefix');
    },
  );

  it('accepts the default and short lower-case prefixes', () => {
    for (const prefix of ['oasis_', '_', 'a', 'my_app_2_']) {
      expect(
        createSqlStore({ dialect: 'sqlite', filename: ':memory:', tablePrefix: prefix }).tablePrefix,
      ).toBe(prefix);
    }
    expect(createSqlStore({ dialect: 'sqlite', filename: ':memory:' }).tablePrefix).toBe('oasis_');
  });
});
