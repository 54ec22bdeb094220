/**
 * The stores the cluster tests run against, described as plain JSON so a parent test can hand the
 * same configuration to its node processes through an environment variable. One place decides
 * whether a server-backed store is reachable (skip loudly, or fail under `CI=true`, through the
 * stores' own test helpers) and how a store's data is cleaned up afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@oasis/core';
import { createRedisStore } from '@oasis/store-redis';
import { createSqlStore } from '@oasis/store-sql';
import { cleanPrefix, REDIS_URL, redisReachable } from '../../packages/store-redis/test/redis-helpers';
import { dropTables, MYSQL_URL, PG_URL, serverAvailable } from '../../packages/store-sql/test/helpers';

/** Which store a cluster runs on, and where its data lives (JSON, passed to node processes). */
export type StoreConfig =
  | { kind: 'sqlite'; filename: string; prefix: string }
  | { kind: 'postgres'; url: string; prefix: string }
  | { kind: 'mariadb'; url: string; prefix: string }
  | { kind: 'redis'; url: string; prefix: string };

/** The kinds of store the cluster suite covers. */
export type StoreKind = StoreConfig['kind'];

/**
 * Opens a store for a configuration. `migrate` runs the SQL migrations in `init()` (the parent
 * does it once; nodes then only check the schema).
 */
export function openStore(config: StoreConfig, migrate = false): Store {
  switch (config.kind) {
    case 'sqlite':
      return createSqlStore({
        dialect: 'sqlite',
        filename: config.filename,
        tablePrefix: config.prefix,
        migrate,
      });
    case 'postgres':
      return createSqlStore({
        dialect: 'postgres',
        connectionString: config.url,
        tablePrefix: config.prefix,
        migrate,
        pool: { max: 4 },
      });
    case 'mariadb':
      return createSqlStore({
        dialect: 'mysql',
        uri: config.url,
        tablePrefix: config.prefix,
        migrate,
        pool: { connectionLimit: 4 },
      });
    case 'redis':
      return createRedisStore({ url: config.url, prefix: config.prefix });
  }
}

/** A store configuration made for one test file, with its cleanup. */
export interface StoreTarget {
  config: StoreConfig;
  /** Deletes what the cluster wrote (tables of its prefix, keys of its prefix, the SQLite file). */
  cleanup(): Promise<void>;
}

/**
 * A fresh configuration of `kind` with its own file, table prefix or key prefix, or null when its
 * server is unreachable: the stores' helpers then print a loud warning, or throw under `CI=true`.
 */
export async function storeTarget(kind: StoreKind): Promise<StoreTarget | null> {
  const tag = `cl${Math.random().toString(36).slice(2, 7)}${process.pid.toString(36)}_`.replace(
    /[^a-z0-9_]/g,
    '',
  );
  switch (kind) {
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'oasis-cluster-'));
      return {
        config: { kind, filename: join(dir, 'cluster.db'), prefix: tag },
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'postgres':
      if (!(await serverAvailable('postgres', PG_URL))) return null;
      return {
        config: { kind, url: PG_URL, prefix: tag },
        cleanup: () => dropTables('postgres', PG_URL, tag),
      };
    case 'mariadb':
      if (!(await serverAvailable('mysql', MYSQL_URL))) return null;
      return {
        config: { kind, url: MYSQL_URL, prefix: tag },
        cleanup: () => dropTables('mysql', MYSQL_URL, tag),
      };
    case 'redis': {
      if (!(await redisReachable(REDIS_URL))) return null;
      const prefix = `oasistest-${tag.replace(/_/g, '')}`;
      return {
        config: { kind, url: REDIS_URL, prefix },
        cleanup: async () => {
          await cleanPrefix(prefix, REDIS_URL);
        },
      };
    }
  }
}
