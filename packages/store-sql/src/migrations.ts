import { SchemaTooNewError, StoreError } from '@oasis/core';
import { type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { Db, SqlDialect } from './dialects/dialect';
import { ALL_JOBS_KEY, type TableNames } from './tables';

/**
 * The store's migrations, append-only: never edit or remove one once released, only add the next.
 * Each is a function of the dialect and table names, because names carry the user's prefix.
 */
function allMigrations(d: SqlDialect, t: TableNames, prefix: string): Record<string, Migration> {
  const { key, text, json, bigint, int, double } = d.types;
  // kysely's table builder with the MySQL engine/collation suffix where needed
  const create = (db: Db, name: string) => {
    const b = db.schema.createTable(name);
    return d.tableSuffix ? b.modifyEnd(d.tableSuffix) : b;
  };
  const index = (db: Db, table: string, name: string, columns: string[], unique = false) => {
    const b = db.schema.createIndex(`${prefix}${name}`).on(table).columns(columns);
    return (unique ? b.unique() : b).execute();
  };

  return {
    '0001_initial': {
      async up(db: Db) {
        await create(db, t.jobs)
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('job_key', key(200), (c) => c.notNull())
          .addColumn('handler', key(200), (c) => c.notNull())
          .addColumn('schedule', text, (c) => c.notNull())
          .addColumn('params', json, (c) => c.notNull())
          .addColumn('enabled', int, (c) => c.notNull())
          .addColumn('routing', text, (c) => c.notNull())
          .addColumn('block', key(16), (c) => c.notNull())
          .addColumn('misfire', key(16), (c) => c.notNull())
          .addColumn('retry', text, (c) => c.notNull())
          .addColumn('timeout_ms', bigint)
          .addColumn('shards', int, (c) => c.notNull())
          .addColumn('priority', int, (c) => c.notNull())
          .addColumn('owner', text)
          .addColumn('alert_contacts', json, (c) => c.notNull())
          .addColumn('tags', json, (c) => c.notNull())
          .addColumn('description', text)
          .addColumn('source', key(16), (c) => c.notNull())
          .addColumn('partition_no', int, (c) => c.notNull())
          .addColumn('next_fire_at', bigint)
          .addColumn('last_fire_at', bigint)
          .addColumn('version', bigint, (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint(`${prefix}jobs_pk`, ['app', 'job_key'])
          .execute();
        // due jobs per partition
        await index(db, t.jobs, 'jobs_due', ['app', 'enabled', 'partition_no', 'next_fire_at']);

        await create(db, t.jobTags)
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('job_key', key(200), (c) => c.notNull())
          .addColumn('tag', key(64), (c) => c.notNull())
          .addPrimaryKeyConstraint(`${prefix}job_tags_pk`, ['app', 'job_key', 'tag'])
          .execute();
        await index(db, t.jobTags, 'job_tags_tag', ['app', 'tag']);

        const id =
          d.name === 'sqlite'
            ? (b: ReturnType<typeof create>) =>
                b.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
            : d.name === 'postgres'
              ? (b: ReturnType<typeof create>) => b.addColumn('id', 'bigserial', (c) => c.primaryKey())
              : (b: ReturnType<typeof create>) =>
                  b.addColumn('id', 'bigint', (c) => c.primaryKey().autoIncrement());

        await id(create(db, t.runs))
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('job_key', key(200))
          .addColumn('handler', key(200), (c) => c.notNull())
          .addColumn('params', json, (c) => c.notNull())
          .addColumn('trig', key(16), (c) => c.notNull())
          .addColumn('scheduled_for', bigint, (c) => c.notNull())
          .addColumn('due_at', bigint, (c) => c.notNull())
          .addColumn('attempt', int, (c) => c.notNull())
          .addColumn('retry', text, (c) => c.notNull())
          .addColumn('timeout_ms', bigint)
          .addColumn('shard_index', int, (c) => c.notNull())
          .addColumn('shard_total', int, (c) => c.notNull())
          .addColumn('priority', int, (c) => c.notNull())
          .addColumn('block', key(16), (c) => c.notNull())
          .addColumn('routing', key(32), (c) => c.notNull())
          .addColumn('target_node', key(200))
          .addColumn('owner_node', key(200))
          .addColumn('owner_incarnation', bigint)
          .addColumn('lease_expires_at', bigint)
          .addColumn('state', key(16), (c) => c.notNull())
          .addColumn('reason', text)
          .addColumn('cancel_requested', int, (c) => c.notNull())
          .addColumn('progress', double)
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('started_at', bigint)
          .addColumn('finished_at', bigint)
          .addColumn('duration_ms', bigint)
          .addColumn('result', json)
          .addColumn('error', json)
          .addColumn('idempotency_key', key(255))
          .addColumn('parent_run_id', bigint)
          .addColumn('log_lines', int, (c) => c.notNull().defaultTo(0))
          // the per-job "running" guard: at most one running non-parallel run per job, enforced by
          // a unique index, so no interleaving of claimers can start two runs of a serial job
          .addColumn('serial_guard', key(200), (c) =>
            c
              .generatedAlwaysAs(
                sql`case when ${sql.ref('state')} = 'running' and ${sql.ref('block')} <> 'parallel' then ${sql.ref('job_key')} end`,
              )
              .stored(),
          )
          .execute();
        await index(db, t.runs, 'runs_idempotency', ['app', 'idempotency_key'], true);
        await index(db, t.runs, 'runs_serial_guard', ['app', 'serial_guard'], true);
        // claimable runs
        await index(db, t.runs, 'runs_claim', ['app', 'state', 'due_at', 'priority']);
        // runs of a job by time (ids rise with time), and block-strategy checks
        await index(db, t.runs, 'runs_job_time', ['app', 'job_key', 'created_at']);
        await index(db, t.runs, 'runs_job_state', ['app', 'job_key', 'state']);
        // runs by state and time
        await index(db, t.runs, 'runs_state_time', ['app', 'state', 'created_at']);
        // runs of a node (reaping, the node filter)
        await index(db, t.runs, 'runs_owner', ['app', 'owner_node', 'state']);
        // retention
        await index(db, t.runs, 'runs_finished', ['state', 'finished_at']);
        await index(db, t.runs, 'runs_parent', ['parent_run_id']);

        await create(db, t.runLogs)
          .addColumn('run_id', bigint, (c) => c.notNull())
          .addColumn('seq', int, (c) => c.notNull())
          .addColumn('level', key(8), (c) => c.notNull())
          .addColumn('message', text, (c) => c.notNull())
          .addColumn('fields', json)
          .addColumn('ts', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint(`${prefix}run_logs_pk`, ['run_id', 'seq'])
          .execute();

        await create(db, t.nodes)
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('node_id', key(200), (c) => c.notNull())
          .addColumn('host', text, (c) => c.notNull())
          .addColumn('pid', bigint, (c) => c.notNull())
          .addColumn('version', text, (c) => c.notNull())
          .addColumn('handlers', json, (c) => c.notNull())
          .addColumn('weight', double, (c) => c.notNull())
          .addColumn('concurrency', int, (c) => c.notNull())
          .addColumn('incarnation', bigint, (c) => c.notNull())
          .addColumn('state', key(16), (c) => c.notNull())
          .addColumn('desired_state', key(16))
          .addColumn('running', int, (c) => c.notNull())
          .addColumn('joined_at', bigint, (c) => c.notNull())
          .addColumn('last_heartbeat_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint(`${prefix}nodes_pk`, ['app', 'node_id'])
          .execute();

        await create(db, t.nodeSeq)
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('node_id', key(200), (c) => c.notNull())
          .addColumn('incarnation', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint(`${prefix}node_seq_pk`, ['app', 'node_id'])
          .execute();

        // per-app singletons: the leader lease and the partition map
        await create(db, t.apps)
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('leader_node', key(200))
          .addColumn('leader_incarnation', bigint)
          .addColumn('leader_epoch', bigint, (c) => c.notNull())
          .addColumn('leader_expires_at', bigint)
          .addColumn('map_generation', bigint, (c) => c.notNull())
          .addColumn('map_epoch', bigint, (c) => c.notNull())
          .addColumn('map_assignments', json, (c) => c.notNull())
          .addPrimaryKeyConstraint(`${prefix}apps_pk`, ['app'])
          .execute();

        const auditId =
          d.name === 'sqlite'
            ? create(db, t.audit).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
            : d.name === 'postgres'
              ? create(db, t.audit).addColumn('id', 'bigserial', (c) => c.primaryKey())
              : create(db, t.audit).addColumn('id', 'bigint', (c) => c.primaryKey().autoIncrement());
        await auditId
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('actor', key(200), (c) => c.notNull())
          .addColumn('action', key(200), (c) => c.notNull())
          .addColumn('target_type', key(16), (c) => c.notNull())
          .addColumn('target_id', key(255), (c) => c.notNull())
          .addColumn('before_json', json, (c) => c.notNull())
          .addColumn('after_json', json, (c) => c.notNull())
          .addColumn('at', bigint, (c) => c.notNull())
          .execute();
        await index(db, t.audit, 'audit_app', ['app', 'id']);

        await create(db, t.stats)
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('job_key', key(200), (c) => c.notNull())
          .addColumn('hour', bigint, (c) => c.notNull())
          .addColumn('succeeded', bigint, (c) => c.notNull())
          .addColumn('failed', bigint, (c) => c.notNull())
          .addColumn('dead', bigint, (c) => c.notNull())
          .addColumn('timed_out', bigint, (c) => c.notNull())
          .addColumn('cancelled', bigint, (c) => c.notNull())
          .addColumn('lost', bigint, (c) => c.notNull())
          .addColumn('skipped', bigint, (c) => c.notNull())
          .addColumn('total_duration_ms', bigint, (c) => c.notNull())
          .addColumn('max_duration_ms', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint(`${prefix}stats_pk`, ['app', 'job_key', 'hour'])
          .execute();
        await index(db, t.stats, 'stats_hour', ['hour']);
      },
    },
    // per-job lock rows: concurrent enqueues of a skip/replace job serialize on them even when
    // the job has no row (one-off runs that name a job key, a job deleted meanwhile)
    '0002_job_locks': {
      async up(db: Db) {
        await create(db, t.jobLocks)
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('job_key', key(200), (c) => c.notNull())
          .addPrimaryKeyConstraint(`${prefix}job_locks_pk`, ['app', 'job_key'])
          .execute();
      },
    },
    // SQLite only: a short event log that other processes poll (cheaply, on `PRAGMA data_version`)
    // for wake-ups; the server databases have LISTEN/NOTIFY or nothing
    '0003_sqlite_events': {
      async up(db: Db) {
        if (d.name !== 'sqlite') return;
        await create(db, t.events)
          .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('type', key(8), (c) => c.notNull())
          .addColumn('app', key(64), (c) => c.notNull())
          .addColumn('source', key(64), (c) => c.notNull())
          .addColumn('at', bigint, (c) => c.notNull())
          .execute();
      },
    },
    // a counter per app that every membership change bumps in its own transaction (register,
    // leave, reap, remove, desired state), so heartbeats tell the leader when to rebalance
    '0004_membership_version': {
      async up(db: Db) {
        await db.schema
          .alterTable(t.apps)
          .addColumn('membership_version', bigint, (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    // claims read pending runs in claim order (priority high first, then due, then id): an index in
    // that order lets a claim stop after its window instead of sorting every due pending run
    // (MariaDB before 10.8 ignores DESC and sorts; runs_claim stays for nextWakeAt's min(due_at))
    '0005_runs_claim_order': {
      async up(db: Db) {
        await db.schema
          .createIndex(`${prefix}runs_claim_order`)
          .on(t.runs)
          .columns(['app', 'state', 'priority desc', 'due_at', 'id'])
          .execute();
      },
    },
    // per app and hour, the totals over every job (job key ALL_JOBS_KEY, written by the same
    // upsert as the per-job buckets), so the dashboard's 24 h trend reads 24 rows, not one per
    // job and hour; the existing buckets are summed into them here. (app, hour) serves the
    // per-job buckets of one app over a time range (the old index is by hour alone, all apps).
    '0006_stats_app_totals': {
      async up(db: Db) {
        const s = sql.table(t.stats);
        await sql`insert into ${s} (app, job_key, hour, succeeded, failed, dead, timed_out, cancelled,
                                     lost, skipped, total_duration_ms, max_duration_ms)
                  select app, ${ALL_JOBS_KEY}, hour, sum(succeeded), sum(failed), sum(dead), sum(timed_out),
                         sum(cancelled), sum(lost), sum(skipped), sum(total_duration_ms), max(max_duration_ms)
                    from ${s}
                   where job_key <> ${ALL_JOBS_KEY}
                   group by app, hour`.execute(db);
        await index(db, t.stats, 'stats_app_hour', ['app', 'hour']);
      },
    },
    // the run listing filtered by job + states + time range reads its page's ids from this index
    // alone (PostgreSQL: an index-only scan, `id` included; SQLite and InnoDB secondary indexes
    // carry the row id / primary key already), instead of walking the primary key backwards
    // through every newer run; it also serves the block-strategy checks, whose index it replaces
    '0007_runs_job_state_time': {
      async up(db: Db) {
        const name = `${prefix}runs_job_state_time`;
        if (d.name === 'postgres') {
          await sql`create index ${sql.id(name)} on ${sql.table(t.runs)} (app, job_key, state, created_at) include (id)`.execute(
            db,
          );
        } else {
          await index(db, t.runs, 'runs_job_state_time', ['app', 'job_key', 'state', 'created_at']);
        }
        const drop = db.schema.dropIndex(`${prefix}runs_job_state`);
        await (d.name === 'mysql' ? drop.on(t.runs) : drop).execute();
      },
    },
    // SQLite only: partial run indexes, so a run's state change rewrites fewer index entries. Every
    // insert, update and delete goes through each index of the row in one thread, and the pages
    // it dirties are written to the WAL at commit; a claim and a completion each touched 7 of the
    // runs table's indexes. Now the claim indexes hold pending runs only (a claim deletes their
    // entry, a completion does not touch them), the serial guard only runs it guards, the
    // per-job index only runs of a job (a one-off task never enters it), the retention index
    // only finished runs and the node index only owned runs. Each query that filters on the
    // column implies the index's condition (`state = 'pending'`, `job_key = ?`, `finished_at <
    // ?`, `owner_node = ?`), so SQLite still picks them. The server databases keep theirs
    // (MariaDB has no partial indexes; PostgreSQL's listing figures were measured on these).
    '0008_sqlite_partial_run_indexes': {
      async up(db: Db) {
        if (d.name !== 'sqlite') return;
        const runs = sql.table(t.runs);
        const partial = async (name: string, columns: string, where: string, unique = false) => {
          await db.schema.dropIndex(`${prefix}${name}`).ifExists().execute();
          await sql`create ${sql.raw(unique ? 'unique ' : '')}index ${sql.id(`${prefix}${name}`)} on ${runs} (${sql.raw(columns)}) where ${sql.raw(where)}`.execute(
            db,
          );
        };
        await db.schema.dropIndex(`${prefix}runs_claim`).execute();
        await db.schema.dropIndex(`${prefix}runs_claim_order`).execute();
        // nextWakeAt's min(due_at) and the claim's order
        await partial('runs_pending_due', 'app, due_at', "state = 'pending'");
        await partial('runs_pending_order', 'app, priority desc, due_at, id', "state = 'pending'");
        await partial('runs_serial_guard', 'app, serial_guard', 'serial_guard is not null', true);
        await partial('runs_job_state_time', 'app, job_key, state, created_at', 'job_key is not null');
        await partial('runs_finished', 'state, finished_at', 'finished_at is not null');
        await partial('runs_owner', 'app, owner_node, state', 'owner_node is not null');
      },
    },
  };
}

/** The migrations' names, oldest first. */
export function knownMigrations(d: SqlDialect, t: TableNames, prefix: string): string[] {
  return Object.keys(allMigrations(d, t, prefix)).sort();
}

/** The migration names recorded in the database, oldest first; [] when none ran yet. */
export async function appliedMigrations(db: Db, t: TableNames): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((x) => x.name === t.migrations)) return [];
  const rows = await db.selectFrom(t.migrations).select('name').orderBy('name').execute();
  return rows.map((r) => String(r.name));
}

/**
 * Throws `SchemaTooNewError` when the database holds a migration this version does not know
 * (a newer Oasis migrated it).
 */
export function refuseNewerSchema(applied: string[], known: string[]): void {
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new SchemaTooNewError(unknown[unknown.length - 1]!, known[known.length - 1] ?? '(none)');
  }
}

/** PostgreSQL's "relation does not exist" (42P01). */
function isUndefinedTable(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '42P01';
}

/**
 * Brings the schema up to date with kysely's Migrator on the store's own (prefixed) migration
 * tables. Refuses a schema newer than this version knows. Idempotent.
 */
export async function migrateToLatest(
  db: Db,
  d: SqlDialect,
  t: TableNames,
  prefix: string,
): Promise<string[]> {
  const migrations = allMigrations(d, t, prefix);
  const known = Object.keys(migrations).sort();
  refuseNewerSchema(await appliedMigrations(db, t), known);
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: t.migrations,
    migrationLockTableName: t.migrationLock,
  });
  let { error, results } = await migrator.migrateToLatest();
  // kysely's Migrator looks for its tables through the dialect's introspector, which lists every
  // table of the schema and fails (42P01) when another client drops one of them meanwhile. Nothing
  // of ours ran then (no result), so looking again is safe.
  for (let attempt = 1; error && results === undefined && isUndefinedTable(error) && attempt < 5; attempt++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new StoreError(
      `migration ${failed ? `'${failed.migrationName}' ` : ''}failed on ${d.name}: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
