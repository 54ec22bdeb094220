import { CompiledQuery, Kysely, MysqlDialect, sql } from 'kysely';
import { defaultPoolSize, type MysqlStoreOptions } from '../options';
import type { Db, SqlDialect, StatsDelta, Trx } from './dialect';
import { STATS_COUNTERS, statsRow } from './shared';

/** MySQL/MariaDB duplicate-key error number. */
const ER_DUP_ENTRY = 1062;

/**
 * MySQL 8 / MariaDB 10.6+ through mysql2: a pool, `READ COMMITTED` transactions (so a locking
 * read and the plain reads after it see the same committed rows), `FOR UPDATE SKIP LOCKED`
 * claims, binary collation (keys compare byte-wise and case-sensitively), UTC sessions.
 * No `RETURNING`: ids come from `insertId`. No notifications.
 */
export class MysqlSqlDialect implements SqlDialect {
  readonly name = 'mysql' as const;
  readonly capabilities = { crossProcess: true, notifications: false, skipLocked: true };
  readonly eventLog = false;
  readonly returning = false;
  readonly rowLocks = true;
  readonly nowSql = 'CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)';
  readonly target: string;
  readonly tableSuffix = sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
  readonly types = {
    key: (n: number) => sql`varchar(${sql.raw(String(Math.trunc(n)))})`,
    text: sql`text`,
    json: sql`mediumtext`,
    bigint: sql`bigint`,
    int: sql`int`,
    double: sql`double`,
  };

  readonly #options: MysqlStoreOptions;

  /** Reads the connection options; connects in `connect()`. */
  constructor(options: MysqlStoreOptions) {
    this.#options = options;
    const p = options.pool ?? {};
    this.target = `mysql:${options.uri ?? `${p.host ?? ''}:${p.port ?? ''}/${p.database ?? ''}`}`;
  }

  /** Creates the pool; each new connection is set to UTC. */
  async connect(): Promise<Db> {
    const mod = await import('mysql2');
    const createPool = mod.createPool ?? (mod as unknown as { default: typeof mod }).default.createPool;
    const pool = createPool({
      ...(this.#options.uri ? { uri: this.#options.uri } : {}),
      connectionLimit: defaultPoolSize(),
      ...this.#options.pool,
      supportBigNumbers: true,
      dateStrings: true,
    });
    return new Kysely({
      dialect: new MysqlDialect({
        pool,
        onCreateConnection: async (conn) => {
          await conn.executeQuery(CompiledQuery.raw("SET time_zone = '+00:00'"));
          // every transaction of this pool is READ COMMITTED: set once per connection, so that a
          // transaction starts with one round trip (BEGIN) instead of two
          await conn.executeQuery(
            CompiledQuery.raw('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED'),
          );
        },
      }),
    });
  }

  /** A transaction from the pool: `READ COMMITTED`, the level every connection was set to. */
  transaction<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
    return db.transaction().execute(fn);
  }

  /** No serialization needed: the server does it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  /**
   * A plain insert; a duplicate idempotency key fails only this statement (MySQL rolls back the
   * statement, not the transaction), which is reported as null.
   */
  async insertRun(trx: Trx, table: string, row: Record<string, unknown>): Promise<number | null> {
    try {
      const r = await trx.insertInto(table).values(row).executeTakeFirst();
      return Number(r.insertId);
    } catch (err) {
      if ((err as { errno?: number }).errno === ER_DUP_ENTRY && row.idempotency_key != null) return null;
      throw err;
    }
  }

  /** `INSERT … ON DUPLICATE KEY UPDATE`: creates or row-locks the key in one statement. */
  async lockKey(trx: Trx, table: string, app: string, jobKey: string): Promise<void> {
    await trx
      .insertInto(table)
      .values({ app, job_key: jobKey })
      .onDuplicateKeyUpdate({ job_key: sql`VALUES(job_key)` })
      .execute();
  }

  /** `INSERT IGNORE`. */
  async insertIgnore(trx: Trx, table: string, row: Record<string, unknown>): Promise<void> {
    await trx.insertInto(table).values(row).ignore().execute();
  }

  /** `INSERT … ON DUPLICATE KEY UPDATE c = c + VALUES(c)`. */
  async upsertStats(trx: Trx, table: string, deltas: StatsDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const set: Record<string, unknown> = {};
    for (const c of STATS_COUNTERS) set[c] = sql`${sql.ref(c)} + VALUES(${sql.ref(c)})`;
    set.max_duration_ms = sql`GREATEST(max_duration_ms, VALUES(max_duration_ms))`;
    await trx.insertInto(table).values(deltas.map(statsRow)).onDuplicateKeyUpdate(set).execute();
  }

  /** Nothing beyond the pool, which kysely's `destroy()` ends. */
  async close(): Promise<void> {}
}
