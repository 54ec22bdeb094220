import { resolve } from 'node:path';
import { CompiledQuery, Kysely, type SqliteDatabase, SqliteDialect, sql } from 'kysely';
import { CompiledOnce } from '../compiled-once';
import type { SqliteStoreOptions } from '../options';
import type { TableNames } from '../tables';
import type { Db, RunStatements, SqlDialect, StatsDelta, Trx } from './dialect';
import { acquireSharedMutex, type Mutex } from './mutex';
import { statsRow, statsUpsertQuery } from './shared';
import { SqliteRunStatements } from './sqlite-run-statements';

/** The transaction statements, compiled once (a transaction runs them on every store step). */
const BEGIN_IMMEDIATE = CompiledQuery.raw('BEGIN IMMEDIATE');
const COMMIT = CompiledQuery.raw('COMMIT');
const ROLLBACK = CompiledQuery.raw('ROLLBACK');

/** How many prepared statements a SQLite connection keeps (the least recently used go first). */
const STATEMENT_CACHE_SIZE = 200;

type Prepared = ReturnType<SqliteDatabase['prepare']> & { readonly busy?: boolean };

/**
 * better-sqlite3's `prepare` with a cache of the last `STATEMENT_CACHE_SIZE` statements by SQL
 * text. kysely's driver prepares every query it runs, and compiling a statement costs SQLite more
 * than running one of the store's hot statements; the store's texts repeat (values are bound), so
 * nearly every call is a hit. A statement still being iterated (a stream) is not handed out
 * twice: the caller gets a fresh one.
 */
function cachedPrepare(raw: { prepare(sql: string): Prepared }): (sql: string) => Prepared {
  const cache = new Map<string, Prepared>();
  return (text: string) => {
    const hit = cache.get(text);
    if (hit !== undefined) {
      if (hit.busy === true) return raw.prepare(text);
      // most recently used last
      cache.delete(text);
      cache.set(text, hit);
      return hit;
    }
    const statement = raw.prepare(text);
    cache.set(text, statement);
    if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    return statement;
  };
}

/**
 * SQLite through better-sqlite3. WAL, a busy timeout, `BEGIN IMMEDIATE` write transactions (so a
 * transaction never has to upgrade a read lock, which SQLite would refuse with SQLITE_BUSY), and a
 * process-wide mutex per database so stores of one process take turns instead of blocking the
 * event loop on each other's file lock. Wake-ups reach other processes through a short event
 * log that each subscribed store reads when `PRAGMA data_version` says another connection
 * committed (a check of shared memory, no I/O).
 */
export class SqliteSqlDialect implements SqlDialect {
  readonly name = 'sqlite' as const;
  readonly capabilities;
  readonly eventLog: boolean;
  readonly returning = true;
  readonly rowLocks = false;
  readonly nowSql = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";
  readonly target: string;
  readonly tableSuffix = null;
  readonly types = {
    key: () => sql`text`,
    text: sql`text`,
    json: sql`text`,
    bigint: sql`integer`,
    int: sql`integer`,
    double: sql`real`,
  };

  readonly #options: SqliteStoreOptions;
  readonly #mutexKey: unknown;
  readonly #once = new CompiledOnce();
  #mutex: Mutex | null = null;
  #release: (() => void) | null = null;
  /** The connection's `prepare` (with the statement cache), once connected. */
  #prepare: ((sql: string) => Prepared) | null = null;

  /** Reads the connection options; connects in `connect()`. */
  constructor(options: SqliteStoreOptions) {
    this.#options = options;
    const filename = options.filename ?? ':memory:';
    const memory = options.database === undefined && (filename === ':memory:' || filename === '');
    const shared = !memory && options.database === undefined;
    // on a file, other processes hear wake-ups through the event log
    this.capabilities = { crossProcess: shared, notifications: shared, skipLocked: false };
    this.eventLog = shared;
    this.#mutexKey = options.database ?? (memory ? Symbol('memory') : resolve(filename));
    this.target = options.database
      ? 'sqlite:shared-connection'
      : `sqlite:${memory ? 'memory' : resolve(filename)}`;
  }

