import { nodeInfo, runDraft, uniqueApp } from '@oasis/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index';
import { RedisKeys } from '../src/keys';
import { cleanPrefix, REDIS_URL, randomPrefix, redisReachable, scanKeys } from './redis-helpers';

// A measurement, not a check: run with OASIS_MEASURE_MEMORY=1 (optionally OASIS_MEASURE_RUNS).
const measure = process.env.OASIS_MEASURE_MEMORY === '1';
const reachable = measure && (await redisReachable());
const prefix = randomPrefix('mem');
const RUNS = Number(process.env.OASIS_MEASURE_RUNS ?? 100_000);

async function appBytes(
  raw: Redis,
  pattern: string,
): Promise<{ keys: number; names: string[]; bytes: number }> {
  const keys = await scanKeys(raw, pattern);
  let bytes = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const pipe = raw.pipeline();
    for (const k of keys.slice(i, i + 500)) pipe.memory('USAGE', k, 'SAMPLES', '0');
    for (const [, n] of (await pipe.exec()) ?? []) bytes += Number(n ?? 0);
  }
  return { keys: keys.length, names: keys, bytes };
}

// Skipped only when Redis is unreachable: redisReachable() warned loudly (and failed the run under CI=true).
describe.skipIf(!reachable)('redis store memory per finished run (measurement)', () => {
  let store: RedisStore;
  let raw: Redis;

  beforeAll(async () => {
    store = createRedisStore({ url: REDIS_URL, prefix });
    await store.init();
    raw = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await store.close();
    raw.disconnect();
    await cleanPrefix(prefix);
  });

  it(`${RUNS} finished runs, then pruned`, { timeout: 600_000 }, async () => {
    const app = uniqueApp('mem');
    const pattern = new RedisKeys(prefix).appPattern(app);
    const node = await store.registerNode(nodeInfo(app, 'n1', { concurrency: 1000 }));
    const empty = await appBytes(raw, pattern);
    for (let i = 0; i < RUNS; i += 1000) {
      await store.enqueueRuns(
        Array.from({ length: Math.min(1000, RUNS - i) }, (_, j) =>
          runDraft(app, { jobKey: `job-${(i + j) % 10}`, params: { orderId: i + j } }),
        ),
      );
      const claimed = await store.claimRuns({
        app,
        nodeId: 'n1',
        incarnation: node.incarnation,
        handlers: ['h'],
        limit: 1000,
        leaseMs: 600_000,
      });
      await store.appendLogs(
        claimed.map((r) => ({ runId: r.id, level: 'info' as const, message: 'done', fields: null, ts: 1 })),
      );
      await Promise.all(
        claimed.map((r) =>
          store.completeRun({
            runId: r.id,
            nodeId: 'n1',
            incarnation: node.incarnation,
            outcome: 'succeeded',
            result: { ok: true },
            durationMs: 2,
          }),
        ),
      );
    }
    const full = await appBytes(raw, pattern);
    let pruned = 0;
    for (;;) {
      const n = await store.prune({ app, keepLast: 0, limit: 5000 });
      if (n === 0) break;
      pruned += n;
    }
    const after = await appBytes(raw, pattern);
    const perRun = (full.bytes - empty.bytes) / RUNS;
    console.log(
      `[memory] ${RUNS} finished runs (1 log line, small params/result each): ` +
        `${((full.bytes - empty.bytes) / 1024 / 1024).toFixed(1)} MiB in ${full.keys} keys, ` +
        `${perRun.toFixed(0)} B/run => ${((perRun * 100_000) / 1024 / 1024).toFixed(1)} MiB per 100,000; ` +
        `after prune: ${after.keys} keys, ${(after.bytes / 1024).toFixed(1)} KiB`,
    );
    expect(pruned).toBe(RUNS);
    // Left: what was there before the runs, and the per-app counters, the run index's marker and
    // the hourly stats (as retention.test.ts checks).
    const before = new Set(empty.names);
    for (const k of after.names.filter((name) => !before.has(name)))
      expect(k).toMatch(/:(seq|seqdrift|sjidx|members|stats:\d+|stats:\d+:all|stats:hours)$/);
  });
});
