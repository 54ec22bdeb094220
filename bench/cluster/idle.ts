/**
 * Issue 5: store operations per second of an idle node (goal: 2 or fewer).
 *
 * Two nodes (a leader and a follower, engine defaults) in this process on one store, each seeing
 * the store through its own counting Proxy (`countingStore`), with 10 cron jobs declared in code
 * that are not due for at least an hour and no runs. After a 5 s warm-up (joins, first partition
 * map), every `Store` call is counted per method for the window. Beneath the contract, Redis
 * commands are counted per node (a wrapper around the ioredis client's `sendCommand`, which
 * pipelines go through too) and PostgreSQL statements for both nodes together (`pg.Client#query`,
 * BEGIN and COMMIT included).
 */
import { MemoryStore, Scheduler, type Store } from '@oasis/core';
import { createRedisStore } from '@oasis/store-redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cleanupStore, openStore, redisPrefixOf, type StorePlace } from '../drain/oasis-stores';
import type { BenchConfig } from '../lib/config';
import { sleep, waitFor } from '../lib/stats';
import { countingStore, OpCounter } from './counting-store';

export type IdleKind = 'memory' | 'redis' | 'postgres';

export interface IdleNodeResult {
  nodeId: string;
  leader: boolean;
  /** Store calls per second over the window. */
  opsPerSecond: number;
  /** Per method, calls per second. */
  perMethod: Record<string, number>;
  /** Redis commands per second under this node's store (Redis only). */
  redisCommandsPerSecond?: number;
  redisPerCommand?: Record<string, number>;
}

export interface IdleResult {
  kind: IdleKind;
  windowMs: number;
  nodes: IdleNodeResult[];
  /** PostgreSQL statements per second of both nodes (PostgreSQL only). */
  pgStatementsPerSecond?: number;
}

/** 10 daily cron jobs whose next fire is at least an hour away (UTC). */
function cronsNotDueForAnHour(): string[] {
  const hour = new Date().getUTCHours();
  return Array.from({ length: 10 }, (_, i) => `0 ${(i * 7) % 60} ${(hour + 2 + (i % 20)) % 24} * * *`);
}

function perSecond(counts: Map<string, number>, ms: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) out[k] = (v * 1000) / ms;
  return out;
}

function countedRedis(url: string, counts: Map<string, number>): Redis {
  // The options the store would set on a client of its own (fail fast, no offline queue).
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: 10_000,
  });
  const original = client.sendCommand.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { sendCommand: (...args: unknown[]) => unknown }).sendCommand = (
    ...args: unknown[]
  ) => {
    const name = (args[0] as { name?: string }).name ?? '?';
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return original(...args);
  };
  return client;
}

/** Measures one store kind over `windowMs`. */
export async function runIdle(kind: IdleKind, config: BenchConfig, windowMs: number): Promise<IdleResult> {
  const runId = `id${Date.now().toString(36)}`;
  const app = `bench_${runId}`;
  const place: StorePlace | null =
    kind === 'memory' ? null : { kind: kind === 'redis' ? 'redis' : 'postgres', runId, config };
  if (place) await cleanupStore(place);
  const shared = kind === 'memory' ? new MemoryStore() : null;
  const stores: Store[] = [];
  const clients: Redis[] = [];
  const redisCounts = [new Map<string, number>(), new Map<string, number>()];
  let pgStatements = 0;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const originalQuery = proto.query;
  if (kind === 'postgres') {
    proto.query = function (this: unknown, ...args: unknown[]) {
      pgStatements++;
      return originalQuery.apply(this, args);
    };
  }
  const counters = [new OpCounter(), new OpCounter()];
  const schedulers: Scheduler[] = [];
  try {
    for (let n = 0; n < 2; n++) {
      let store: Store;
      if (shared) store = shared;
      else if (kind === 'redis') {
        const client = countedRedis(config.redisUrl, redisCounts[n] as Map<string, number>);
        clients.push(client);
        store = createRedisStore({ client, prefix: redisPrefixOf(runId) });
        await store.init();
      } else store = await openStore(place as StorePlace, n === 0);
      stores.push(store);
      const scheduler = new Scheduler({
        store: countingStore(store, counters[n] as OpCounter),
        app,
        nodeId: `idle-${n}`,
      });
      scheduler.handle('report', async () => {});
      cronsNotDueForAnHour().forEach((cron, i) => {
        scheduler.job({ key: `daily-${i}`, handler: 'report', schedule: cron });
      });
      schedulers.push(scheduler);
    }
    await (schedulers[0] as Scheduler).start();
    await waitFor('the first node to lead', () => (schedulers[0] as Scheduler).isLeader, 20_000, 20);
    await (schedulers[1] as Scheduler).start();
    await sleep(5_000);
    for (const c of counters) c.reset();
    for (const m of redisCounts) m.clear();
    pgStatements = 0;
    const t0 = performance.now();
    await sleep(windowMs);
    const ms = performance.now() - t0;
    const nodes: IdleNodeResult[] = schedulers.map((s, n) => {
      const c = counters[n] as OpCounter;
      const rc = redisCounts[n] as Map<string, number>;
      let redisTotal = 0;
      for (const v of rc.values()) redisTotal += v;
      return {
        nodeId: s.nodeId,
        leader: s.isLeader,
        opsPerSecond: (c.total() * 1000) / ms,
        perMethod: perSecond(c.counts, ms),
        ...(kind === 'redis'
          ? { redisCommandsPerSecond: (redisTotal * 1000) / ms, redisPerCommand: perSecond(rc, ms) }
          : {}),
      };
    });
    return {
      kind,
      windowMs: ms,
      nodes,
      ...(kind === 'postgres' ? { pgStatementsPerSecond: (pgStatements * 1000) / ms } : {}),
    };
  } finally {
    proto.query = originalQuery;
    await Promise.allSettled(schedulers.map((s) => s.stop({ timeoutMs: 2_000 })));
    await Promise.allSettled(stores.map((s) => s.close()));
    for (const c of clients) c.disconnect();
    if (place) await cleanupStore(place).catch((err: unknown) => console.error('cleanup:', err));
  }
}
