/**
 * Shared test plumbing: where the Redis under test is, whether it answers (skip loudly, or fail
 * under CI=true), a random key prefix per file, and cleanup by prefix with SCAN + DEL (never
 * FLUSHALL/FLUSHDB: other suites share the server).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the tests use. */
export const REDIS_URL = process.env.OASIS_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix for one test file. */
export function randomPrefix(tag: string): string {
  return `oasistest-${tag}-${randomBytes(4).toString('hex')}`;
}

/**
 * True when Redis answers PING. When it does not: under `CI=true` throws (the suite must run in
 * CI); otherwise prints a loud warning and returns false, so the caller skips its tests.
 */
export async function redisReachable(url = REDIS_URL): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (process.env.CI === 'true') {
      throw new Error(
        `Redis at ${url} is unreachable under CI=true (${why}): start it or set OASIS_REDIS_URL`,
      );
    }
    console.warn(
      `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n` +
        `!! @oasis/store-redis tests SKIPPED: Redis at ${url} is unreachable (${why}).\n` +
        `!! Start redis-server or set OASIS_REDIS_URL; under CI=true this fails instead.\n` +
        `!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`,
    );
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Every key matching a SCAN pattern. */
export async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key of a prefix (`{<prefix>:…}` and `{<prefix>}:…`); returns how many. */
export async function cleanPrefix(prefix: string, url = REDIS_URL): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    const keys = await scanKeys(client, `{${prefix}[:}]*`);
    for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
    return keys.length;
  } finally {
    client.disconnect();
  }
}
