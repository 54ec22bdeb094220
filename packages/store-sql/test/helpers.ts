/**
 * Shared helpers of the store-sql tests: connection strings from the environment, the one place
 * that decides to skip (loudly) or fail (under CI) when a server is unreachable, unique table
 * prefixes, and dropping a prefix's tables.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlStoreOptions } from '../src/options';
import { tableNames } from '../src/tables';

/** PostgreSQL for the tests (`OASIS_PG_URL`). */
export const PG_URL = process.env.OASIS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** MySQL / MariaDB for the tests (`OASIS_MYSQL_URL`). */
export const MYSQL_URL = process.env.OASIS_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** A table prefix unique to this test file run, e.g. `t3k9x2_`. */
export function uniquePrefix(tag = 't'): string {
  return `${tag}${Math.random().toString(36).slice(2, 8)}${process.pid.toString(36)}_`.replace(
    /[^a-z0-9_]/g,
    '',
  );
}

/** A fresh temp directory and its cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'oasis-sql-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Whether a server-backed suite can run. When the server cannot be reached: under `CI=true` this
 * throws (a CI run must not silently skip); otherwise it prints a loud notice and returns false.
 */
export async function serverAvailable(kind: 'postgres' | 'mysql', url: string): Promise<boolean> {
  try {
    if (kind === 'postgres') {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
      client.on('error', () => undefined);
      await client.connect();
      await client.query('select 1');
      await client.end();
    } else {
      const mysql = await import('mysql2/promise');
      const conn = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
      await conn.query('select 1');
      await conn.end();
    }
    return true;
  } catch (err) {
    const message = `${kind} is unreachable at ${url} (${(err as Error).message})`;
    if (process.env.CI === 'true') throw new Error(`${message}: CI=true requires it`);
    console.warn(
      `\n${'!'.repeat(78)}\n!! SKIPPING the ${kind} suite: ${message}.\n!! Start the server or set ${kind === 'postgres' ? 'OASIS_PG_URL' : 'OASIS_MYSQL_URL'}; under CI=true this fails.\n${'!'.repeat(78)}\n`,
    );
    return false;
  }
}

/** Drops every table of `prefix` (and its migration tables) on a server. */
export async function dropTables(kind: 'postgres' | 'mysql', url: string, prefix: string): Promise<void> {
  const t = tableNames(prefix);
  const names = [
    t.runLogs,
    t.jobTags,
    t.jobLocks,
    t.runs,
    t.jobs,
    t.nodes,
    t.nodeSeq,
    t.apps,
    t.audit,
    t.stats,
    t.migrations,
    t.migrationLock,
  ];
  if (kind === 'postgres') {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      for (const n of names) await client.query(`drop table if exists "${n}" cascade`);
    } finally {
      await client.end();
    }
  } else {
    const mysql = await import('mysql2/promise');
    const conn = await mysql.createConnection({ uri: url });
    try {
      for (const n of names) await conn.query(`drop table if exists \`${n}\``);
    } finally {
      await conn.end();
    }
  }
}

/** One database the dialect-generic tests run against. */
export interface Target {
  /** `sqlite`, `postgres` or `mariadb`. */
  label: string;
  /** False when its server is unreachable (the suite skips, loudly). */
  available: boolean;
  /** Options for a store over this database with the given prefix (no `migrate`). */
  options(prefix: string): SqlStoreOptions;
  /** Drops the prefix's tables. */
  drop(prefix: string): Promise<void>;
  /** Runs raw SQL with bound values (`?` placeholders on every database), returns the rows. */
  query(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Releases what `query` opened. */
  close(): Promise<void>;
}

/**
 * Takes a migrated schema back to before migration 0008 (SQLite's partial run indexes): its
 * record removed and, on SQLite, the two claim indexes it replaced back in place. The other
 * indexes it rebuilt keep their names, and 0008 rebuilds them again.
 */
export async function undoPartialRunIndexes(target: Target, prefix: string): Promise<void> {
  const names = tableNames(prefix);
  await target.query(`delete from "${names.migrations}" where name = ?`, ['0008_sqlite_partial_run_indexes']);
  if (target.label !== 'sqlite') return;
  await target.query(`drop index "${prefix}runs_pending_due"`);
  await target.query(`drop index "${prefix}runs_pending_order"`);
  await target.query(`create index "${prefix}runs_claim" on "${names.runs}" (app, state, due_at, priority)`);
  await target.query(
    `create index "${prefix}runs_claim_order" on "${names.runs}" (app, state, priority desc, due_at, id)`,
  );
}

/** The three databases: SQLite on a temp file, PostgreSQL and MariaDB from the environment. */
export async function targets(): Promise<Target[]> {
  const tmp = tempDir();
  const file = join(tmp.dir, 'targets.db');
  const Database = (await import('better-sqlite3')).default;
  let sqliteDb: import('better-sqlite3').Database | null = null;
  const sqlite: Target = {
    label: 'sqlite',
    available: true,
    options: (prefix) => ({ dialect: 'sqlite', filename: file, tablePrefix: prefix }),
    drop: async () => undefined,
    query: async (text, values = []) => {
      sqliteDb ??= new Database(file);
      const stmt = sqliteDb.prepare(text);
      if (stmt.reader) return stmt.all(...values) as Record<string, unknown>[];
      stmt.run(...values);
      return [];
    },
    close: async () => {
      sqliteDb?.close();
      tmp.cleanup();
    },
  };
  const pgUp = await serverAvailable('postgres', PG_URL);
  let pgClient: import('pg').Client | null = null;
  const postgres: Target = {
    label: 'postgres',
    available: pgUp,
    options: (prefix) => ({ dialect: 'postgres', connectionString: PG_URL, tablePrefix: prefix }),
    drop: (prefix) => dropTables('postgres', PG_URL, prefix),
    query: async (text, values = []) => {
      if (!pgClient) {
        const pg = (await import('pg')).default;
        pgClient = new pg.Client({ connectionString: PG_URL });
        pgClient.on('error', () => undefined);
        await pgClient.connect();
      }
      let i = 0;
      const r = await pgClient.query(
        text.replace(/\?/g, () => `$${++i}`),
        values,
      );
      return r.rows;
    },
    close: async () => {
      await pgClient?.end();
    },
  };
  const myUp = await serverAvailable('mysql', MYSQL_URL);
  let myConn: import('mysql2/promise').Connection | null = null;
  const mariadb: Target = {
    label: 'mariadb',
    available: myUp,
    options: (prefix) => ({ dialect: 'mysql', uri: MYSQL_URL, tablePrefix: prefix }),
    drop: (prefix) => dropTables('mysql', MYSQL_URL, prefix),
    query: async (text, values = []) => {
      if (!myConn) {
        const mysql = await import('mysql2/promise');
        myConn = await mysql.createConnection({ uri: MYSQL_URL });
      }
      const [rows] = await myConn.query(text.replace(/"/g, '`'), values);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    },
    close: async () => {
      await myConn?.end();
    },
  };
  return [sqlite, postgres, mariadb];
}
