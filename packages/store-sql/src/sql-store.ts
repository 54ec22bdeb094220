import { randomUUID } from 'node:crypto';
import {
  type AuditDraft,
  type AuditFilter,
  type AuditRecord,
  addStatsCounts,
  type ClaimRequest,
  type CompleteRequest,
  type CompleteResult,
  type CompleteRunsItem,
  ConflictError,
  type EnqueueResult,
  FencedError,
  type FireRequest,
  type FireResult,
  type HeartbeatRequest,
  type HeartbeatResult,
  type JobDraft,
  type JobFilter,
  type JobRecord,
  type LeaderLease,
  lostRunRetries,
  type NodeInfo,
  type NodeRecord,
  NotFoundError,
  type Page,
  type PageRequest,
  type PartitionMap,
  type PruneRequest,
  type ReapRequest,
  type ReapResult,
  type RetargetRequest,
  type RunDraft,
  type RunFilter,
  type RunLogDraft,
  type RunLogLine,
  type RunRecord,
  type RunState,
  type RunView,
  STORE_LIMITS,
  type StatsBucket,
  type Store,
  type StoreCapabilities,
  StoreClosedError,
  StoreError,
  type StoreEvent,
} from '@oasis/core';
import { type Compilable, CompiledQuery, type RawBuilder, sql } from 'kysely';
import { CompiledOnce } from './compiled-once';
import type { Db, RunStatements, SqlDialect, StatsDelta, Trx } from './dialects/dialect';
import { MysqlSqlDialect } from './dialects/mysql';
import { PostgresSqlDialect } from './dialects/postgres';
import { SqliteSqlDialect } from './dialects/sqlite';
import { isRetryableConflict, isUniqueViolation, isViolationOf, toOasisError } from './map-error';
import { appliedMigrations, knownMigrations, migrateToLatest, refuseNewerSchema } from './migrations';
import { checkTablePrefix, DEFAULT_TABLE_PREFIX, type SqlStoreOptions } from './options';
import {
  decodeCursor,
  decText,
  encodeCursor,
  encText,
  formatId,
  JOB_COLUMNS,
  jobColumns,
  num,
  parseId,
  type Row,
  RUN_COLUMNS,
  RUN_SUMMARY_COLUMNS,
  runColumns,
  toAudit,
  toBucket,
  toJob,
  toJson,
  toLease,
  toNode,
  toRun,
} from './rows';
import { ALL_JOBS_KEY, type TableNames, tableNames } from './tables';

/** Identifies this process in NOTIFY payloads, so a process does not deliver its own events twice. */
const PROCESS_ID = randomUUID();

const FINAL_STATES: RunState[] = ['succeeded', 'failed', 'dead', 'timed_out', 'cancelled', 'lost', 'skipped'];
const HOUR_MS = 3_600_000;

/** Copies `started_at` and `lease_expires_at` of the restamped `rows` onto the claimed `serial` rows. */
function applyStamps(serial: Row[], rows: Row[]): void {
  const byId = new Map(rows.map((r) => [String(r.id), r]));
  for (const r of serial) {
    const fixed = byId.get(String(r.id));
    if (fixed === undefined) continue;
    r.started_at = fixed.started_at;
    r.lease_expires_at = fixed.lease_expires_at;
  }
}

const DEFAULT_PAGE = 50;

/** At most this many hot-read statement shapes are kept per store (`#readRows`); others are built each time. */
const MAX_READ_SHAPES = 256;
/** Rows per multi-row insert or `IN (…)` list. */
const CHUNK = 500;

type Listener = (event: StoreEvent) => void;

/** In-process listeners per database + prefix, so every store of this process hears the others. */
const hubs = new Map<string, Map<string, Set<Listener>>>();

function deliver(listeners: Iterable<Listener> | undefined, event: StoreEvent): void {
  if (!listeners) return;
  const list = [...listeners];
  if (list.length === 0) return;
  queueMicrotask(() => {
    for (const listener of list) {
      try {
        listener({ ...event });
      } catch {
        // a throwing listener cannot break the store
      }
    }
  });
}

/** One store step's transaction: its connection, the store time it runs at, and what to do on commit. */
interface Ctx {
  trx: Trx;
  now: number;
  events: Map<string, StoreEvent>;
  stats: Map<string, StatsDelta>;
}

const STAT_FIELD: Partial<Record<RunState, keyof StatsDelta>> = {
  succeeded: 'succeeded',
  failed: 'failed',
  dead: 'dead',
  timed_out: 'timedOut',
  cancelled: 'cancelled',
  lost: 'lost',
  skipped: 'skipped',
};

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The runs a claim takes from its candidates, in their (claim) order: up to `limit`, and of a
 * non-parallel job only its first.
 */
function pickClaims(candidates: Row[], limit: number): Row[] {
  const busy = new Set<string>();
  const picked: Row[] = [];
  for (const r of candidates) {
    if (picked.length >= limit) break;
    if (r.job_key !== null && r.job_key !== undefined) {
      if (r.block !== 'parallel' && busy.has(r.job_key)) continue;
      busy.add(r.job_key);
    }
    picked.push(r);
  }
  return picked;
}

