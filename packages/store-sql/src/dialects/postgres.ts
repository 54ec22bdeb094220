import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Client as PgClient, Pool as PgPool, PoolConfig } from 'pg';
import { defaultPoolSize, type PostgresStoreOptions } from '../options';
import type { Db, SqlDialect, StatsDelta, Trx } from './dialect';
import { statsUpsertQuery, upsertStatsOnConflict } from './shared';

type PgModule = typeof import('pg');

/** At most this many statement texts get a name; later ones run unnamed (parsed every time). */
const MAX_PREPARED = 256;

/**
 * Errors after which a named statement is given up for its text: the table changed under a kept
 * plan (`0A000` "cached plan must not change result type") or the statement is missing on the
 * server connection (`26000`, a pooler that switched connections).
 */
const STALE_STATEMENT = new Set(['0A000', '26000']);

async function loadPg(): Promise<PgModule> {
  const mod = await import('pg');
  return (mod as unknown as { default?: PgModule }).default ?? mod;
}

/**
 * PostgreSQL through pg: a pool, `READ COMMITTED` transactions with `FOR UPDATE SKIP LOCKED`
 * claims, `RETURNING`, and wake-ups through `LISTEN/NOTIFY` on a dedicated connection that
 * reconnects with backoff.
 */
export class PostgresSqlDialect implements SqlDialect {
  readonly name = 'postgres' as const;
  readonly capabilities = { crossProcess: true, notifications: true, skipLocked: true };
  readonly eventLog = false;
  readonly returning = true;
  readonly rowLocks = true;
  readonly nowSql = '(floor(extract(epoch from clock_timestamp()) * 1000))::bigint';
  readonly target: string;
  readonly tableSuffix = null;
  readonly types = {
    key: (n: number) => sql`varchar(${sql.raw(String(Math.trunc(n)))}) collate "C"`,
    text: sql`text`,
    json: sql`text`,
    bigint: sql`bigint`,
    int: sql`integer`,
    double: sql`double precision`,
  };

  readonly #config: PoolConfig;
  #pool: PgPool | null = null;
  readonly #listeners = new Set<PgListener>();
  /** The name of each prepared statement text, `oasis_<n>`; the same on every pooled connection. */
  readonly #statements = new Map<string, string>();
  #statementSeq = 0;

  /** See `SqlDialect.readPrepared`; absent with `preparedReads: false`. */
  readonly readPrepared?: (sql: string, parameters: readonly unknown[]) => Promise<Record<string, unknown>[]>;

