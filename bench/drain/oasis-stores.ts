import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@oasis/core';
import { createRedisStore } from '@oasis/store-redis';
import { createSqlStore } from '@oasis/store-sql';
import type { BenchConfig } from '../lib/config';

/** The stores a drain can run Oasis on. */
export type OasisStoreKind = 'sqlite' | 'postgres' | 'mariadb' | 'redis';

/** Where one run's Oasis data lives: its own tables, file or keys, removed by `cleanupStore`. */
export interface StorePlace {
  kind: OasisStoreKind;
  runId: string;
  config: BenchConfig;
}

/** The table prefix of a run on a SQL store (within the store's 31-character rule). */
export function tablePrefixOf(runId: string): string {
  return `ob_${runId}_`;
}

/** The SQLite file of a run. */
export function sqliteFileOf(runId: string): string {
  return join(tmpdir(), `oasis-bench-${runId}.db`);
}

/** The Redis key prefix of a run: its keys are `{<prefix>:<app>}:…` and `{<prefix>}:apps`. */
export function redisPrefixOf(runId: string): string {
  return `oasis-bench-${runId}`;
}

/**
 * Opens (and initializes, migrating when `migrate` is true) the Oasis store of a run. Each process
 * opens its own: this is how several nodes share one database.
 */
export async function openStore(place: StorePlace, migrate: boolean): Promise<Store> {
  let store: Store;
  if (place.kind === 'redis') {
    store = createRedisStore({ url: place.config.redisUrl, prefix: redisPrefixOf(place.runId) });
  } else {
    const common = { tablePrefix: tablePrefixOf(place.runId), migrate };
    store =
      place.kind === 'sqlite'
        ? createSqlStore({ dialect: 'sqlite', filename: sqliteFileOf(place.runId), ...common })
        : place.kind === 'postgres'
          ? createSqlStore({
              dialect: 'postgres',
              connectionString: place.config.pgUrl,
              ...common,
              // OASIS_BENCH_PG_POOL: the pool size per process, to compare against the store's default
              ...(process.env.OASIS_BENCH_PG_POOL
                ? { pool: { max: Number(process.env.OASIS_BENCH_PG_POOL) } }
                : {}),
            })
          : createSqlStore({ dialect: 'mysql', uri: place.config.mysqlUrl, ...common });
  }
  await store.init();
  return store;
}

function likeEscape(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Removes what a run left: its prefixed tables, its SQLite file, or its app's Redis keys. */
export async function cleanupStore(place: StorePlace): Promise<void> {
  const prefix = tablePrefixOf(place.runId);
  if (place.kind === 'sqlite') {
    const file = sqliteFileOf(place.runId);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  } else if (place.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: place.config.pgUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ t: string }>(
        `select quote_ident(table_schema) || '.' || quote_ident(table_name) as t
           from information_schema.tables where table_schema = current_schema() and table_name like $1`,
        [`${likeEscape(prefix)}%`],
      );
      if (rows.length > 0)
        await client.query(`drop table if exists ${rows.map((r) => r.t).join(', ')} cascade`);
    } finally {
      await client.end();
    }
  } else if (place.kind === 'mariadb') {
    const mysql = await import('mysql2/promise');
    const conn = await mysql.createConnection({ uri: place.config.mysqlUrl });
    try {
      const [rows] = await conn.query(
        'select table_name as t from information_schema.tables where table_schema = database() and table_name like ?',
        [`${likeEscape(prefix)}%`],
      );
      const names = (rows as Array<{ t: string }>).map((r) => `\`${r.t.replace(/`/g, '``')}\``);
      if (names.length > 0) {
        await conn.query('set foreign_key_checks = 0');
        await conn.query(`drop table if exists ${names.join(', ')}`);
      }
    } finally {
      await conn.end();
    }
  } else {
    const { Redis } = await import('ioredis');
    const client = new Redis(place.config.redisUrl);
    try {
      // Every key of the run starts with `{<prefix>` (its hash tag), the prefix unique per run.
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(
          cursor,
          'MATCH',
          `{${redisPrefixOf(place.runId)}*`,
          'COUNT',
          1000,
        );
        cursor = next;
        if (keys.length > 0) await client.del(...keys);
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  }
}