/** `%…%` LIKE pattern of a substring, with `!` as the escape character. */
function likeContains(s: string): string {
  return `%${s.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/**
 * Why a node step of `nodeId` at `incarnation` is refused, given the node's row (or none), or null
 * when the incarnation is current and the node not offline.
 */
function nodeFence(
  node: Row | undefined | null,
  app: string,
  nodeId: string,
  incarnation: number,
  what: string,
): FencedError | null {
  if (!node) {
    return new FencedError(
      'node',
      `node '${nodeId}' of app '${app}' is not registered (removed?), so it cannot ${what}: register it again`,
    );
  }
  if (num(node.incarnation) !== incarnation) {
    return new FencedError(
      'node',
      `node '${nodeId}' incarnation ${incarnation} is stale (current: ${num(node.incarnation)}), so it cannot ${what}: stop its work and register again`,
    );
  }
  if (node.state === 'offline') {
    return new FencedError(
      'node',
      `node '${nodeId}' incarnation ${incarnation} was marked offline, so it cannot ${what}: stop its work and register again`,
    );
  }
  return null;
}

/** The deltas plus, per app and hour, their sum under `ALL_JOBS_KEY`. */
function withTotals(deltas: Iterable<StatsDelta>): StatsDelta[] {
  const out: StatsDelta[] = [];
  const totals = new Map<string, StatsDelta>();
  for (const d of deltas) {
    out.push(d);
    const key = `${d.app}\u0000${d.hour}`;
    const t = totals.get(key);
    if (!t) {
      totals.set(key, { ...d, jobKey: ALL_JOBS_KEY });
      continue;
    }
    addStatsCounts(t, d);
  }
  // rows in key order, so two steps upserting the same buckets lock them in the same order
  return [...out, ...totals.values()].sort(
    (a, b) =>
      (a.app < b.app ? -1 : a.app > b.app ? 1 : 0) ||
      (a.jobKey < b.jobKey ? -1 : a.jobKey > b.jobKey ? 1 : 0) ||
      a.hour - b.hour,
  );
}

function affected(r: { numUpdatedRows?: bigint; numDeletedRows?: bigint } | undefined): number {
  return Number(r?.numUpdatedRows ?? r?.numDeletedRows ?? 0n);
}

/**
 * Creates a store over SQL through kysely: SQLite (better-sqlite3), PostgreSQL (pg) or
 * MySQL/MariaDB (mysql2). Call `init()` (the engine's runtime guard does) before use.
 *
 * @example
 * const store = createSqlStore({ dialect: 'sqlite', filename: './oasis.db', migrate: true });
 */
export function createSqlStore(options: SqlStoreOptions): SqlStore {
  return new SqlStore(options);
}

/**
 * The `Store` contract over SQL. Each method is one transaction (or one statement) whose times
 * come from the database clock; claims lock rows with `FOR UPDATE SKIP LOCKED` where the database
 * has it, and a unique per-job "running" guard keeps serial jobs from overlapping under any
 * interleaving. Driver errors become `StoreUnavailableError` (the server cannot be reached) or
 * `StoreError` (anything else), with the driver's error as `cause`.
 */
export class SqlStore implements Store {
  /** `sqlite`, `postgres` or `mysql`. */
  readonly name: string;
  /** What this store can do; see `SqlDialect`. */
  readonly capabilities: StoreCapabilities;

  readonly #d: SqlDialect;
  readonly #t: TableNames;
  readonly #prefix: string;
  readonly #migrateOnInit: boolean;
  readonly #maxLogLines: number;
  readonly #offset: number;
  readonly #hubKey: string;
  /** The dialect's own claim and completion statements (SQLite), or null for the kysely queries. */
  readonly #runSql: RunStatements | null;
  /** The hot steps' small statements, compiled once. */
  readonly #once = new CompiledOnce();
  readonly #remote = new Map<string, Set<Listener>>();
  readonly #subscriptions = new Set<() => void>();
  #db: Db | null = null;
  #connecting: Promise<Db> | null = null;
  #initializing: Promise<void> | null = null;
  #initialized = false;
  #closed = false;
  #unlisten: (() => Promise<void>) | null = null;
  readonly #pollMs: number;
  #pollTimer: ReturnType<typeof setInterval> | null = null;
  #polling = false;
  #dataVersion = -1;
  #lastEventId: number | null = null;

  /** Validates the options (the table prefix) and picks the dialect; connects in `init()`. */
  constructor(options: SqlStoreOptions) {
    this.#prefix = checkTablePrefix(options.tablePrefix ?? DEFAULT_TABLE_PREFIX);
    this.#t = tableNames(this.#prefix);
    this.#d =
      options.dialect === 'sqlite'
        ? new SqliteSqlDialect(options)
        : options.dialect === 'postgres'
          ? new PostgresSqlDialect(options)
          : options.dialect === 'mysql'
            ? new MysqlSqlDialect(options)
            : (() => {
                throw new TypeError(
                  `unknown SQL dialect ${JSON.stringify((options as { dialect?: unknown }).dialect)}: use 'sqlite', 'postgres' or 'mysql'`,
                );
              })();
    this.name = this.#d.name;
    this.capabilities = { ...this.#d.capabilities };
    this.#migrateOnInit = options.migrate ?? false;
    this.#maxLogLines = options.maxLogLinesPerRun ?? STORE_LIMITS.maxLogLinesPerRun;
    this.#offset = options.clockOffsetMs ?? 0;
    this.#hubKey = `${this.#d.target}|${this.#prefix}`;
    this.#runSql = this.#d.runStatements?.(this.#t) ?? null;
    this.#pollMs = options.dialect === 'sqlite' ? (options.notifyPollMs ?? 100) : 100;
  }

  /** The table prefix in use. */
  get tablePrefix(): string {
    return this.#prefix;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /**
   * Connects, then migrates (with `migrate: true`) or checks that the schema is current: throws
   * `StoreError` telling to call `migrate()` when it is missing or behind, `SchemaTooNewError`
   * when a newer Oasis migrated it. On PostgreSQL, starts listening for wake-ups. Idempotent.
   */
  async init(): Promise<void> {
    if (this.#closed) throw new StoreClosedError('init');
    if (this.#initialized) return;
    this.#initializing ??= this.#init().finally(() => {
      this.#initializing = null;
    });
    await this.#initializing;
  }

  async #init(): Promise<void> {
    const db = await this.#connect('init');
    try {
      if (this.#migrateOnInit) await this.#migrate(db);
      else await this.#checkSchema(db);
      if (this.#d.eventLog && this.#lastEventId === null) {
        const r = await this.#d.exclusive(() =>
          db
            .selectFrom(this.#t.events)
            .select((eb) => eb.fn.max('id').as('m'))
            .executeTakeFirst(),
        );
        this.#lastEventId = r?.m === null || r?.m === undefined ? 0 : num(r.m);
        this.#dataVersion = await this.#d.exclusive(() => this.#d.dataVersion!(db));
      }
      if (this.#d.listen && !this.#unlisten) {
        this.#unlisten = await this.#d.listen(
          this.#t.channel,
          (payload) => this.#onNotification(payload),
          () => this.#wakeAll(),
        );
      }
      this.#initialized = true;
    } catch (err) {
      throw toOasisError(err, this.name, 'init');
    }
  }

  /**
   * Runs the pending migrations (kysely's Migrator on the prefixed `…migrations` tables) and
   * returns the names it applied ([] when up to date). Throws `SchemaTooNewError` when the database
   * holds a migration this version does not know. Safe to call from several nodes at once.
   */
  async migrate(): Promise<string[]> {
    if (this.#closed) throw new StoreClosedError('migrate');
    const db = await this.#connect('migrate');
    try {
      return await this.#migrate(db);
    } catch (err) {
      throw toOasisError(err, this.name, 'migrate');
    }
  }

  async #migrate(db: Db): Promise<string[]> {
    // SQLite: several processes migrating at once collide on the file lock; the loser retries
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#d.exclusive(() => migrateToLatest(db, this.#d, this.#t, this.#prefix));
      } catch (err) {
        const busy = /SQLITE_BUSY|database is locked/.test(String((err as Error)?.message ?? err));
        const cause = (err as { cause?: unknown }).cause;
        const busyCause = /SQLITE_BUSY|database is locked/.test(String((cause as Error)?.message ?? ''));
        if (attempt >= 20 || !(busy || busyCause)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50 + attempt * 25));
      }
    }
  }

  async #checkSchema(db: Db): Promise<void> {
    const applied = await this.#d.exclusive(() => appliedMigrations(db, this.#t));
    const known = knownMigrations(this.#d, this.#t, this.#prefix);
    refuseNewerSchema(applied, known);
    const missing = known.filter((m) => !applied.includes(m));
    if (missing.length > 0) {
      throw new StoreError(
        `the ${this.name} store's schema (tables prefixed '${this.#prefix}') is ${applied.length === 0 ? 'missing' : `behind (missing ${missing.join(', ')})`}: call store.migrate() once, or create the store with migrate: true`,
      );
    }
  }

  async #connect(method: string): Promise<Db> {
    if (this.#db) return this.#db;
    this.#connecting ??= this.#d.connect().then(
      (db) => {
        this.#db = db;
        return db;
      },
      (err) => {
        this.#connecting = null;
        throw toOasisError(err, this.name, method);
      },
    );
    return this.#connecting;
  }

  /** Stops listening and releases the connections. Idempotent; no call may follow. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#initializing?.catch(() => undefined);
    const db = this.#db ?? (await this.#connecting?.catch(() => null)) ?? null;
    this.#db = null;
    this.#stopPolling();
    for (const unsubscribe of [...this.#subscriptions]) unsubscribe();
    this.#remote.clear();
    await this.#unlisten?.().catch(() => undefined);
    this.#unlisten = null;
    await db?.destroy().catch(() => undefined);
    await this.#d.close();
  }

  /** The database clock (plus `clockOffsetMs`), ms since the epoch. */
  async now(): Promise<number> {
    return this.#read('now', (db) => this.#nowOf(db));
  }

  // ---- plumbing ------------------------------------------------------------------------------

  #nowExpr(): RawBuilder<number> {
    const raw = sql<number>`${sql.raw(this.#d.nowSql)}`;
    return this.#offset === 0 ? raw : sql<number>`(${raw} + ${this.#offset})`;
  }

  async #nowOf(db: Trx): Promise<number> {
    const q = this.#once.query(
      'now',
      () => sql<{ now: unknown }>`select ${this.#nowExpr()} as now`.compile(db),
      this.#offset === 0 ? [] : [this.#offset],
    );
    const r = await db.executeQuery(q);
    return num(r.rows[0]?.now);
  }

  async #ready(method: string): Promise<Db> {
    if (this.#closed) throw new StoreClosedError(method);
    if (!this.#initialized) await this.init();
    const db = this.#db;
    if (!db) throw new StoreClosedError(method);
    return db;
  }

  /** A read outside a transaction, its errors typed. */
  async #read<T>(method: string, fn: (db: Db) => Promise<T>): Promise<T> {
    const db = await this.#ready(method);
    try {
      return await this.#d.exclusive(() => fn(db));
    } catch (err) {
      throw toOasisError(err, this.name, method);
    }
  }

  /** The statement text of each hot read's shape (`#readRows`). */
  readonly #shapes = new CompiledOnce(MAX_READ_SHAPES);

  /**
   * The rows of a hot read outside a transaction. `shape` names the statement's form (which
   * filters, how many values) and `params` are its values in statement order: kysely builds the
   * text once per shape (`build`), and it is kept when kysely's parameters came out exactly as
   * `params`, so later calls skip building and compiling (~30-70 µs each). Runs as a prepared
   * statement where the dialect keeps them (PostgreSQL: parsed and planned once per connection),
   * else through kysely's driver. The statement must name its columns, so that a kept statement
   * survives columns added later.
   */
  async #readRows(
    db: Db,
    shape: string,
    params: readonly unknown[],
    build: () => Compilable,
  ): Promise<Row[]> {
    const q = this.#shapes.query(shape, () => build().compile(), params);
    return this.#readText(db, q.sql, q.parameters);
  }

  async #readText(db: Db, text: string, params: readonly unknown[]): Promise<Row[]> {
    if (this.#d.readPrepared) return this.#d.readPrepared(text, params);
    return (await db.executeQuery(CompiledQuery.raw(text, [...params]))).rows as Row[];
  }

  /**
   * One store step: a transaction at the database's now; stats deltas and (PostgreSQL) NOTIFYs
   * are written before it commits, in-process listeners are told after.
   */
  async #tx<T>(method: string, fn: (c: Ctx) => Promise<T>): Promise<T> {
    const db = await this.#ready(method);
    let ctx: Ctx | null = null;
    let result: T;
    for (let attempt = 0; ; attempt++) {
      try {
        result = await this.#d.transaction(db, async (trx) => {
          const c: Ctx = { trx, now: await this.#nowOf(trx), events: new Map(), stats: new Map() };
          ctx = c;
          const r = await fn(c);
          const deltas = c.stats.size > 0 ? withTotals(c.stats.values()) : [];
          if (c.events.size > 0 && this.#d.eventLog) await this.#logEvents(c);
          const payloads =
            c.events.size > 0 && this.#d.notify
              ? [...c.events.values()].map((e) =>
                  JSON.stringify({ type: e.type, app: e.app, source: PROCESS_ID }),
                )
              : [];
          if (deltas.length > 0 && payloads.length > 0 && this.#d.upsertStatsAndNotify) {
            await this.#d.upsertStatsAndNotify(trx, this.#t.stats, deltas, this.#t.channel, payloads);
          } else {
            if (deltas.length > 0) await this.#d.upsertStats(trx, this.#t.stats, deltas);
            if (payloads.length > 0) await this.#d.notify!(trx, this.#t.channel, payloads);
          }
          return r;
        });
        break;
      } catch (err) {
        // a deadlock victim was rolled back whole: run the step again
        if (attempt < 5 && isRetryableConflict(err)) continue;
        throw toOasisError(err, this.name, method);
      }
    }
    const done = ctx as Ctx | null;
    if (done) for (const event of done.events.values()) this.#emitLocal(event);
    return result;
  }

  #event(c: Ctx, type: StoreEvent['type'], app: string): void {
    c.events.set(`${type}\u0000${app}`, { type, app });
  }

  #emitLocal(event: StoreEvent): void {
    deliver(hubs.get(this.#hubKey)?.get(event.app), event);
  }

  /** SQLite: appends the step's wake-ups to the event log; trims the log every 100 events. */
  async #logEvents(c: Ctx): Promise<void> {
    const rows = [...c.events.values()].map((e) => ({
      type: e.type,
      app: e.app,
      source: PROCESS_ID,
      at: c.now,
    }));
    const q = this.#once.query(
      `logEvents:${rows.length}`,
      () => c.trx.insertInto(this.#t.events).values(rows).returning('id').compile(),
      rows.flatMap((r) => [r.type, r.app, r.source, r.at]),
    );
    const ids = (await c.trx.executeQuery<Row>(q)).rows;
    const last = Math.max(...ids.map((r) => num(r.id)));
    if (Math.floor(last / 100) !== Math.floor((last - rows.length) / 100)) {
      await c.trx
        .deleteFrom(this.#t.events)
        .where('id', '<=', last - 1000)
        .execute();
    }
  }

  /** SQLite: starts checking for other processes' commits while anyone is subscribed. */
  #startPolling(): void {
    if (!this.#d.eventLog || this.#pollTimer || this.#closed) return;
    this.#pollTimer = setInterval(() => void this.#pollEvents(), this.#pollMs);
    this.#pollTimer.unref?.();
  }

  #stopPolling(): void {
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
  }

  /** One check: when another connection committed, delivers the wake-ups it logged. */
  async #pollEvents(): Promise<void> {
    const db = this.#db;
    if (this.#polling || !db || !this.#initialized || this.#closed || !this.#d.dataVersion) return;
    this.#polling = true;
    try {
      const events = await this.#d.exclusive(async () => {
        const version = await this.#d.dataVersion!(db);
        if (version === this.#dataVersion && this.#lastEventId !== null) return [];
        this.#dataVersion = version;
        if (this.#lastEventId === null) {
          const r = await db
            .selectFrom(this.#t.events)
            .select((eb) => eb.fn.max('id').as('m'))
            .executeTakeFirst();
          this.#lastEventId = r?.m === null || r?.m === undefined ? 0 : num(r.m);
          return [];
        }
        const rows = await db
          .selectFrom(this.#t.events)
          .selectAll()
          .where('id', '>', this.#lastEventId)
          .orderBy('id')
          .limit(1000)
          .execute();
        if (rows.length > 0) this.#lastEventId = num(rows[rows.length - 1]!.id);
        return rows;
      });
      const seen = new Set<string>();
      for (const e of events) {
        if (e.source === PROCESS_ID || (e.type !== 'runs' && e.type !== 'jobs')) continue;
        const key = `${e.type}\u0000${e.app}`;
        if (seen.has(key)) continue;
        seen.add(key);
        deliver(this.#remote.get(e.app), { type: e.type, app: e.app });
      }
    } catch {
      // a failed check is retried at the next tick; nodes keep their poll as the safety net
    } finally {
      this.#polling = false;
    }
  }

  /** After the LISTEN connection came back: wake every subscriber, as notifications may have been missed. */
  #wakeAll(): void {
    for (const [app, listeners] of this.#remote) {
      deliver(listeners, { type: 'runs', app });
      deliver(listeners, { type: 'jobs', app });
    }
  }

  #onNotification(payload: string): void {
    try {
      const e = JSON.parse(payload) as { type?: unknown; app?: unknown; source?: unknown };
      if (e.source === PROCESS_ID) return;
      if ((e.type !== 'runs' && e.type !== 'jobs') || typeof e.app !== 'string') return;
      deliver(this.#remote.get(e.app), { type: e.type, app: e.app });
    } catch {
      // not ours
    }
  }

  /** Counts a run that reached a final state in its hourly bucket (written at commit). */
  #count(c: Ctx, app: string, jobKey: string | null, state: RunState, durationMs: number | null): void {
    const hour = Math.floor(c.now / HOUR_MS) * HOUR_MS;
    const key = `${app}\u0000${jobKey ?? ''}\u0000${hour}`;
    let b = c.stats.get(key);
    if (!b) {
      b = {
        app,
        jobKey: jobKey ?? '',
        hour,
        succeeded: 0,
        failed: 0,
        dead: 0,
        timedOut: 0,
        cancelled: 0,
        lost: 0,
        skipped: 0,
        totalDurationMs: 0,
        maxDurationMs: 0,
      };
      c.stats.set(key, b);
    }
    const field = STAT_FIELD[state];
    if (field) (b[field] as number) += 1;
    const d = durationMs ?? 0;
    b.totalDurationMs += d;
    if (d > b.maxDurationMs) b.maxDurationMs = d;
  }

  /** A `delay-after` job waiting for its run to end gets its next fire time: now + its delay. */
  async #rearm(c: Ctx, app: string, jobKey: string | null): Promise<void> {
    if (jobKey === null) return;
    const job = await c.trx
      .selectFrom(this.#t.jobs)
      .select(['schedule', 'next_fire_at'])
      .where('app', '=', app)
      .where('job_key', '=', jobKey)
      .executeTakeFirst();
    if (!job || job.next_fire_at !== null) return;
    const schedule = JSON.parse(String(job.schedule)) as JobRecord['schedule'];
    if (schedule.kind !== 'delay-after') return;
    await c.trx
      .updateTable(this.#t.jobs)
      .set({
        next_fire_at: c.now + schedule.ms,
        version: sql`version + 1`,
        updated_at: c.now,
      })
      .where('app', '=', app)
      .where('job_key', '=', jobKey)
      .where('next_fire_at', 'is', null)
      .execute();
    this.#event(c, 'jobs', app);
  }

  /**
   * `#rearm` for several jobs of one app: one read of those still waiting (no next fire time),
   * one update per distinct delay.
   */
  async #rearmMany(c: Ctx, app: string, jobKeys: string[]): Promise<void> {
    const byDelay = new Map<number, string[]>();
    for (const part of chunks(jobKeys)) {
      const jobs = await c.trx
        .selectFrom(this.#t.jobs)
        .select(['job_key', 'schedule'])
        .where('app', '=', app)
        .where('job_key', 'in', part)
        .where('next_fire_at', 'is', null)
        .execute();
      for (const job of jobs) {
        const schedule = JSON.parse(String(job.schedule)) as JobRecord['schedule'];
        if (schedule.kind !== 'delay-after') continue;
        const list = byDelay.get(schedule.ms) ?? [];
        list.push(String(job.job_key));
        byDelay.set(schedule.ms, list);
      }
    }
    for (const [ms, keys] of byDelay) {
      await c.trx
        .updateTable(this.#t.jobs)
        .set({ next_fire_at: c.now + ms, version: sql`version + 1`, updated_at: c.now })
        .where('app', '=', app)
        .where('job_key', 'in', keys)
        .where('next_fire_at', 'is', null)
        .execute();
    }
    if (byDelay.size > 0) this.#event(c, 'jobs', app);
  }

  /** Puts runs (full rows) in a final state, counts them and re-arms their jobs when asked. */
  async #finish(c: Ctx, rows: Row[], state: RunState, reason: string | null, rearm: boolean): Promise<Row[]> {
    if (rows.length === 0) return [];
    for (const part of chunks(rows)) {
      await c.trx
        .updateTable(this.#t.runs)
        .set({ state, reason: encText(reason), finished_at: c.now, lease_expires_at: null })
        .where(
          'id',
          'in',
          part.map((r) => num(r.id)),
        )
        .execute();
    }
    const done: Row[] = rows.map((r) => ({
      ...r,
      state,
      reason: encText(reason),
      finished_at: c.now,
      lease_expires_at: null,
    }));
    for (const r of done) {
      this.#count(c, r.app, r.job_key ?? null, state, r.duration_ms === null ? null : num(r.duration_ms));
      if (rearm) await this.#rearm(c, r.app, r.job_key ?? null);
    }
    return done;
  }

  /** The node when this incarnation is current and not offline; `FencedError` (node) otherwise. */
  async #requireNode(c: Ctx, app: string, nodeId: string, incarnation: number, what: string): Promise<Row> {
    const q = this.#once.query('requireNode', () => {
      const read = c.trx
        .selectFrom(this.#t.nodes)
        .selectAll()
        .where('app', '=', app)
        .where('node_id', '=', nodeId);
      return (this.#d.rowLocks ? read.forUpdate() : read).compile();
    }, [app, nodeId]);
    const node = (await c.trx.executeQuery<Row>(q)).rows[0];
    const fenced = nodeFence(node, app, nodeId, incarnation, what);
    if (fenced) throw fenced;
    return node!;
  }

  /** The app's row (created on first use), locked on databases with row locks. */
  async #appRow(c: Ctx, app: string): Promise<Row> {
    let q = c.trx.selectFrom(this.#t.apps).selectAll().where('app', '=', app);
    if (this.#d.rowLocks) q = q.forUpdate();
    const row = await q.executeTakeFirst();
    if (row) return row;
    await this.#d.insertIgnore(c.trx, this.#t.apps, {
      app,
      leader_node: null,
      leader_incarnation: null,
      leader_epoch: 0,
      leader_expires_at: null,
      map_generation: 0,
      map_epoch: 0,
      map_assignments: '{}',
    });
    const again = await q.executeTakeFirst();
    if (!again) throw new StoreError(`the state row of app '${app}' could not be created`);
    return again;
  }

  /**
   * Bumps the app's membership version in this step's transaction (creating the app row when
   * needed): every change of who is in the app, or of what an operator asked of a node.
   */
  async #bumpMembership(c: Ctx, app: string): Promise<void> {
    const bump = () =>
      c.trx
        .updateTable(this.#t.apps)
        .set({ membership_version: sql`membership_version + 1` })
        .where('app', '=', app)
        .executeTakeFirst();
    if (affected(await bump()) > 0) return;
    await this.#appRow(c, app);
    await bump();
  }

  /** Refuses unless `epoch` is the app's current, unexpired leader lease; returns the app row. */
  async #requireLeader(c: Ctx, app: string, epoch: number, what: string): Promise<Row> {
    const row = await this.#appRow(c, app);
    const lease = toLease(row);
    if (!lease || lease.epoch !== epoch || lease.expiresAt <= c.now) {
      throw new FencedError(
        'leader',
        `leader epoch ${epoch} of app '${app}' is not the current unexpired lease (current: ${lease ? `epoch ${lease.epoch}, ${lease.expiresAt <= c.now ? 'expired' : 'live'}` : 'none'}), so it cannot ${what}: step down and re-acquire leadership`,
      );
    }
    return row;
  }

  async #runById(trx: Trx, id: number, lock: boolean): Promise<Row | undefined> {
    let q = trx.selectFrom(this.#t.runs).selectAll().where('id', '=', id);
    if (lock && this.#d.rowLocks) q = q.forUpdate();
    return q.executeTakeFirst();
  }

  async #runByKey(trx: Trx, app: string, key: string): Promise<Row | undefined> {
    return trx
      .selectFrom(this.#t.runs)
      .selectAll()
      .where('app', '=', app)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }

  /**
   * Inserts one draft as `enqueueRuns` does: an existing idempotency key returns the existing run;
   * a job's `skip` / `replace` strategy applies against its pending and running runs (under the
   * job's row lock where there are row locks).
   */
  async #insertRun(c: Ctx, draft: RunDraft): Promise<EnqueueResult> {
    const { trx } = c;
    if (draft.idempotencyKey !== null) {
      const existing = await this.#runByKey(trx, draft.app, draft.idempotencyKey);
      if (existing) return { run: toRun(existing), created: false };
    }
    let state: 'pending' | 'skipped' = draft.state ?? 'pending';
    let reason: string | null = draft.reason ?? null;
    if (
      state === 'pending' &&
      draft.jobKey !== null &&
      (draft.block === 'skip' || draft.block === 'replace')
    ) {
      // serialize with every other insert of this job's runs, whether the job has a row or not
      if (this.#d.rowLocks) await this.#d.lockKey(trx, this.#t.jobLocks, draft.app, draft.jobKey);
      let q = trx
        .selectFrom(this.#t.runs)
        .selectAll()
        .where('app', '=', draft.app)
        .where('job_key', '=', draft.jobKey)
        .where('state', 'in', ['pending', 'running'])
        .orderBy('id');
      if (this.#d.rowLocks) q = q.forUpdate();
      const siblings = await q.execute();
      if (draft.block === 'skip' && siblings.length > 0) {
        const s = siblings[0]!;
        state = 'skipped';
        reason = `block strategy 'skip': run ${formatId(s.id)} of job '${draft.jobKey}' is ${s.state}`;
      } else if (draft.block === 'replace' && siblings.length > 0) {
        const why = 'replaced by a newer run';
        await this.#finish(
          c,
          siblings.filter((s) => s.state === 'pending'),
          'cancelled',
          why,
          false,
        );
        const running = siblings.filter((s) => s.state === 'running').map((s) => num(s.id));
        if (running.length > 0) {
          await trx
            .updateTable(this.#t.runs)
            .set({ cancel_requested: 1, reason: encText(why) })
            .where('id', 'in', running)
            .execute();
        }
      }
    }
    const parent = draft.parentRunId === null ? null : parseId(draft.parentRunId);
    const row = runColumns(draft, c.now, parent);
    if (state === 'skipped') {
      row.state = 'skipped';
      row.reason = encText(reason);
      row.finished_at = c.now;
    }
    const id = await this.#d.insertRun(trx, this.#t.runs, row);
    if (id === null) {
      const existing = await this.#runByKey(trx, draft.app, draft.idempotencyKey ?? '');
      if (!existing) throw new StoreError(`run with idempotency key '${draft.idempotencyKey}' vanished`);
      return { run: toRun(existing), created: false };
    }
    if (state === 'skipped') this.#count(c, draft.app, draft.jobKey, 'skipped', null);
    return { run: toRun({ ...row, id }), created: true };
  }

  /**
   * Inserts drafts in order with `#insertRun`'s semantics. When no draft needs its job's block
   * strategy checked and the database has `RETURNING`, the batch is one lookup of existing
   * idempotency keys per app and one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` per
   * 500 rows; otherwise draft by draft.
   */
  async #insertRuns(c: Ctx, drafts: RunDraft[]): Promise<EnqueueResult[]> {
    const perRow = (d: RunDraft) =>
      d.jobKey !== null &&
      (d.block === 'skip' || d.block === 'replace') &&
      (d.state ?? 'pending') === 'pending';
    if (!this.#d.returning || drafts.length < 2 || drafts.some(perRow)) {
      const out: EnqueueResult[] = [];
      for (const d of drafts) out.push(await this.#insertRun(c, d));
      return out;
    }
    const k = (app: string, key: string) => `${app}\u0000${key}`;
    const existing = new Map<string, Row>();
    const keysByApp = new Map<string, string[]>();
    for (const d of drafts) {
      if (d.idempotencyKey === null) continue;
      const list = keysByApp.get(d.app) ?? [];
      list.push(d.idempotencyKey);
      keysByApp.set(d.app, list);
    }
    for (const [app, keys] of keysByApp) {
      for (const part of chunks([...new Set(keys)])) {
        const rows = await c.trx
          .selectFrom(this.#t.runs)
          .selectAll()
          .where('app', '=', app)
          .where('idempotency_key', 'in', part)
          .execute();
        for (const r of rows) existing.set(k(app, r.idempotency_key), r);
      }
    }
    const results: Array<EnqueueResult | undefined> = new Array(drafts.length);
    const firstInBatch = new Map<string, number>();
    const dupOf = new Map<number, number>();
    const inserts: Array<{ index: number; row: Row }> = [];
    drafts.forEach((d, index) => {
      if (d.idempotencyKey !== null) {
        const key = k(d.app, d.idempotencyKey);
        const found = existing.get(key);
        if (found) {
          results[index] = { run: toRun(found), created: false };
          return;
        }
        const first = firstInBatch.get(key);
        if (first !== undefined) {
          dupOf.set(index, first);
          return;
        }
        firstInBatch.set(key, index);
      }
      const row = runColumns(d, c.now, d.parentRunId === null ? null : parseId(d.parentRunId));
      if (d.state === 'skipped') {
        row.state = 'skipped';
        row.reason = encText(d.reason ?? null);
        row.finished_at = c.now;
      }
      inserts.push({ index, row });
    });
    for (const part of chunks(inserts)) {
      const returned = await c.trx
        .insertInto(this.#t.runs)
        .values(part.map((p) => p.row))
        .onConflict((oc) => oc.columns(['app', 'idempotency_key']).doNothing())
        .returning(['id', 'idempotency_key'])
        .execute();
      // ids are drawn in VALUES order: sorted by id, the returned rows follow the batch, minus
      // the rows whose key a concurrent step inserted first
      returned.sort((a, b) => num(a.id) - num(b.id));
      let next = 0;
      for (const { index, row } of part) {
        const r = returned[next];
        if (r && (r.idempotency_key ?? null) === row.idempotency_key) {
          next++;
          results[index] = { run: toRun({ ...row, id: r.id }), created: true };
          if (row.state === 'skipped') this.#count(c, row.app, row.job_key ?? null, 'skipped', null);
        } else {
          const found = await this.#runByKey(c.trx, row.app, String(row.idempotency_key));
          if (!found) throw new StoreError(`run with idempotency key '${row.idempotency_key}' vanished`);
          results[index] = { run: toRun(found), created: false };
        }
      }
      if (next !== returned.length) throw new StoreError('a batch insert returned rows it was not asked for');
    }
    for (const [index, first] of dupOf) results[index] = { run: results[first]!.run, created: false };
    return results as EnqueueResult[];
  }

  // ---- jobs ----------------------------------------------------------------------------------

  /** The job, or null. */
  async getJob(app: string, key: string): Promise<JobRecord | null> {
    return this.#read('getJob', async (db) => {
      const [row] = await this.#readRows(db, 'getJob', [app, key], () =>
        db.selectFrom(this.#t.jobs).select(JOB_COLUMNS).where('app', '=', app).where('job_key', '=', key),
      );
      return row ? toJob(row) : null;
    });
  }

  /** Writes a job with compare-and-set on its version; see `Store.saveJob`. */
  async saveJob(draft: JobDraft, expectedVersion: number | null | 'any'): Promise<JobRecord> {
    try {
      return await this.#tx('saveJob', async (c) => {
        let q = c.trx
          .selectFrom(this.#t.jobs)
          .select(['version', 'created_at'])
          .where('app', '=', draft.app)
          .where('job_key', '=', draft.key);
        if (this.#d.rowLocks) q = q.forUpdate();
        const existing = await q.executeTakeFirst();
        if (expectedVersion === null && existing) {
          throw new ConflictError(
            `job '${draft.key}' already exists in app '${draft.app}' (version ${num(existing.version)}): update it with its version instead`,
          );
        }
        if (typeof expectedVersion === 'number') {
          if (!existing) {
            throw new ConflictError(
              `job '${draft.key}' of app '${draft.app}' does not exist, so version ${expectedVersion} cannot match: create it with expectedVersion null`,
            );
          }
          if (num(existing.version) !== expectedVersion) {
            throw new ConflictError(
              `job '${draft.key}' of app '${draft.app}' is at version ${num(existing.version)}, not ${expectedVersion}: re-read it and try again`,
            );
          }
        }
        const cols = jobColumns(draft);
        const version = existing ? num(existing.version) + 1 : 1;
        const createdAt = existing ? num(existing.created_at) : c.now;
        if (existing) {
          await c.trx
            .updateTable(this.#t.jobs)
            .set({ ...cols, version, updated_at: c.now })
            .where('app', '=', draft.app)
            .where('job_key', '=', draft.key)
            .execute();
          await c.trx
            .deleteFrom(this.#t.jobTags)
            .where('app', '=', draft.app)
            .where('job_key', '=', draft.key)
            .execute();
        } else {
          await c.trx
            .insertInto(this.#t.jobs)
            .values({ ...cols, version, created_at: createdAt, updated_at: c.now })
            .execute();
        }
        const tags = [...new Set(draft.tags)];
        if (tags.length > 0) {
          await c.trx
            .insertInto(this.#t.jobTags)
            .values(tags.map((tag) => ({ app: draft.app, job_key: draft.key, tag })))
            .execute();
        }
        this.#event(c, 'jobs', draft.app);
        return toJob({ ...cols, version, created_at: createdAt, updated_at: c.now });
      });
    } catch (err) {
      if (isUniqueViolation((err as { cause?: unknown }).cause)) {
        throw new ConflictError(
          `job '${draft.key}' of app '${draft.app}' was created concurrently: re-read it and try again`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** Deletes a job and cancels its pending runs; see `Store.deleteJob`. */
  async deleteJob(app: string, key: string, expectedVersion?: number): Promise<JobRecord | null> {
    return this.#tx('deleteJob', async (c) => {
      let q = c.trx.selectFrom(this.#t.jobs).selectAll().where('app', '=', app).where('job_key', '=', key);
      if (this.#d.rowLocks) q = q.forUpdate();
      const row = await q.executeTakeFirst();
      if (!row) return null;
      if (expectedVersion !== undefined && num(row.version) !== expectedVersion) {
        throw new ConflictError(
          `job '${key}' of app '${app}' is at version ${num(row.version)}, not ${expectedVersion}: re-read it and try again`,
        );
      }
      await c.trx.deleteFrom(this.#t.jobs).where('app', '=', app).where('job_key', '=', key).execute();
      await c.trx.deleteFrom(this.#t.jobTags).where('app', '=', app).where('job_key', '=', key).execute();
      let pq = c.trx
        .selectFrom(this.#t.runs)
        .selectAll()
        .where('app', '=', app)
        .where('job_key', '=', key)
        .where('state', '=', 'pending');
      if (this.#d.rowLocks) pq = pq.forUpdate();
      const pending = await pq.execute();
      await this.#finish(c, pending, 'cancelled', 'job deleted', false);
      if (pending.length > 0) this.#event(c, 'runs', app);
      this.#event(c, 'jobs', app);
      return toJob(row);
    });
  }

  /** Jobs by key ascending (then app), filtered, one keyset page. */
  async listJobs(filter: JobFilter, page?: PageRequest): Promise<Page<JobRecord>> {
    const limit = page?.limit ?? DEFAULT_PAGE;
    const after = page?.cursor ? decodeCursor(page.cursor, 2) : null;
    return this.#read('listJobs', async (db) => {
      const t = this.#t;
      let q = db.selectFrom(`${t.jobs} as j`).selectAll('j');
      if (filter.app !== undefined) q = q.where('j.app', '=', filter.app);
      if (filter.enabled !== undefined) q = q.where('j.enabled', '=', filter.enabled ? 1 : 0);
      if (filter.handler !== undefined) q = q.where('j.handler', '=', filter.handler);
      if (filter.source !== undefined) q = q.where('j.source', '=', filter.source);
      if (filter.tag !== undefined) {
        const tag = filter.tag;
        q = q.where(({ exists, selectFrom }) =>
          exists(
            selectFrom(`${t.jobTags} as g`)
              .select('g.tag')
              .whereRef('g.app', '=', 'j.app')
              .whereRef('g.job_key', '=', 'j.job_key')
              .where('g.tag', '=', tag),
          ),
        );
      }
      if (filter.search !== undefined) {
        const p = likeContains(filter.search.toLowerCase());
        q = q.where(
          sql<boolean>`(lower(j.job_key) like ${p} escape '!' or lower(j.handler) like ${p} escape '!' or lower(coalesce(j.description, '')) like ${p} escape '!')`,
        );
      }
      if (after) {
        const [key, app] = after as [string, string];
        q = q.where((eb) =>
          eb.or([eb('j.job_key', '>', key), eb.and([eb('j.job_key', '=', key), eb('j.app', '>', app)])]),
        );
      }
      const rows = await q
        .orderBy('j.job_key')
        .orderBy('j.app')
        .limit(limit + 1)
        .execute();
      const items = rows.slice(0, limit).map(toJob);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.key, last.app]) : null };
    });
  }

  // ---- firing --------------------------------------------------------------------------------

  /** Enabled jobs due by the database's now + `horizonMs`, earliest first; see `Store.dueJobs`. */
  async dueJobs(query: {
    app: string;
    partitions: number[] | null;
    limit: number;
    horizonMs?: number;
  }): Promise<JobRecord[]> {
    const horizonMs = query.horizonMs ?? 0;
    if (query.partitions !== null && query.partitions.length === 0) return [];
    return this.#read('dueJobs', async (db) => {
      let q = db
        .selectFrom(this.#t.jobs)
        .selectAll()
        .where('app', '=', query.app)
        .where('enabled', '=', 1)
        .where(
          'next_fire_at',
          '<=',
          horizonMs === 0 ? this.#nowExpr() : sql<number>`(${this.#nowExpr()} + ${horizonMs})`,
        );
      if (query.partitions !== null) q = q.where('partition_no', 'in', query.partitions);
      const rows = await q.orderBy('next_fire_at').orderBy('job_key').limit(query.limit).execute();
      return rows.map(toJob);
    });
  }

  /** Compare-and-set on `next_fire_at`, and the fire's runs, in one transaction; see `Store.fireJobs`. */
  async fireJobs(app: string, fires: FireRequest[]): Promise<FireResult[]> {
    return this.#tx('fireJobs', async (c) => {
      const results: FireResult[] = [];
      for (const fire of fires) {
        const r = await c.trx
          .updateTable(this.#t.jobs)
          .set({
            next_fire_at: fire.nextFireAt,
            last_fire_at: fire.lastFireAt,
            version: sql`version + 1`,
            updated_at: c.now,
          })
          .where('app', '=', app)
          .where('job_key', '=', fire.jobKey)
          .where('enabled', '=', 1)
          .where('next_fire_at', '=', fire.expectedNextFireAt)
          .executeTakeFirst();
        if (affected(r) !== 1) {
          results.push({ jobKey: fire.jobKey, fired: false, runs: [] });
          continue;
        }
        const runs = (await this.#insertRuns(c, fire.runs)).filter((r) => r.created).map((r) => r.run);
        if (runs.length > 0) this.#event(c, 'runs', app);
        results.push({ jobKey: fire.jobKey, fired: true, runs });
      }
      return results;
    });
  }

  /** The earliest next fire or due time this node cares about, in one statement; see `Store.nextWakeAt`. */
  async nextWakeAt(query: {
    app: string;
    partitions: number[] | null;
    handlers: string[];
    nodeId: string;
  }): Promise<number | null> {
    return this.#read('nextWakeAt', async (db) => {
      const parts: RawBuilder<unknown>[] = [];
      if (query.partitions === null || query.partitions.length > 0) {
        let jq = db
          .selectFrom(this.#t.jobs)
          .select((eb) => eb.fn.min('next_fire_at').as('m'))
          .where('app', '=', query.app)
          .where('enabled', '=', 1);
        if (query.partitions !== null) jq = jq.where('partition_no', 'in', query.partitions);
        parts.push(sql`(${jq})`);
      }
      if (query.handlers.length > 0) {
        const rq = db
          .selectFrom(this.#t.runs)
          .select((eb) => eb.fn.min('due_at').as('m'))
          .where('app', '=', query.app)
          .where('state', '=', 'pending')
          .where('handler', 'in', query.handlers)
          .where((eb) => eb.or([eb('target_node', 'is', null), eb('target_node', '=', query.nodeId)]));
        parts.push(sql`(${rq})`);
      }
      if (parts.length === 0) return null;
      const r = await sql<Record<string, unknown>>`select ${sql.join(
        parts.map((p, i) => sql`${p} as ${sql.ref(`m${i}`)}`),
      )}`.execute(db);
      const row = r.rows[0] ?? {};
      let best: number | null = null;
      for (const v of Object.values(row)) {
        if (v === null || v === undefined) continue;
        const n = num(v);
        if (best === null || n < best) best = n;
      }
      return best;
    });
  }

  // ---- runs ----------------------------------------------------------------------------------

  /** Inserts runs in one transaction; see `Store.enqueueRuns`. */
  async enqueueRuns(drafts: RunDraft[]): Promise<EnqueueResult[]> {
    if (drafts.length === 0) return [];
    return this.#tx('enqueueRuns', async (c) => {
      const results = await this.#insertRuns(c, drafts);
      results.forEach((r, i) => {
        if (r.created) this.#event(c, 'runs', drafts[i]!.app);
      });
      return results;
    });
  }

  /**
   * Claims due runs for a node: candidates locked with `FOR UPDATE SKIP LOCKED` (PostgreSQL,
   * MySQL) or under the SQLite write lock, at most one non-parallel run per job and none while one
   * of the job runs; the unique running guard refuses any interleaving that would start two, and
   * such a claim is retried. See `Store.claimRuns`.
   */
  async claimRuns(request: ClaimRequest): Promise<RunRecord[]> {
    const oneStatement = this.#d.name === 'postgres' && request.limit > 0 && request.handlers.length > 0;
    for (let attempt = 0; ; attempt++) {
      try {
        if (oneStatement) return await this.#claimOneStatement(request);
        return await this.#tx('claimRuns', (c) => this.#claim(c, request));
      } catch (err) {
        // a racing claimer started a run of the same serial job first (the running guard), or a
        // deadlock victim was rolled back: claim again
        const cause = (err as { cause?: unknown }).cause;
        if (attempt < 4 && (isViolationOf(cause, 'serial_guard') || isRetryableConflict(cause))) continue;
        throw err;
      }
    }
  }

  /**
   * PostgreSQL: the whole claim as one autocommitted statement (one round trip): the node row
   * share-locked and checked, candidates in claim order `FOR UPDATE SKIP LOCKED`, one per
   * non-parallel job (`row_number()` over the job), the update, and the node's state read back
   * so that a refusal names its reason. The store clock is read once, in the statement.
   */
  async #claimOneStatement(request: ClaimRequest): Promise<RunRecord[]> {
    const db = await this.#ready('claimRuns');
    const t = this.#t;
    const runs = sql.table(t.runs);
    const window = Math.min(request.limit * 2 + 16, STORE_LIMITS.maxBatch);
    const serial = sql`(r.job_key is not null and r.block <> 'parallel')`;
    const query = sql<Row>`
      with clock as (select ${this.#nowExpr()} as now),
      n as (
        select incarnation, state from ${sql.table(t.nodes)}
         where app = ${request.app} and node_id = ${request.nodeId}
         for share
      ),
      cand as (
        select r.id, r.priority, r.due_at,
               case when ${serial} then r.job_key end as serial_key
          from ${runs} r
         where r.app = ${request.app}
           and r.state = 'pending'
           and r.due_at <= (select now from clock)
           and r.handler in (${sql.join(request.handlers)})
           and (r.target_node is null or r.target_node = ${request.nodeId})
           and (not ${serial} or not exists (
                 select 1 from ${runs} x
                  where x.app = r.app and x.job_key = r.job_key and x.state = 'running'))
           and exists (select 1 from n where n.incarnation = ${request.incarnation} and n.state <> 'offline')
         order by r.priority desc, r.due_at, r.id
         limit ${window}
         for update of r skip locked
      ),
      picked as (
        select id from (
          select id, priority, due_at, serial_key,
                 row_number() over (partition by serial_key, case when serial_key is null then id end
                                    order by priority desc, due_at, id) as rn
            from cand
        ) ranked
         where rn = 1
         order by priority desc, due_at, id
         limit ${request.limit}
      ),
      upd as (
        update ${runs} r
           set state = 'running', owner_node = ${request.nodeId}, owner_incarnation = ${request.incarnation},
               lease_expires_at = (select now from clock) + ${request.leaseMs}, started_at = (select now from clock)
          from picked
         where r.id = picked.id
        returning r.*
      )
      select (select count(*) from n) as claim_node_found, (select incarnation from n) as claim_node_incarnation,
             (select state from n) as claim_node_state, upd.*
        from (select 1 as one) one left join upd on true`;
    let rows: Row[];
    try {
      rows = (await query.execute(db)).rows;
    } catch (err) {
      throw toOasisError(err, this.name, 'claimRuns');
    }
    const head = rows[0];
    const node =
      head && num(head.claim_node_found) > 0
        ? { incarnation: head.claim_node_incarnation, state: head.claim_node_state }
        : null;
    const fenced = nodeFence(node, request.app, request.nodeId, request.incarnation, 'claim runs');
    if (fenced) throw fenced;
    const claimed = rows
      .filter((r) => r.id !== null && r.id !== undefined)
      .map(({ claim_node_found: _a, claim_node_incarnation: _b, claim_node_state: _c, one: _d, ...r }) => r);
    claimed.sort(
      (a, b) => num(b.priority) - num(a.priority) || num(a.due_at) - num(b.due_at) || num(a.id) - num(b.id),
    );
    await this.#restampSerialClaims(db, request, claimed);
    return claimed.map(toRun);
  }

  /**
   * The one-statement claim reads its clock when it begins, and may then wait on the serial guard
   * for the completion of the job's previous run to commit. So that a serial job's runs never
   * overlap in store time either (the previous run's `finishedAt` is read inside that completion),
   * the claimed runs of non-parallel jobs get their start and lease stamped again, now.
   */
  async #restampSerialClaims(db: Db, request: ClaimRequest, claimed: Row[]): Promise<void> {
    const serial = claimed.filter((r) => r.job_key !== null && r.block !== 'parallel');
    if (serial.length === 0) return;
    const now = this.#nowExpr();
    let rows: Row[];
    try {
      rows = (
        await sql<Row>`
          update ${sql.table(this.#t.runs)}
             set started_at = greatest(started_at, ${now}),
                 lease_expires_at = greatest(lease_expires_at, ${now} + ${request.leaseMs})
           where id in (${sql.join(serial.map((r) => r.id))})
             and state = 'running' and owner_node = ${request.nodeId}
             and owner_incarnation = ${request.incarnation}
          returning id, started_at, lease_expires_at`.execute(db)
      ).rows;
    } catch (err) {
      throw toOasisError(err, this.name, 'claimRuns');
    }
    applyStamps(serial, rows);
  }

  async #claim(c: Ctx, request: ClaimRequest): Promise<RunRecord[]> {
    await this.#requireNode(c, request.app, request.nodeId, request.incarnation, 'claim runs');
    if (request.limit <= 0 || request.handlers.length === 0) return [];
    const t = this.#t;
    const window = Math.min(request.limit * 2 + 16, STORE_LIMITS.maxBatch);
    const candidates = this.#runSql
      ? await this.#runSql.claimCandidates(c.trx, request, c.now, window)
      : await this.#claimCandidates(c, request, window);
    let picked = pickClaims(candidates, request.limit);
    const serialJobs = [
      ...new Set(picked.filter((r) => r.job_key !== null && r.block !== 'parallel').map((r) => r.job_key)),
    ];
    if (this.#d.rowLocks && serialJobs.length > 0) {
      // a claimer that committed since our snapshot-free read above may have started one
      const running = await c.trx
        .selectFrom(t.runs)
        .select('job_key')
        .where('app', '=', request.app)
        .where('state', '=', 'running')
        .where('job_key', 'in', serialJobs)
        .execute();
      const taken = new Set(running.map((r) => r.job_key));
      picked = picked.filter((r) => r.job_key === null || r.block === 'parallel' || !taken.has(r.job_key));
    }
    if (picked.length === 0) return [];
    const ids = picked.map((r) => num(r.id));
    if (this.#runSql) {
      const rows = new Map((await this.#runSql.claim(c.trx, ids, request, c.now)).map((r) => [num(r.id), r]));
      // in claim order (the update returns them in no order)
      return ids.flatMap((id) => {
        const row = rows.get(id);
        return row ? [toRun(row)] : [];
      });
    }
    const patch = {
      state: 'running',
      owner_node: request.nodeId,
      owner_incarnation: request.incarnation,
      lease_expires_at: c.now + request.leaseMs,
      started_at: c.now,
    };
    await c.trx.updateTable(t.runs).set(patch).where('id', 'in', ids).execute();
    const claimed = picked.map((r) => ({ ...r, ...patch }));
    await this.#restampSerialClaimsInTx(c, request, claimed);
    return claimed.map((r) => toRun(r));
  }

  /**
   * MySQL/MariaDB's claim (this transaction) read its clock when it began, and its update may
   * have waited on the serial guard for the completion of the job's previous run to commit. As
   * `#restampSerialClaims` does for PostgreSQL, the claimed runs of non-parallel jobs get their
   * start and lease stamped again by a statement that begins after that wait, and are read back
   * (no `RETURNING` on MySQL's update), so a serial job's runs never overlap in store time.
   */
  async #restampSerialClaimsInTx(c: Ctx, request: ClaimRequest, claimed: Row[]): Promise<void> {
    const serial = claimed.filter((r) => r.job_key !== null && r.block !== 'parallel');
    if (serial.length === 0) return;
    const t = this.#t;
    const now = this.#nowExpr();
    const ids = serial.map((r) => r.id);
    await sql`
      update ${sql.table(t.runs)}
         set started_at = greatest(started_at, ${now}),
             lease_expires_at = greatest(lease_expires_at, ${now} + ${request.leaseMs})
       where id in (${sql.join(ids)})`.execute(c.trx);
    const rows = await c.trx
      .selectFrom(t.runs)
      .select(['id', 'started_at', 'lease_expires_at'])
      .where('id', 'in', ids)
      .execute();
    applyStamps(serial, rows);
  }

  /** The claim's candidates through kysely (full rows, locked with `SKIP LOCKED` where the database can). */
  async #claimCandidates(c: Ctx, request: ClaimRequest, window: number): Promise<Row[]> {
    const t = this.#t;
    let q = c.trx
      .selectFrom(`${t.runs} as r`)
      .selectAll('r')
      .where('r.app', '=', request.app)
      .where('r.state', '=', 'pending')
      // SQLite (no statistics) would range-scan the claim index on due_at and sort every due run;
      // a unary plus keeps due_at out of the index choice, so it walks the claim order index
      .where(this.#d.name === 'sqlite' ? sql`+${sql.ref('r.due_at')}` : 'r.due_at', '<=', c.now)
      .where('r.handler', 'in', request.handlers)
      .where((eb) => eb.or([eb('r.target_node', 'is', null), eb('r.target_node', '=', request.nodeId)]))
      .where((eb) =>
        eb.or([
          eb('r.job_key', 'is', null),
          eb('r.block', '=', 'parallel'),
          eb.not(
            eb.exists(
              eb
                .selectFrom(`${t.runs} as x`)
                .select('x.id')
                .whereRef('x.app', '=', 'r.app')
                .whereRef('x.job_key', '=', 'r.job_key')
                .where('x.state', '=', 'running'),
            ),
          ),
        ]),
      )
      .orderBy('r.priority', 'desc')
      .orderBy('r.due_at')
      .orderBy('r.id')
      .limit(window);
    if (this.#d.capabilities.skipLocked) q = q.forUpdate().skipLocked();
    return q.execute();
  }

  /**
   * Ends several runs in one transaction, set-wise: one locking read of the runs (with their
   * owner node's current incarnation), one `UPDATE … CASE` per 500 runs, the retries in one batch
   * insert, the delay-after jobs re-armed per app, the stats deltas in one upsert at commit.
   * Refusals (`FencedError`, `NotFoundError`) come back in place. See `Store.completeRuns`.
   */
  async completeRuns(requests: CompleteRequest[]): Promise<CompleteRunsItem[]> {
    if (requests.length === 0) return [];
    return this.#tx('completeRuns', (c) => this.#complete(c, requests));
  }

  /** Ends a run its node owns and inserts its retry, in one transaction; see `Store.completeRun`. */
  async completeRun(request: CompleteRequest): Promise<CompleteResult> {
    const [item] = await this.#tx('completeRun', (c) => this.#complete(c, [request]));
    if (!item) throw new StoreError('completeRun returned nothing');
    if (!item.ok) throw item.error;
    return { run: item.run, retry: item.retry };
  }

  /** The one completion path: `completeRun` is a batch of one. */
  async #complete(c: Ctx, requests: CompleteRequest[]): Promise<CompleteRunsItem[]> {
    const t = this.#t;
    const ids = [...new Set(requests.map((r) => parseId(r.runId)).filter((id): id is number => id !== null))];
    const rows = new Map<number, Row>();
    for (const part of chunks(ids)) {
      if (this.#runSql) {
        for (const r of await this.#runSql.completionRows(c.trx, part)) rows.set(num(r.id), r);
        continue;
      }
      let q = c.trx
        .selectFrom(`${t.runs} as r`)
        .selectAll('r')
        .select((eb) =>
          eb
            .selectFrom(`${t.nodes} as n`)
            .select('n.incarnation')
            .whereRef('n.app', '=', 'r.app')
            .whereRef('n.node_id', '=', 'r.owner_node')
            .as('n_incarnation'),
        )
        .where('r.id', 'in', part)
        .orderBy('r.id');
      // the runs only: a subquery's rows are not locked by the outer FOR UPDATE
      if (this.#d.rowLocks) q = q.forUpdate();
      for (const r of await q.execute()) rows.set(num(r.id), r);
    }
    const items: Array<CompleteRunsItem | undefined> = new Array(requests.length);
    const ended: Array<{ index: number; request: CompleteRequest; row: Row }> = [];
    requests.forEach((request, index) => {
      const id = parseId(request.runId);
      const row = id === null ? undefined : rows.get(id);
      if (id === null || !row) {
        items[index] = { ok: false, error: new NotFoundError('run', request.runId) };
        return;
      }
      if (
        row.state !== 'running' ||
        row.owner_node !== request.nodeId ||
        num(row.owner_incarnation) !== request.incarnation ||
        row.n_incarnation === null ||
        row.n_incarnation === undefined ||
        num(row.n_incarnation) !== request.incarnation
      ) {
        items[index] = {
          ok: false,
          error: new FencedError(
            'run',
            `run '${formatId(row.id)}' is ${row.state} and owned by ${row.owner_node ?? 'no node'} (incarnation ${row.owner_incarnation ?? '-'}), not by '${request.nodeId}' incarnation ${request.incarnation}: abort its handler and drop the result`,
          ),
        };
        return;
      }
      const state: RunState = request.outcome === 'failed' && !request.retry ? 'dead' : request.outcome;
      const { n_incarnation, ...base } = row;
      const done: Row = {
        ...base,
        state,
        finished_at: c.now,
        lease_expires_at: null,
        duration_ms: request.durationMs,
        result: toJson(request.result ?? null),
        error: request.error ? toJson(request.error) : null,
      };
      // a second request for the same run in this batch sees it ended, as it would one call later
      rows.set(id, { ...done, n_incarnation });
      ended.push({ index, request, row: done });
    });
    if (ended.length === 0) return items as CompleteRunsItem[];

    for (const part of chunks(ended)) {
      if (this.#runSql) {
        const ends = part.map(({ row }) => ({
          id: num(row.id),
          state: row.state as RunState,
          durationMs: row.duration_ms as number,
          result: row.result as string,
          error: row.error as string | null,
        }));
        await this.#runSql.endRuns(c.trx, ends, c.now);
        continue;
      }
      if (part.length === 1) {
        const { row } = part[0]!;
        await c.trx
          .updateTable(t.runs)
          .set({
            state: row.state,
            finished_at: c.now,
            lease_expires_at: null,
            duration_ms: row.duration_ms,
            result: row.result,
            error: row.error,
          })
          .where('id', '=', num(row.id))
          .execute();
        continue;
      }
      const cases = (col: string, cast: boolean) =>
        sql`case ${sql.ref('id')} ${sql.join(
          part.map(({ row }) => {
            const v = cast ? this.#bigint(row[col]) : sql`${row[col]}`;
            return sql`when ${num(row.id)} then ${v}`;
          }),
          sql` `,
        )} end`;
      await c.trx
        .updateTable(t.runs)
        .set({
          state: cases('state', false),
          finished_at: c.now,
          lease_expires_at: null,
          duration_ms: cases('duration_ms', true),
          result: cases('result', false),
          error: cases('error', false),
        })
        .where(
          'id',
          'in',
          part.map(({ row }) => num(row.id)),
        )
        .execute();
    }

    // the runs end before their retries are inserted, so a retry never sees its own run as a
    // sibling (a skip job's retry is pending, not skipped)
    const withRetry = ended.filter((e) => e.request.retry);
    const retries = new Map<number, RunRecord>();
    if (withRetry.length > 0) {
      const inserted = await this.#insertRuns(
        c,
        withRetry.map((e) => e.request.retry!),
      );
      for (const [i, e] of withRetry.entries()) retries.set(e.index, inserted[i]!.run);
    }

    const rearm = new Map<string, Set<string>>();
    for (const e of ended) {
      const { row } = e;
      this.#count(c, row.app, row.job_key ?? null, row.state, e.request.durationMs);
      this.#event(c, 'runs', row.app);
      if (!retries.has(e.index) && row.job_key !== null && row.job_key !== undefined) {
        const keys = rearm.get(row.app) ?? new Set<string>();
        keys.add(row.job_key);
        rearm.set(row.app, keys);
      }
      items[e.index] = { ok: true, run: toRun(row), retry: retries.get(e.index) ?? null };
    }
    for (const [app, keys] of rearm) await this.#rearmMany(c, app, [...keys]);
    return items as CompleteRunsItem[];
  }

  /** A bound value cast to a 64-bit integer (for `CASE` arms, whose type the server cannot infer). */
  #bigint(v: unknown): RawBuilder<unknown> {
    const type = this.#d.name === 'postgres' ? 'bigint' : this.#d.name === 'mysql' ? 'signed' : 'integer';
    return sql`cast(${v} as ${sql.raw(type)})`;
  }

  /** Cancels a pending run, or asks a running one to stop; see `Store.cancelRun`. */
  async cancelRun(runId: string, reason: string): Promise<RunRecord> {
    const id = parseId(runId);
    if (id === null) throw new NotFoundError('run', runId);
    return this.#tx('cancelRun', async (c) => {
      const row = await this.#runById(c.trx, id, true);
      if (!row) throw new NotFoundError('run', runId);
      if (row.state === 'pending') {
        const [done] = await this.#finish(c, [row], 'cancelled', reason, true);
        this.#event(c, 'runs', row.app);
        return toRun(done!);
      }
      if (row.state === 'running') {
        await c.trx
          .updateTable(this.#t.runs)
          .set({ cancel_requested: 1, reason: encText(reason) })
          .where('id', '=', id)
          .execute();
        return toRun({ ...row, cancel_requested: 1, reason: encText(reason) });
      }
      return toRun(row);
    });
  }

  /** The run, or null. */
  async getRun(runId: string): Promise<RunRecord | null> {
    const id = parseId(runId);
    if (id === null) return null;
    return this.#read('getRun', async (db) => {
      const [row] = await this.#readRows(db, 'getRun', [id], () =>
        db.selectFrom(this.#t.runs).select(RUN_COLUMNS).where('id', '=', id),
      );
      return row ? toRun(row) : null;
    });
  }

  /**
   * Runs newest first by id, filtered, one keyset page. The summary view reads every column but
   * `params` and `result` (see `RunView`): less for the database to send and for pg to parse.
   */
  async listRuns(filter: RunFilter, page?: PageRequest, view?: RunView): Promise<Page<RunRecord>> {
    const limit = page?.limit ?? DEFAULT_PAGE;
    const before = page?.cursor ? decodeCursor(page.cursor, 1)[0]! : null;
    const beforeId = before === null ? null : parseId(before);
    if (before !== null && beforeId === null) decodeCursor('', 1);
    const parent = filter.parentRunId === undefined ? undefined : parseId(filter.parentRunId);
    if (parent === null || (filter.states !== undefined && filter.states.length === 0)) {
      return { items: [], nextCursor: null };
    }
    const summary = view === 'summary';
    const columns = summary ? RUN_SUMMARY_COLUMNS : RUN_COLUMNS;
    // the statement's shape and its values in statement order (see `#readRows`)
    let shape = summary ? 'listRuns:summary' : 'listRuns';
    const params: unknown[] = [];
    const value = (name: string, v: unknown) => {
      shape += `|${name}`;
      params.push(v);
    };
    if (filter.app !== undefined) value('app', filter.app);
    if (filter.jobKey !== undefined) value('job', filter.jobKey);
    if (filter.handler !== undefined) value('handler', filter.handler);
    if (filter.nodeId !== undefined) value('node', filter.nodeId);
    for (const s of filter.states ?? []) value('state', s);
    if (filter.trigger !== undefined) value('trigger', filter.trigger);
    if (filter.from !== undefined) value('from', filter.from);
    if (filter.to !== undefined) value('to', filter.to);
    if (parent !== undefined) value('parent', parent);
    if (beforeId !== null) value('before', beforeId);
    value('limit', limit + 1);
    const sqlite = this.#d.name === 'sqlite';
    const narrowed =
      filter.handler !== undefined ||
      filter.nodeId !== undefined ||
      filter.states !== undefined ||
      filter.trigger !== undefined ||
      filter.from !== undefined ||
      filter.to !== undefined ||
      parent !== undefined;
    // The page's ids first (an index-only read), then their rows: with a job everywhere (the
    // job's (job, state, time) index), and on SQLite with any filter. SQLite has no statistics
    // unless someone runs ANALYZE, and without them it reads a filtered page by sorting every
    // matching row whole (the newest 10 failures: 23 ms at 200,000 runs, 1.4 ms as ids first).
    const idsFirst = filter.jobKey !== undefined || (sqlite && narrowed);
    // SQLite, an app's newest runs with no other filter: `+app` makes it walk the table from the
    // newest id (the page's rows and no more) instead of sorting every run of the app it finds
    // through an index on app (30 ms at 200,000 runs, 0.1 ms walked).
    const walkNewest = sqlite && filter.app !== undefined && filter.jobKey === undefined && !narrowed;
    return this.#read('listRuns', async (db) => {
      // a job's runs in a time window: read through the job's (job, state, time) index
      const windowed = filter.jobKey !== undefined && (filter.from !== undefined || filter.to !== undefined);
      const rows = await this.#readRows(db, shape, params, () => {
        let q = db.selectFrom(this.#t.runs).select('id');
        if (filter.app !== undefined) {
          q = walkNewest
            ? q.where(sql<string>`+${sql.ref('app')}`, '=', filter.app)
            : q.where('app', '=', filter.app);
        }
        if (filter.jobKey !== undefined) q = q.where('job_key', '=', filter.jobKey);
        if (filter.handler !== undefined) q = q.where('handler', '=', filter.handler);
        if (filter.nodeId !== undefined) q = q.where('owner_node', '=', filter.nodeId);
        if (filter.states !== undefined) q = q.where('state', 'in', filter.states);
        if (filter.trigger !== undefined) q = q.where('trig', '=', filter.trigger);
        if (filter.from !== undefined) q = q.where('created_at', '>=', filter.from);
        if (filter.to !== undefined) q = q.where('created_at', '<', filter.to);
        if (parent !== undefined) q = q.where('parent_run_id', '=', parent);
        if (beforeId !== null) q = q.where('id', '<', beforeId);
        // With a job and a time window, `id + 0` keeps the planner off a backward walk of the primary key:
        // it cannot see that ids rise with created_at, so for a window far from the newest runs
        // it expects the first matches early and walks every newer run instead (458 ms for a
        // week of one job, 13 days back, at 1M runs on PostgreSQL, against 7.7 ms for the
        // window's index entries and a top-N sort).
        q = q.orderBy(windowed ? sql`${sql.ref('id')} + 0` : 'id', 'desc').limit(limit + 1);
        return idsFirst
          ? db
              .selectFrom(q.as('p'))
              .innerJoin(`${this.#t.runs} as r`, 'r.id', 'p.id')
              .select(columns.map((c) => `r.${c}` as const))
              .orderBy('r.id', 'desc')
          : q.clearSelect().select(columns);
      });
      const items = rows.slice(0, limit).map(toRun);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
    });
  }

  /** Counts of the app's runs in each asked state (0 included), one grouped statement. */
  async countRuns(app: string, states: RunState[]): Promise<Partial<Record<RunState, number>>> {
    const counts: Partial<Record<RunState, number>> = {};
    for (const s of states) counts[s] = 0;
    if (states.length === 0) return counts;
    return this.#read('countRuns', async (db) => {
      const rows = await db
        .selectFrom(this.#t.runs)
        .select((eb) => ['state', eb.fn.countAll().as('n')])
        .where('app', '=', app)
        .where('state', 'in', states)
        .groupBy('state')
        .execute();
      for (const r of rows) counts[r.state as RunState] = num(r.n);
      return counts;
    });
  }

  // ---- nodes and leases ----------------------------------------------------------------------

  /** Joins a node with a new, higher incarnation; see `Store.registerNode`. */
  async registerNode(info: NodeInfo): Promise<NodeRecord> {
    return this.#tx('registerNode', async (c) => {
      const t = this.#t;
      await this.#d.insertIgnore(c.trx, t.nodeSeq, { app: info.app, node_id: info.nodeId, incarnation: 0 });
      await c.trx
        .updateTable(t.nodeSeq)
        .set({ incarnation: sql`incarnation + 1` })
        .where('app', '=', info.app)
        .where('node_id', '=', info.nodeId)
        .execute();
      const seq = await c.trx
        .selectFrom(t.nodeSeq)
        .select('incarnation')
        .where('app', '=', info.app)
        .where('node_id', '=', info.nodeId)
        .executeTakeFirstOrThrow();
      const previous = await c.trx
        .selectFrom(t.nodes)
        .select('desired_state')
        .where('app', '=', info.app)
        .where('node_id', '=', info.nodeId)
        .executeTakeFirst();
      const desired = (previous?.desired_state ?? null) as NodeRecord['desiredState'];
      const row: Row = {
        app: info.app,
        node_id: info.nodeId,
        host: encText(info.host),
        pid: info.pid,
        version: encText(info.version),
        handlers: toJson(info.handlers),
        weight: info.weight,
        concurrency: info.concurrency,
        incarnation: num(seq.incarnation),
        state: desired ?? 'active',
        desired_state: desired,
        running: 0,
        joined_at: c.now,
        last_heartbeat_at: c.now,
      };
      await c.trx
        .deleteFrom(t.nodes)
        .where('app', '=', info.app)
        .where('node_id', '=', info.nodeId)
        .execute();
      await c.trx.insertInto(t.nodes).values(row).execute();
      await this.#bumpMembership(c, info.app);
      return toNode(row);
    });
  }

  /** Liveness, run leases, leader renewal and read-backs in one transaction; see `Store.heartbeat`. */
  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
    return this.#tx('heartbeat', async (c) => {
      const t = this.#t;
      const node = await this.#requireNode(c, request.app, request.nodeId, request.incarnation, 'heartbeat');
      await c.trx
        .updateTable(t.nodes)
        .set({ state: request.state, running: request.running, last_heartbeat_at: c.now })
        .where('app', '=', request.app)
        .where('node_id', '=', request.nodeId)
        .execute();
      const cancelRunIds: string[] = [];
      const lostRunIds: string[] = [];
      const ids = request.runs.map((r) => parseId(r.runId)).filter((id): id is number => id !== null);
      const rows = new Map<number, Row>();
      for (const part of chunks(ids)) {
        const found = await c.trx
          .selectFrom(t.runs)
          .select(['id', 'app', 'state', 'owner_node', 'owner_incarnation', 'cancel_requested'])
          .where('id', 'in', part)
          .execute();
        for (const r of found) rows.set(num(r.id), r);
      }
      const owned: number[] = [];
      for (const reported of request.runs) {
        const id = parseId(reported.runId);
        const run = id === null ? undefined : rows.get(id);
        if (
          !run ||
          run.app !== request.app ||
          run.state !== 'running' ||
          run.owner_node !== request.nodeId ||
          num(run.owner_incarnation) !== request.incarnation
        ) {
          lostRunIds.push(reported.runId);
          continue;
        }
        owned.push(id!);
        if (reported.progress !== undefined) {
          await c.trx
            .updateTable(t.runs)
            .set({ progress: reported.progress })
            .where('id', '=', id!)
            .execute();
        }
        if (num(run.cancel_requested) === 1) cancelRunIds.push(reported.runId);
      }
      for (const part of chunks(owned)) {
        await c.trx
          .updateTable(t.runs)
          .set({ lease_expires_at: c.now + request.runLeaseMs })
          .where('id', 'in', part)
          .execute();
      }
      if (request.leader) {
        await c.trx
          .updateTable(t.apps)
          .set({ leader_expires_at: c.now + request.leader.ttlMs })
          .where('app', '=', request.app)
          .where('leader_epoch', '=', request.leader.epoch)
          .where('leader_node', '=', request.nodeId)
          .where('leader_incarnation', '=', request.incarnation)
          .where('leader_expires_at', '>', c.now)
          .execute();
      }
      const app = await c.trx
        .selectFrom(t.apps)
        .selectAll()
        .where('app', '=', request.app)
        .executeTakeFirst();
      return {
        now: c.now,
        cancelRunIds,
        lostRunIds,
        desiredState: (node.desired_state ?? null) as NodeRecord['desiredState'],
        partitionGeneration: app ? num(app.map_generation) : 0,
        membershipVersion: app ? num(app.membership_version) : 0,
        leader: toLease(app),
      };
    });
  }

  /** Marks the node offline and releases its leader lease; see `Store.leaveNode`. */
  async leaveNode(app: string, nodeId: string, incarnation: number): Promise<void> {
    await this.#tx('leaveNode', async (c) => {
      const r = await c.trx
        .updateTable(this.#t.nodes)
        .set({ state: 'offline' })
        .where('app', '=', app)
        .where('node_id', '=', nodeId)
        .where('incarnation', '=', incarnation)
        .executeTakeFirst();
      if (affected(r) === 0) return;
      await this.#bumpMembership(c, app);
      await c.trx
        .updateTable(this.#t.apps)
        .set({ leader_expires_at: c.now })
        .where('app', '=', app)
        .where('leader_node', '=', nodeId)
        .where('leader_incarnation', '=', incarnation)
        .where('leader_expires_at', '>', c.now)
        .execute();
    });
  }

  /** Records an operator's drain, pause or resume; see `Store.setNodeDesiredState`. */
  async setNodeDesiredState(
    app: string,
    nodeId: string,
    desired: 'active' | 'draining' | 'paused',
  ): Promise<NodeRecord> {
    return this.#tx('setNodeDesiredState', async (c) => {
      const row = await c.trx
        .selectFrom(this.#t.nodes)
        .selectAll()
        .where('app', '=', app)
        .where('node_id', '=', nodeId)
        .executeTakeFirst();
      if (!row) throw new NotFoundError('node', nodeId);
      await c.trx
        .updateTable(this.#t.nodes)
        .set({ desired_state: desired })
        .where('app', '=', app)
        .where('node_id', '=', nodeId)
        .execute();
      await this.#bumpMembership(c, app);
      return toNode({ ...row, desired_state: desired });
    });
  }

  /** Forgets a node (fencing it) and expires its leader lease; see `Store.removeNode`. */
  async removeNode(app: string, nodeId: string): Promise<boolean> {
    return this.#tx('removeNode', async (c) => {
      const r = await c.trx
        .deleteFrom(this.#t.nodes)
        .where('app', '=', app)
        .where('node_id', '=', nodeId)
        .executeTakeFirst();
      if (affected(r) === 0) return false;
      await this.#bumpMembership(c, app);
      await c.trx
        .updateTable(this.#t.apps)
        .set({ leader_expires_at: c.now })
        .where('app', '=', app)
        .where('leader_node', '=', nodeId)
        .where('leader_expires_at', '>', c.now)
        .execute();
      return true;
    });
  }

  /** The app's nodes by id. */
  async listNodes(app: string): Promise<NodeRecord[]> {
    return this.#read('listNodes', async (db) => {
      const rows = await db
        .selectFrom(this.#t.nodes)
        .selectAll()
        .where('app', '=', app)
        .orderBy('node_id')
        .execute();
      return rows.map(toNode);
    });
  }

  /** Takes or renews the leader lease under the app row's lock; see `Store.acquireLeadership`. */
  async acquireLeadership(request: {
    app: string;
    nodeId: string;
    incarnation: number;
    ttlMs: number;
  }): Promise<LeaderLease> {
    return this.#tx('acquireLeadership', async (c) => {
      await this.#requireNode(c, request.app, request.nodeId, request.incarnation, 'acquire leadership');
      const row = await this.#appRow(c, request.app);
      const lease = toLease(row);
      const expiresAt = c.now + request.ttlMs;
      if (lease && lease.expiresAt > c.now) {
        if (lease.nodeId !== request.nodeId || lease.incarnation !== request.incarnation) return lease;
        await c.trx
          .updateTable(this.#t.apps)
          .set({ leader_expires_at: expiresAt })
          .where('app', '=', request.app)
          .execute();
        return { ...lease, expiresAt };
      }
      const next: LeaderLease = {
        nodeId: request.nodeId,
        incarnation: request.incarnation,
        epoch: num(row.leader_epoch) + 1,
        expiresAt,
      };
      await c.trx
        .updateTable(this.#t.apps)
        .set({
          leader_node: next.nodeId,
          leader_incarnation: next.incarnation,
          leader_epoch: next.epoch,
          leader_expires_at: next.expiresAt,
        })
        .where('app', '=', request.app)
        .execute();
      return next;
    });
  }

  /** The lease, expired or not, or null. */
  async getLeader(app: string): Promise<LeaderLease | null> {
    return this.#read('getLeader', async (db) =>
      toLease(await db.selectFrom(this.#t.apps).selectAll().where('app', '=', app).executeTakeFirst()),
    );
  }

  /** Expires the lease now if this node holds this epoch. */
  async resignLeadership(app: string, nodeId: string, epoch: number): Promise<void> {
    await this.#tx('resignLeadership', async (c) => {
      await c.trx
        .updateTable(this.#t.apps)
        .set({ leader_expires_at: c.now })
        .where('app', '=', app)
        .where('leader_node', '=', nodeId)
        .where('leader_epoch', '=', epoch)
        .where('leader_expires_at', '>', c.now)
        .execute();
    });
  }

  /** Writes the partition map under the leader's epoch; see `Store.writePartitionMap`. */
  async writePartitionMap(request: {
    app: string;
    epoch: number;
    assignments: Record<string, number[]>;
  }): Promise<PartitionMap> {
    return this.#tx('writePartitionMap', async (c) => {
      const row = await this.#requireLeader(c, request.app, request.epoch, 'write the partition map');
      const map: PartitionMap = {
        generation: num(row.map_generation) + 1,
        epoch: request.epoch,
        assignments: JSON.parse(toJson(request.assignments)) as Record<string, number[]>,
      };
      await c.trx
        .updateTable(this.#t.apps)
        .set({
          map_generation: map.generation,
          map_epoch: map.epoch,
          map_assignments: toJson(map.assignments),
        })
        .where('app', '=', request.app)
        .execute();
      return map;
    });
  }

  /** The map, or generation 0 with no assignments. */
  async getPartitionMap(app: string): Promise<PartitionMap> {
    return this.#read('getPartitionMap', async (db) => {
      const row = await db.selectFrom(this.#t.apps).selectAll().where('app', '=', app).executeTakeFirst();
      if (!row) return { generation: 0, epoch: 0, assignments: {} };
      return {
        generation: num(row.map_generation),
        epoch: num(row.map_epoch),
        assignments: JSON.parse(String(row.map_assignments)) as Record<string, number[]>,
      };
    });
  }

  /** Marks silent nodes offline and their runs lost, with retries, in one transaction; see `Store.reapDeadNodes`. */
  async reapDeadNodes(request: ReapRequest): Promise<ReapResult> {
    return this.#tx('reapDeadNodes', async (c) => {
      const t = this.#t;
      await this.#requireLeader(c, request.app, request.epoch, 'reap dead nodes');
      const silent = await c.trx
        .selectFrom(t.nodes)
        .select('node_id')
        .where('app', '=', request.app)
        .where('state', '<>', 'offline')
        .where('last_heartbeat_at', '<', c.now - request.nodeTtlMs)
        .orderBy('node_id')
        .execute();
      const offlineNodes = silent.map((n) => String(n.node_id));
      for (const part of chunks(offlineNodes)) {
        await c.trx
          .updateTable(t.nodes)
          .set({ state: 'offline' })
          .where('app', '=', request.app)
          .where('node_id', 'in', part)
          .execute();
      }
      if (offlineNodes.length > 0) await this.#bumpMembership(c, request.app);
      const limit = request.limit ?? 1000;
      const candidates = await c.trx
        .selectFrom(`${t.runs} as r`)
        .leftJoin(`${t.nodes} as n`, (j) =>
          j.onRef('n.app', '=', 'r.app').onRef('n.node_id', '=', 'r.owner_node'),
        )
        .selectAll('r')
        .select(['n.node_id as n_node_id', 'n.incarnation as n_incarnation', 'n.state as n_state'])
        .where('r.app', '=', request.app)
        .where('r.state', '=', 'running')
        .where((eb) =>
          eb.or([
            eb('n.node_id', 'is', null),
            eb('n.incarnation', '<>', eb.ref('r.owner_incarnation')),
            eb('n.state', '=', 'offline'),
            eb('r.lease_expires_at', 'is', null),
            eb('r.lease_expires_at', '<=', c.now),
          ]),
        )
        .orderBy('r.id')
        .limit(limit)
        .execute();
      let confirmed = candidates;
      if (this.#d.rowLocks && candidates.length > 0) {
        // lock them and keep those still running: a completion may have committed meanwhile
        const locked = await c.trx
          .selectFrom(t.runs)
          .select('id')
          .where(
            'id',
            'in',
            candidates.map((r) => num(r.id)),
          )
          .where('state', '=', 'running')
          .forUpdate()
          .execute();
        const ids = new Set(locked.map((r) => num(r.id)));
        confirmed = candidates.filter((r) => ids.has(num(r.id)));
      }
      const lost: RunRecord[] = [];
      const retries: RunRecord[] = [];
      for (const run of confirmed) {
        const reason =
          run.n_node_id === null || run.n_node_id === undefined
            ? `node '${run.owner_node}' was removed`
            : num(run.n_incarnation) !== num(run.owner_incarnation)
              ? `node '${run.owner_node}' restarted`
              : run.n_state === 'offline'
                ? `node '${run.owner_node}' went offline`
                : 'run lease expired';
        const { n_node_id: _a, n_incarnation: _b, n_state: _c, ...row } = run;
        const retryLeft = lostRunRetries({
          attempt: num(row.attempt),
          retry: JSON.parse(String(row.retry)) as RunRecord['retry'],
        });
        const [done] = await this.#finish(c, [row], 'lost', reason, !retryLeft);
        lost.push(toRun(done!));
        if (retryLeft) {
          const prev = toRun(row);
          const { run: retry } = await this.#insertRun(c, {
            app: prev.app,
            jobKey: prev.jobKey,
            handler: prev.handler,
            params: prev.params,
            trigger: 'retry',
            scheduledFor: prev.scheduledFor,
            attempt: prev.attempt + 1,
            retry: prev.retry,
            timeoutMs: prev.timeoutMs,
            shardIndex: prev.shardIndex,
            shardTotal: prev.shardTotal,
            priority: prev.priority,
            block: prev.block,
            routing: prev.routing,
            targetNode: null,
            idempotencyKey: null,
            parentRunId: prev.id,
          });
          retries.push(retry);
        }
      }
      if (lost.length > 0) this.#event(c, 'runs', request.app);
      return { offlineNodes, lost, retries };
    });
  }

  /** Moves pending targeted runs; see `Store.retargetRuns`. */
  async retargetRuns(request: RetargetRequest): Promise<number> {
    return this.#tx('retargetRuns', async (c) => {
      await this.#requireLeader(c, request.app, request.epoch, 'retarget runs');
      let moved = 0;
      for (const move of request.moves) {
        const id = parseId(move.runId);
        if (id === null) continue;
        let q = c.trx
          .updateTable(this.#t.runs)
          .set({ target_node: move.to })
          .where('id', '=', id)
          .where('app', '=', request.app)
          .where('state', '=', 'pending');
        q = move.from === null ? q.where('target_node', 'is', null) : q.where('target_node', '=', move.from);
        moved += affected(await q.executeTakeFirst());
      }
      if (moved > 0) this.#event(c, 'runs', request.app);
      return moved;
    });
  }

  // ---- logs, audit, stats, retention ---------------------------------------------------------

  /**
   * Appends numbered log lines in one transaction: each run's line counter is read under its row
   * lock, lines are inserted in multi-row batches, the line reaching the cap becomes a `warn`
   * saying the log was truncated. See `Store.appendLogs`.
   */
  async appendLogs(lines: RunLogDraft[]): Promise<void> {
    const ids = [...new Set(lines.map((l) => parseId(l.runId)).filter((id): id is number => id !== null))];
    if (ids.length === 0) return;
    await this.#tx('appendLogs', async (c) => {
      const counts = new Map<number, number>();
      for (const part of chunks(ids)) {
        let q = c.trx
          .selectFrom(this.#t.runs)
          .select(['id', 'log_lines'])
          .where('id', 'in', part)
          .orderBy('id');
        if (this.#d.rowLocks) q = q.forUpdate();
        for (const r of await q.execute()) counts.set(num(r.id), num(r.log_lines));
      }
      const before = new Map(counts);
      const rows: Row[] = [];
      for (const line of lines) {
        const id = parseId(line.runId);
        if (id === null || !counts.has(id)) continue;
        const seq = counts.get(id)! + 1;
        if (seq > this.#maxLogLines) continue;
        counts.set(id, seq);
        const truncated = seq === this.#maxLogLines;
        rows.push({
          run_id: id,
          seq,
          level: truncated ? 'warn' : line.level,
          message: truncated
            ? `log truncated: this run reached its cap of ${this.#maxLogLines} lines; later lines are dropped`
            : encText(line.message),
          fields: truncated || line.fields === null ? null : toJson(line.fields),
          ts: line.ts,
        });
      }
      for (const part of chunks(rows, 200)) await c.trx.insertInto(this.#t.runLogs).values(part).execute();
      for (const [id, n] of counts) {
        if (before.get(id) !== n) {
          await c.trx.updateTable(this.#t.runs).set({ log_lines: n }).where('id', '=', id).execute();
        }
      }
    });
  }

  /** Lines after `afterSeq`, in order, at most `limit`. */
  async readLogs(runId: string, afterSeq: number, limit: number): Promise<RunLogLine[]> {
    const id = parseId(runId);
    if (id === null || limit <= 0) return [];
    return this.#read('readLogs', async (db) => {
      const rows = await db
        .selectFrom(this.#t.runLogs)
        .selectAll()
        .where('run_id', '=', id)
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        runId: formatId(r.run_id),
        level: r.level,
        message: decText(r.message),
        fields: r.fields === null || r.fields === undefined ? null : JSON.parse(String(r.fields)),
        ts: num(r.ts),
        seq: num(r.seq),
      }));
    });
  }

  /** Appends an audit entry with id and store time. */
  async appendAudit(entry: AuditDraft): Promise<AuditRecord> {
    return this.#tx('appendAudit', async (c) => {
      const row: Row = {
        app: entry.app,
        actor: entry.actor,
        action: entry.action,
        target_type: entry.targetType,
        target_id: entry.targetId,
        before_json: toJson(entry.before),
        after_json: toJson(entry.after),
        at: c.now,
      };
      let id: unknown;
      if (this.#d.returning) {
        id = (await c.trx.insertInto(this.#t.audit).values(row).returning('id').executeTakeFirstOrThrow()).id;
      } else {
        id = (await c.trx.insertInto(this.#t.audit).values(row).executeTakeFirstOrThrow()).insertId;
      }
      return toAudit({ ...row, id });
    });
  }

  /** Audit entries newest first, filtered, one keyset page. */
  async listAudit(filter: AuditFilter, page?: PageRequest): Promise<Page<AuditRecord>> {
    const limit = page?.limit ?? DEFAULT_PAGE;
    const before = page?.cursor ? decodeCursor(page.cursor, 1)[0]! : null;
    const beforeId = before === null ? null : parseId(before);
    if (before !== null && beforeId === null) decodeCursor('', 1);
    return this.#read('listAudit', async (db) => {
      let q = db.selectFrom(this.#t.audit).selectAll();
      if (filter.app !== undefined) q = q.where('app', '=', filter.app);
      if (filter.actor !== undefined) q = q.where('actor', '=', filter.actor);
      if (filter.targetType !== undefined) q = q.where('target_type', '=', filter.targetType);
      if (filter.targetId !== undefined) q = q.where('target_id', '=', filter.targetId);
      if (filter.from !== undefined) q = q.where('at', '>=', filter.from);
      if (filter.to !== undefined) q = q.where('at', '<', filter.to);
      if (beforeId !== null) q = q.where('id', '<', beforeId);
      const rows = await q
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      const items = rows.slice(0, limit).map(toAudit);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
    });
  }

  /** Hourly buckets with `hour` in [from, to), hour ascending; reads only the stats table. */
  async getStats(query: { app?: string; jobKey?: string; from: number; to: number }): Promise<StatsBucket[]> {
    return this.#read('getStats', async (db) => {
      let q = db
        .selectFrom(this.#t.stats)
        .selectAll()
        .where('hour', '>=', query.from)
        .where('hour', '<', query.to);
      if (query.app !== undefined) q = q.where('app', '=', query.app);
      q =
        query.jobKey !== undefined
          ? q.where('job_key', '=', query.jobKey)
          : q.where('job_key', '<>', ALL_JOBS_KEY);
      const rows = await q.orderBy('hour').orderBy('app').orderBy('job_key').execute();
      return rows.map(toBucket);
    });
  }

  /**
   * One bucket per hour with `hour` in [from, to), hour ascending: the app's totals over every job
   * and one-off task (what the dashboard's 24 h trend sums), kept by the same upsert as the
   * per-job buckets, so it reads at most one row per hour. Not part of the `Store` contract yet.
   */
  async getHourlyTotals(query: {
    app: string;
    from: number;
    to: number;
  }): Promise<Array<Omit<StatsBucket, 'jobKey'>>> {
    return this.#read('getHourlyTotals', async (db) => {
      const rows = await db
        .selectFrom(this.#t.stats)
        .selectAll()
        .where('app', '=', query.app)
        .where('job_key', '=', ALL_JOBS_KEY)
        .where('hour', '>=', query.from)
        .where('hour', '<', query.to)
        .orderBy('hour')
        .execute();
      return rows.map((r) => {
        const { jobKey: _, ...bucket } = toBucket(r);
        return bucket;
      });
    });
  }

  /**
   * Deletes final runs (oldest first) and their logs, by age and/or count per app, at most
   * `limit`, in one transaction. See `Store.prune`.
   */
  async prune(request: PruneRequest): Promise<number> {
    if (request.finishedBefore === undefined && request.keepLast === undefined) return 0;
    if (request.limit <= 0) return 0;
    return this.#tx('prune', async (c) => {
      const t = this.#t;
      let ids: number[];
      if (request.keepLast === undefined) {
        let q = c.trx
          .selectFrom(t.runs)
          .select('id')
          .where('state', 'in', FINAL_STATES)
          .where('finished_at', '<', request.finishedBefore!);
        if (request.app !== undefined) q = q.where('app', '=', request.app);
        ids = (await q.orderBy('id').limit(request.limit).execute()).map((r) => num(r.id));
      } else {
        let inner = c.trx
          .selectFrom(t.runs)
          .select((eb) => [
            'id',
            'finished_at',
            sql<number>`row_number() over (partition by ${eb.ref('app')} order by ${eb.ref('id')} desc)`.as(
              'rn',
            ),
          ])
          .where('state', 'in', FINAL_STATES);
        if (request.app !== undefined) inner = inner.where('app', '=', request.app);
        let q = c.trx.selectFrom(inner.as('x')).select('x.id').where('x.rn', '>', request.keepLast);
        if (request.finishedBefore !== undefined) q = q.where('x.finished_at', '<', request.finishedBefore);
        ids = (await q.orderBy('x.id').limit(request.limit).execute()).map((r) => num(r.id));
      }
      for (const part of chunks(ids)) {
        await c.trx.deleteFrom(t.runLogs).where('run_id', 'in', part).execute();
        await c.trx.deleteFrom(t.runs).where('id', 'in', part).execute();
      }
      return ids.length;
    });
  }

  /**
   * Wake-ups of an app: from this process's stores over the same database at once; from every
   * other process through `LISTEN/NOTIFY` on PostgreSQL, and through the event log (checked every
   * `notifyPollMs` while subscribed) on a SQLite file. Listener errors are swallowed.
   */
  subscribe(app: string, listener: (event: StoreEvent) => void): () => void {
    let hub = hubs.get(this.#hubKey);
    if (!hub) {
      hub = new Map();
      hubs.set(this.#hubKey, hub);
    }
    const entry: Listener = (event) => listener(event);
    const local = hub.get(app) ?? new Set<Listener>();
    hub.set(app, local);
    local.add(entry);
    const remote = this.#remote.get(app) ?? new Set<Listener>();
    this.#remote.set(app, remote);
    remote.add(entry);
    const unsubscribe = () => {
      this.#subscriptions.delete(unsubscribe);
      local.delete(entry);
      if (local.size === 0 && hub.get(app) === local) hub.delete(app);
      if (hub.size === 0 && hubs.get(this.#hubKey) === hub) hubs.delete(this.#hubKey);
      this.#remote.get(app)?.delete(entry);
      if (this.#subscriptions.size === 0) this.#stopPolling();
    };
    this.#subscriptions.add(unsubscribe);
    this.#startPolling();
    return unsubscribe;
  }
}
