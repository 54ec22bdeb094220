import type { ClaimRequest, RunState, StoreCapabilities } from '@oasis/core';
import type { Kysely, RawBuilder, Transaction } from 'kysely';
import type { Row } from '../rows';
import type { TableNames } from '../tables';

/** A kysely handle with tables named at run time (the prefix is chosen by the user). */
// biome-ignore lint/suspicious/noExplicitAny: table names carry a user-chosen prefix
export type Db = Kysely<any>;

/** A database connection inside one transaction of a store step. */
// biome-ignore lint/suspicious/noExplicitAny: see `Db`
export type Trx = Kysely<any> | Transaction<any>;

/** The column types a migration needs, spelled per database. */
export interface ColumnTypes {
  /** A short key (app, job key, node id, …) that can be indexed and compares byte-wise. */
  key(length: number): RawBuilder<unknown>;
  /** Free text up to a few KB. */
  text: RawBuilder<unknown>;
  /** JSON text up to `STORE_LIMITS.maxJsonBytes` and beyond (stored as text, read back literally). */
  json: RawBuilder<unknown>;
  /** 64-bit integers: times in ms, counters. */
  bigint: RawBuilder<unknown>;
  /** 32-bit integers and 0/1 flags. */
  int: RawBuilder<unknown>;
  /** Floating point. */
  double: RawBuilder<unknown>;
}

/** One hourly stats delta to add to its bucket. */
export interface StatsDelta {
  app: string;
  /** `''` stands for one-off tasks (no job): key columns cannot be null. */
  jobKey: string;
  hour: number;
  succeeded: number;
  failed: number;
  dead: number;
  timedOut: number;
  cancelled: number;
  lost: number;
  skipped: number;
  totalDurationMs: number;
  maxDurationMs: number;
}

/** How one run ends, for `RunStatements.endRuns`. */
export interface RunEnd {
  id: number;
  state: RunState;
  durationMs: number;
  /** JSON text. */
  result: string;
  /** JSON text, or null. */
  error: string | null;
}

/**
 * A database's own text for the statements of the claim and completion steps, run inside the
 * step's transaction in place of the generic kysely queries (same rows, same guarantees). See
 * `SqliteRunStatements`.
 */
export interface RunStatements {
  /**
   * Up to `window` due pending runs of the request's handlers, for this node or no node, in claim
   * order (priority high first, then due, then id), leaving out runs of non-parallel jobs that
   * have a run running: their `id`, `job_key` and `block`, enough to pick one run per serial job.
   */
  claimCandidates(trx: Trx, request: ClaimRequest, now: number, window: number): Promise<Row[]>;
  /** Starts these pending runs for the request's node (owner, incarnation, lease, start) and returns their rows, in no order. */
  claim(trx: Trx, ids: number[], request: ClaimRequest, now: number): Promise<Row[]>;
  /** The rows of these runs, each with its owner node's current incarnation (`n_incarnation`, null when none), in no order. */
  completionRows(trx: Trx, ids: number[]): Promise<Row[]>;
  /** Puts each run in its final state at `now`, with its duration, result and error; clears its lease. */
  endRuns(trx: Trx, ends: RunEnd[], now: number): Promise<void>;
}

/**
 * What differs between databases, and nothing else: how to connect, the clock expression, row
 * locks, a handful of statements (run insert with an idempotency conflict, stats upsert, insert
 * ignoring duplicates) and the column types. Everything else in the store is one shared
 * implementation over kysely.
 */
export interface SqlDialect {
  /** `sqlite`, `postgres` or `mysql`. */
  readonly name: 'sqlite' | 'postgres' | 'mysql';
  /** What a store over this dialect can do. */
  readonly capabilities: StoreCapabilities;
  /** True when rows can be locked (`FOR UPDATE`); false for SQLite, where a write transaction locks the whole file. */
  readonly rowLocks: boolean;
  /**
   * True when wake-ups for other processes go through the event log table, polled on a cheap
   * change counter (`PRAGMA data_version`): SQLite on a file.
   */
  readonly eventLog: boolean;
  /** Reads a number that changes whenever another connection commits (only with `eventLog`). */
  dataVersion?(db: Db): Promise<number>;
  /** True when `INSERT … RETURNING` exists; else ids come from the driver's insert id. */
  readonly returning: boolean;
  /** Column types for the migrations. */
  readonly types: ColumnTypes;
  /** A key identifying the database (for the in-process event hub). */
  readonly target: string;

  /** Opens the connection(s) and returns the kysely handle. */
  connect(): Promise<Db>;
  /** The SQL expression of the database clock in integer ms since the epoch (a constant, no values). */
  readonly nowSql: string;
  /**
   * Runs `fn` in one write transaction: `BEGIN IMMEDIATE` on SQLite, `READ COMMITTED` on the
   * servers. Commits when `fn` resolves, rolls back when it throws.
   */
  transaction<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T>;
  /** Runs a read outside a transaction (SQLite: in turn with the other stores of this process). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Runs a read outside a transaction as a prepared statement that the database keeps per
   * connection (PostgreSQL: a named statement, parsed and planned once per pooled connection,
   * not on every call), and returns its rows. Only for the store's hot reads, whose statement
   * texts come in a small, fixed set of shapes and name their columns (no `*`). Absent when the
   * dialect has no such statements, or when they are turned off: the store then runs the query
   * through kysely.
   */
  readPrepared?(sql: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** Sends wake-ups to other processes in the transaction (delivered on commit); absent when unsupported. */
  notify?(trx: Trx, channel: string, payloads: string[]): Promise<void>;
  /**
   * Listens to `channel` on a dedicated connection that reconnects by itself (then calls
   * `onReconnect`: notifications sent meanwhile are lost); resolves once listening and returns
   * the function that stops it. Absent when unsupported.
   */
  listen?(
    channel: string,
    onPayload: (payload: string) => void,
    onReconnect: () => void,
  ): Promise<() => Promise<void>>;
  /**
   * Inserts one run row; returns its id, or null when a run with the same `(app, idempotency_key)`
   * exists (nothing inserted, the transaction still usable).
   */
  insertRun(trx: Trx, table: string, row: Record<string, unknown>): Promise<number | null>;
  /**
   * Takes the row lock of `(app, job_key)` in `table` until the transaction ends, creating the
   * row if needed, in one statement. Not called on SQLite (its write transaction is exclusive).
   */
  lockKey(trx: Trx, table: string, app: string, jobKey: string): Promise<void>;
  /** Inserts one row unless a row with the same primary/unique key exists. */
  insertIgnore(trx: Trx, table: string, row: Record<string, unknown>): Promise<void>;
  /** Adds the deltas to their hourly buckets (creating them), in one statement. */
  upsertStats(trx: Trx, table: string, deltas: StatsDelta[]): Promise<void>;
  /**
   * `upsertStats` and `notify` in one statement (one round trip less while the hot stats rows are
   * locked); absent when the database cannot combine them.
   */
  upsertStatsAndNotify?(
    trx: Trx,
    table: string,
    deltas: StatsDelta[],
    channel: string,
    payloads: string[],
  ): Promise<void>;
  /** The claim and completion statements in this database's own text; absent: the generic kysely queries. */
  runStatements?(t: TableNames): RunStatements;
  /** DDL suffix for `CREATE TABLE` (MySQL: engine and a binary collation), or null. */
  readonly tableSuffix: RawBuilder<unknown> | null;
  /** Releases what `connect` opened (the handle's `destroy()` is called by the store first). */
  close(): Promise<void>;
}
