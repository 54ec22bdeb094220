import { repoHas } from '../lib/paths';
import type { DrainSystemModule } from './types';

/** A server a benchmark needs. */
export type ServerKind = 'pg' | 'redis' | 'mysql';

/** One system the drain benchmark can measure. */
export interface DrainSystemInfo {
  /** Shown in tables. */
  label: string;
  /** Whether this is Oasis (ratios are Oasis over each peer of its group). */
  oasis: boolean;
  /** The server it needs, if any. */
  server: ServerKind | null;
  /** Why it cannot run yet (a package not landed), or null when it can. */
  unavailable(): string | null;
  /** Loads its module (lazily, so that only what runs is imported). */
  load(): Promise<DrainSystemModule>;
}

const always = () => null;

function needs(...files: string[]): () => string | null {
  return () => {
    const missing = files.filter((f) => !repoHas(f));
    return missing.length === 0 ? null : `not landed yet: ${missing.join(', ')}`;
  };
}

const SQL_STORE = 'packages/store-sql/src/index.ts';
const REDIS_STORE = 'packages/store-redis/src/index.ts';
const ENGINE = 'packages/core/src/scheduler.ts';

/** Every drain system, by key. Keys appear in benchmark ids: `drain:<group>:<key>`. */
export const DRAIN_SYSTEMS: Record<string, DrainSystemInfo> = {
  'graphile-worker': {
    label: 'graphile-worker 0.17',
    oasis: false,
    server: 'pg',
    unavailable: always,
    load: async () => (await import('./graphile-worker')).graphileWorker,
  },
  'pg-boss': {
    label: 'pg-boss 10',
    oasis: false,
    server: 'pg',
    unavailable: always,
    load: async () => (await import('./pg-boss')).pgBoss,
  },
  bullmq: {
    label: 'BullMQ 6',
    oasis: false,
    server: 'redis',
    unavailable: always,
    load: async () => (await import('./bullmq')).bullmq,
  },
  'oasis-pg-store': {
    label: 'Oasis PostgreSQL (store ceiling)',
    oasis: true,
    server: 'pg',
    unavailable: needs(SQL_STORE),
    load: async () => (await import('./oasis-store')).oasisStoreCeiling('postgres'),
  },
  'oasis-sqlite-store': {
    label: 'Oasis SQLite (store ceiling)',
    oasis: true,
    server: null,
    unavailable: needs(SQL_STORE),
    load: async () => (await import('./oasis-store')).oasisStoreCeiling('sqlite'),
  },
  'oasis-mariadb-store': {
    label: 'Oasis MariaDB (store ceiling)',
    oasis: true,
    server: 'mysql',
    unavailable: needs(SQL_STORE),
    load: async () => (await import('./oasis-store')).oasisStoreCeiling('mariadb'),
  },
  'oasis-redis-store': {
    label: 'Oasis Redis (store ceiling)',
    oasis: true,
    server: 'redis',
    unavailable: needs(REDIS_STORE),
    load: async () => (await import('./oasis-store')).oasisStoreCeiling('redis'),
  },
  'oasis-pg': {
    label: 'Oasis PostgreSQL (engine)',
    oasis: true,
    server: 'pg',
    unavailable: needs(ENGINE, SQL_STORE),
    load: async () => (await import('./oasis-engine')).oasisEngine('postgres'),
  },
  'oasis-sqlite': {
    label: 'Oasis SQLite (engine)',
    oasis: true,
    server: null,
    unavailable: needs(ENGINE, SQL_STORE),
    load: async () => (await import('./oasis-engine')).oasisEngine('sqlite'),
  },
  'oasis-mariadb': {
    label: 'Oasis MariaDB (engine)',
    oasis: true,
    server: 'mysql',
    unavailable: needs(ENGINE, SQL_STORE),
    load: async () => (await import('./oasis-engine')).oasisEngine('mariadb'),
  },
  'oasis-redis': {
    label: 'Oasis Redis (engine)',
    oasis: true,
    server: 'redis',
    unavailable: needs(ENGINE, REDIS_STORE),
    load: async () => (await import('./oasis-engine')).oasisEngine('redis'),
  },
};