  /** Reads the connection options; connects in `connect()`. */
  constructor(options: PostgresStoreOptions) {
    this.#config = {
      max: defaultPoolSize(),
      connectionTimeoutMillis: 10_000,
      ...(options.connectionString ? { connectionString: options.connectionString } : {}),
      ...options.pool,
    };
    const c = this.#config;
    this.target = `postgres:${c.connectionString ?? `${c.host ?? ''}:${c.port ?? ''}/${c.database ?? ''}`}`;
    if (options.preparedReads !== false) {
      this.readPrepared = (text, parameters) => this.#readPrepared(text, parameters);
    }
  }

  /**
   * A named statement through the pool: pg sends Parse once per connection and name, then only
   * Bind/Execute, and the server reuses its plan (PostgreSQL's plan cache decides between a
   * generic and a per-call plan, as for any prepared statement).
   */
  async #readPrepared(text: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]> {
    const pool = this.#pool;
    if (!pool) throw new Error('the PostgreSQL pool is not connected');
    const values = [...parameters];
    let name = this.#statements.get(text);
    if (name === undefined && this.#statements.size < MAX_PREPARED) {
      name = `oasis_${++this.#statementSeq}`;
      this.#statements.set(text, name);
    }
    if (name === undefined) return (await pool.query(text, values)).rows;
    try {
      return (await pool.query({ name, text, values })).rows;
    } catch (err) {
      if (!STALE_STATEMENT.has((err as { code?: string }).code ?? '')) throw err;
      // a kept statement went stale: the next call prepares the text again under a new name
      if (this.#statements.get(text) === name) this.#statements.delete(text);
      return (await pool.query(text, values)).rows;
    }
  }

  /** Creates the pool (connections open on first use). */
  async connect(): Promise<Db> {
    const pg = await loadPg();
    const pool = new pg.Pool(this.#config);
    // an idle client whose server went away: the pool drops it and the next query reconnects
    pool.on('error', () => undefined);
    // a client the pool handed out may learn its server died between two queries: its query
    // fails (and is mapped to StoreUnavailableError) but the 'error' event must not crash the
    // process; pg-pool drops the dead client on release
    pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    this.#pool = pool;
    return new Kysely({ dialect: new PostgresDialect({ pool }) });
  }

  /** A `READ COMMITTED` transaction from the pool. */
  transaction<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
    return db.transaction().setIsolationLevel('read committed').execute(fn);
  }

  /** No serialization needed: the server does it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
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

  /** `INSERT … ON CONFLICT DO UPDATE`: creates or row-locks the key in one statement. */
  async lockKey(trx: Trx, table: string, app: string, jobKey: string): Promise<void> {
    await trx
      .insertInto(table)
      .values({ app, job_key: jobKey })
      .onConflict((oc) => oc.columns(['app', 'job_key']).doUpdateSet({ app: sql`excluded.app` }))
      .execute();
  }

  /** `INSERT … ON CONFLICT DO NOTHING`. */
  async insertIgnore(trx: Trx, table: string, row: Record<string, unknown>): Promise<void> {
    await trx
      .insertInto(table)
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Upsert with `GREATEST(a, b)`. */
  upsertStats(trx: Trx, table: string, deltas: StatsDelta[]): Promise<void> {
    return upsertStatsOnConflict(trx, table, deltas, 'GREATEST');
  }

  /**
   * `SELECT pg_notify(…)` for every payload, in one statement of the transaction: delivered when
   * it commits, dropped if it rolls back.
   */
  async notify(trx: Trx, channel: string, payloads: string[]): Promise<void> {
    if (payloads.length === 0) return;
    await sql`select pg_notify(${channel}, p) from unnest(${payloads}::text[]) as p`.execute(trx);
  }

  /** `WITH s AS (INSERT … ON CONFLICT …) SELECT pg_notify(…)`: the upsert always runs whole. */
  async upsertStatsAndNotify(
    trx: Trx,
    table: string,
    deltas: StatsDelta[],
    channel: string,
    payloads: string[],
  ): Promise<void> {
    if (deltas.length === 0) return this.notify(trx, channel, payloads);
    if (payloads.length === 0) return this.upsertStats(trx, table, deltas);
    const upsert = statsUpsertQuery(trx, table, deltas, 'GREATEST');
    await sql`with s as (${upsert}) select pg_notify(${channel}, p) from unnest(${payloads}::text[]) as p`.execute(
      trx,
    );
  }

  /** `LISTEN` on a dedicated client that reconnects with backoff (100 ms doubling to 5 s). */
  async listen(
    channel: string,
    onPayload: (payload: string) => void,
    onReconnect: () => void,
  ): Promise<() => Promise<void>> {
    const pg = await loadPg();
    const listener = new PgListener(pg, this.#config, channel, onPayload, onReconnect);
    await listener.start();
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
      await listener.stop();
    };
  }

  /** Stops the listeners (the pool is ended by kysely's `destroy()`). */
  async close(): Promise<void> {
    await Promise.all([...this.#listeners].map((l) => l.stop()));
    this.#listeners.clear();
    this.#pool = null;
  }
}

/** One `LISTEN` connection that comes back after the server or the network drops it. */
class PgListener {
  readonly #pg: PgModule;
  readonly #config: PoolConfig;
  readonly #channel: string;
  readonly #onPayload: (payload: string) => void;
  readonly #onReconnect: () => void;
  #client: PgClient | null = null;
  #stopped = false;
  #delay = 100;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    pg: PgModule,
    config: PoolConfig,
    channel: string,
    onPayload: (payload: string) => void,
    onReconnect: () => void,
  ) {
    this.#pg = pg;
    this.#config = config;
    this.#channel = channel;
    this.#onPayload = onPayload;
    this.#onReconnect = onReconnect;
  }

  /** Connects and listens; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const client = new this.#pg.Client(this.#config);
    const lost = () => this.#lost(client);
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (msg.channel === this.#channel && msg.payload !== undefined) this.#onPayload(msg.payload);
    });
    try {
      await client.connect();
      // the channel is the validated table prefix + `events`: an identifier, quoted
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.#stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#delay = 100;
  }

  #lost(client: PgClient): void {
    if (this.#client !== client) return;
    this.#client = null;
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect().then(
        () => {
          if (!this.#stopped) this.#onReconnect();
        },
        () => {
          this.#delay = Math.min(this.#delay * 2, 5000);
          this.#schedule();
        },
      );
    }, this.#delay);
    this.#timer.unref?.();
  }

  /** Stops listening and reconnecting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
