import type { BenchConfig } from './config';

/** Whether each server answers; the reason when it does not. */
export type ServerStatus = Record<'pg' | 'redis' | 'mysql', string | null>;

async function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkPg(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkRedis(url: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}

async function checkMysql(url: string): Promise<void> {
  const mysql = await import('mysql2/promise');
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 2000 });
  try {
    await conn.ping();
  } finally {
    await conn.end().catch(() => {});
  }
}

async function status(what: string, check: () => Promise<void>): Promise<string | null> {
  try {
    // Generous: on a loaded 2-core machine a connect can take seconds; a dead port fails at once.
    await withTimeout(what, 10_000, check());
    return null;
  } catch (err) {
    return `${what} unreachable: ${(err as Error).message}`;
  }
}

/** Checks each server the benchmarks may use; null means reachable, else the reason. */
export async function checkServers(config: BenchConfig): Promise<ServerStatus> {
  // Load the drivers first, so that the time bound covers the connection only.
  await Promise.all([import('pg'), import('ioredis'), import('mysql2/promise')]);
  const [pg, redis, mysql] = await Promise.all([
    status(`PostgreSQL at ${config.pgUrl}`, () => checkPg(config.pgUrl)),
    status(`Redis at ${config.redisUrl}`, () => checkRedis(config.redisUrl)),
    status(`MariaDB/MySQL at ${config.mysqlUrl}`, () => checkMysql(config.mysqlUrl)),
  ]);
  return { pg, redis, mysql };
}
