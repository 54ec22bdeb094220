import { runDraft, uniqueApp } from '@oasis/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index';
import { cleanPrefix, REDIS_URL, randomPrefix, redisReachable } from './redis-helpers';

const reachable = await redisReachable();
const prefix = randomPrefix('list');

describe.skipIf(!reachable)('redis store listings over long histories', () => {
  let store: RedisStore;

  beforeAll(async () => {
    store = createRedisStore({ url: REDIS_URL, prefix });
    await store.init();
  });

  afterAll(async () => {
    await store.close();
    await cleanPrefix(prefix);
  });

  it('a sparse filter with no index pages in bounded steps and still finds every match exactly once', async () => {
    const app = uniqueApp('sparse');
    const total = 12_000;
    const rare = new Set([17, 6_000, 11_990]);
    const ids: string[] = [];
    for (let i = 0; i < total; i += 1000) {
      const drafts = Array.from({ length: 1000 }, (_, j) =>
        runDraft(app, { trigger: rare.has(i + j) ? 'manual' : 'api', params: { n: i + j } }),
      );
      for (const r of await store.enqueueRuns(drafts)) if (r.run.trigger === 'manual') ids.push(r.run.id);
    }
    const found: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await store.listRuns({ app, trigger: 'manual' }, { limit: 50, cursor });
      found.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(found).toEqual([...ids].reverse());
    // Each call examined a bounded slice of the history, so it took several calls.
    expect(pages).toBeGreaterThan(1);

    // With an index that fits (the state index), one page is enough.
    const running = await store.listRuns({ app, states: ['running'] }, { limit: 50 });
    expect(running).toEqual({ items: [], nextCursor: null });
  });
});
