import { Scheduler } from '@oasis/core';
import { uniqueApp } from '@oasis/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index';
import { cleanPrefix, REDIS_URL, randomPrefix, redisReachable } from './redis-helpers';
import { pollUntil } from './redis-server';

const reachable = await redisReachable();

// The real engine on the Redis store, in real time: two nodes, each with its own connection.
describe.skipIf(!reachable)('the engine on the redis store', () => {
  const prefix = randomPrefix('engine');
  let stores: RedisStore[] = [];
  let schedulers: Scheduler[] = [];

  afterEach(async () => {
    await Promise.all(schedulers.map((s) => s.stop({ timeoutMs: 2000 })));
    await Promise.all(stores.map((s) => s.close()));
    schedulers = [];
    stores = [];
    await cleanPrefix(prefix);
  });

  async function nodes(
    app: string,
    count: number,
    setup: (s: Scheduler, id: string) => void,
  ): Promise<Scheduler[]> {
    for (let i = 0; i < count; i++) {
      const store = createRedisStore({ url: REDIS_URL, prefix });
      stores.push(store);
      const s = new Scheduler({ store, app, nodeId: `node-${i}`, concurrency: 20 });
      setup(s, `node-${i}`);
      schedulers.push(s);
    }
    for (const s of schedulers) await s.start();
    return schedulers;
  }

  it('runs enqueued tasks once each across two nodes, and fires a cron job once per second', async () => {
    const app = uniqueApp('eng');
    const done = new Map<number, string>();
    const ticks: number[] = [];
    const [a] = await nodes(app, 2, (s, id) => {
      s.handle('work', async (ctx) => {
        const n = (ctx.params as { n: number }).n;
        if (done.has(n)) throw new Error(`task ${n} ran twice`);
        done.set(n, id);
        return { n };
      });
      s.handle('tick', (ctx) => {
        ticks.push(ctx.scheduledFor);
      });
      s.job({ key: 'tick', handler: 'tick', schedule: '* * * * * *', block: 'parallel' });
    });
    for (let n = 0; n < 100; n++) await a!.enqueue('work', { n });
    await pollUntil(async () => done.size === 100, '100 tasks to run', 20_000);
    await pollUntil(async () => ticks.length >= 3, 'three cron fires', 20_000);
    expect(new Set(ticks).size).toBe(ticks.length);
    const page = await a!.listRuns({ handler: 'work' }, { limit: 1000 });
    expect(page.items).toHaveLength(100);
    await pollUntil(
      async () =>
        (await a!.listRuns({ handler: 'work', states: ['succeeded'] }, { limit: 1000 })).items.length === 100,
      'every task recorded as succeeded',
    );
  });
});
