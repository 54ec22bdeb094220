import { availableParallelism } from 'node:os';
import { ValidationError } from '@oasis/core';
import type { Database as BetterSqliteDatabase } from 'better-sqlite3';
import type { PoolConfig as PgPoolConfig } from 'pg';

/** Options every dialect shares. */
export interface SqlStoreCommonOptions {
  /**
   * Prefix of every table, index and notification channel this store owns (default `oasis_`).
   * Must match `/^[a-z_][a-z0-9_]{0,30}$/`; lets several Oasis installs (or test runs) share a
   * database without touching each other.
   */
  tablePrefix?: string;
  /**
   * Run the migrations in `init()` (default false). When false, `init()` only checks the schema
   * and throws a `StoreError` telling to call `migrate()` when it is missing or behind.
   */
  migrate?: boolean;
  /** Log lines kept per run (default `STORE_LIMITS.maxLogLinesPerRun`). */
  maxLogLinesPerRun?: number;
  /**
   * For tests only: shifts the store's clock by this many ms (default 0). Never set it in
   * production: every node sharing the database must see the same clock.
   */
  clockOffsetMs?: number;
}

/** SQLite through better-sqlite3: the embedded default. */
export interface SqliteStoreOptions extends SqlStoreCommonOptions {
  dialect: 'sqlite';
  /**
   * The database file, or `:memory:` (one process, one store, unless `database` is shared).
   * Several processes may share one file: the store uses WAL, a busy timeout and write
   * transactions that take the lock up front.
   */
  filename?: string;
  /**
   * An open better-sqlite3 database to use instead of `filename`. The store does not close it:
   * its owner does. Lets several stores share one `:memory:` database in one process.
   */
  database?: BetterSqliteDatabase;
  /** How long a writer waits for another process's write lock, ms (default 5000). */
  busyTimeoutMs?: number;
  /**
   * While someone is subscribed: how often to check whether another process committed
   * (`PRAGMA data_version`, no I/O) and read its wake-ups from the event log, ms (default 100).
   */
  notifyPollMs?: number;
}

/** PostgreSQL through pg: a pool, `SKIP LOCKED` claims, `LISTEN/NOTIFY` wake-ups. */
export interface PostgresStoreOptions extends SqlStoreCommonOptions {
  dialect: 'postgres';
  /** e.g. `postgres://user:pass@host:5432/db`. */
  connectionString?: string;
  /** pg pool settings (merged over `connectionString`); default `max` is `defaultPoolSize()`. */
  pool?: PgPoolConfig;
  /**
   * Run the hot reads (`getRun`, `getJob`, `listRuns`) as named prepared statements, which each
   * pooled connection parses and plans once instead of on every call (default true). Turn it off
   * behind a pooler that cannot carry prepared statements across its server connections (for
   * example PgBouncer in transaction mode before 1.21).
   */
  preparedReads?: boolean;
}

/** MySQL 8 / MariaDB 10.6+ through mysql2: a pool and `SKIP LOCKED` claims; no notifications. */
export interface MysqlStoreOptions extends SqlStoreCommonOptions {
  dialect: 'mysql';
  /** e.g. `mysql://user:pass@host:3306/db`. */
  uri?: string;
  /**
   * mysql2 pool settings (merged over `uri`): host, port, user, password, database, connectionLimit…
   * (default `connectionLimit` is `defaultPoolSize()`).
   */
  pool?: MysqlPoolSettings;
}

/** The mysql2 pool settings the store passes through (a subset of mysql2's `PoolOptions`). */
export interface MysqlPoolSettings {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  socketPath?: string;
  /** Default 10. */
  connectionLimit?: number;
  connectTimeout?: number;
  ssl?: string | Record<string, unknown>;
}

/** Options of `createSqlStore`: one dialect and its connection, plus the common options. */
export type SqlStoreOptions = SqliteStoreOptions | PostgresStoreOptions | MysqlStoreOptions;

/** The default table prefix. */
export const DEFAULT_TABLE_PREFIX = 'oasis_';

const PREFIX = /^[a-z_][a-z0-9_]{0,30}$/;

/** Returns the prefix when valid; throws `ValidationError` (field `tablePrefix`) otherwise. */
export function checkTablePrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) {
    throw new ValidationError(
      'tablePrefix',
      'pattern',
      `must match ${PREFIX} (lower-case letters, digits and _, at most 31 characters), got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

/**
 * The default number of pooled connections per store on PostgreSQL and MySQL: twice this host's
 * cores plus one, at most 10 (pg's and mysql2's own default). The engine needs only a few at a
 * time; more busy connections than the database has cores make each query cost more, not less
 * (on a 2-core host running PostgreSQL, 10 busy connections spent 1.6–2× the CPU per query of
 * four, see ADR 0009). Every instance of an app has its own pool, so a small one also keeps the
 * database's connection count down as the app scales out. Set `pool.max` / `pool.connectionLimit`
 * to override.
 */
export function defaultPoolSize(cores: number = availableParallelism()): number {
  return Math.max(1, Math.min(10, 2 * Math.floor(cores) + 1));
}