  /** Opens the database (or wraps the given one) and sets WAL, busy timeout and synchronous. */
  async connect(): Promise<Db> {
    const shared = acquireSharedMutex(this.#mutexKey);
    this.#mutex = shared.mutex;
    this.#release = shared.release;
    const busy = this.#options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busy) || busy < 0)
      throw new TypeError('busyTimeoutMs must be a non-negative integer');
    let database: SqliteDatabase;
    if (this.#options.database) {
      const raw = this.#options.database;
      raw.pragma(`busy_timeout = ${busy}`);
      // the owner closes a database it passed in
      this.#prepare = cachedPrepare(raw);
      database = { prepare: this.#prepare, close: () => undefined };
    } else {
      const mod = await import('better-sqlite3');
      const Database =
        (mod as { default?: typeof mod.default }).default ?? (mod as unknown as typeof mod.default);
      const raw = new Database(this.#options.filename ?? ':memory:');
      raw.pragma(`busy_timeout = ${busy}`);
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
      this.#prepare = cachedPrepare(raw);
      database = { prepare: this.#prepare, close: () => raw.close() };
    }
    return new Kysely({ dialect: new SqliteDialect({ database }) });
  }

  /** `BEGIN IMMEDIATE` … `COMMIT`, one at a time per database in this process. */
  transaction<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.exclusive(() =>
      db.connection().execute(async (conn) => {
        await conn.executeQuery(BEGIN_IMMEDIATE);
        try {
          const result = await fn(conn);
          await conn.executeQuery(COMMIT);
          return result;
        } catch (err) {
          await conn.executeQuery(ROLLBACK).catch(() => undefined);
          throw err;
        }
      }),
    );
  }

  /** Runs `fn` while no other store of this process uses the same database. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#mutex ? this.#mutex.run(fn) : fn();
  }

  /** `PRAGMA data_version`: changes when another connection (another process) commits. */
  async dataVersion(db: Db): Promise<number> {
    const r = await sql<{ data_version: number }>`PRAGMA data_version`.execute(db);
    return Number(r.rows[0]?.data_version ?? 0);
  }

  /** `INSERT … ON CONFLICT (app, idempotency_key) DO NOTHING RETURNING id`. */
  async insertRun(trx: Trx, table: string, row: Record<string, unknown>): Promise<number | null> {
    const r = await trx
      .insertInto(table)
      .values(row)
      .onConflict((oc) => oc.columns(['app', 'idempotency_key']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return r ? Number(r.id) : null;
  }

  /** Nothing to do: a SQLite write transaction already excludes every other writer. */
  async lockKey(): Promise<void> {}

  /** `INSERT … ON CONFLICT DO NOTHING`. */
  async insertIgnore(trx: Trx, table: string, row: Record<string, unknown>): Promise<void> {
    await trx
      .insertInto(table)
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Upsert with `MAX(a, b)`, its text compiled once per table and number of buckets. */
  async upsertStats(trx: Trx, table: string, deltas: StatsDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const q = this.#once.query(
      `stats:${table}:${deltas.length}`,
      () => statsUpsertQuery(trx, table, deltas, 'MAX').compile(),
      deltas.flatMap((d) => Object.values(statsRow(d))),
    );
    await trx.executeQuery(q);
  }

  /** See `SqliteRunStatements`. */
  runStatements(t: TableNames): RunStatements {
    return new SqliteRunStatements(t, (text) => {
      if (!this.#prepare) throw new Error('the SQLite database is not open');
      return this.#prepare(text);
    });
  }

  /** Releases the shared mutex. */
  async close(): Promise<void> {
    this.#release?.();
    this.#release = null;
  }
}
