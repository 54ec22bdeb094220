import { jobDraft, nodeInfo, runDraft, uniqueApp } from '@oasis/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index';
import { cleanPrefix, REDIS_URL, randomPrefix, redisReachable } from './redis-helpers';

const reachable = await redisReachable();

// Listings and prune without an app go through the registry of apps: a prefix of its own per test.
describe.skipIf(!reachable)('redis store across apps', () => {
  let store: RedisStore;
  let prefix: string;

  beforeAll(async () => {
    prefix = randomPrefix('apps');
    store = createRedisStore({ url: REDIS_URL, prefix });
    await store.init();
  });

  afterAll(async () => {
    await store.close();
    await cleanPrefix(prefix);
  });

  it('listRuns without an app pages through every app newest first, none twice, none missed', async () => {
    const apps = [uniqueApp('a'), uniqueApp('b'), uniqueApp('c')];
    const made: string[] = [];
    for (let i = 0; i < 30; i++) {
      const [r] = await store.enqueueRuns([runDraft(apps[i % 3]!, { params: { i } })]);
      made.push(r!.run.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await store.listRuns({}, { limit: 7, cursor });
      seen.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
      // A run inserted while paging never breaks the walk.
      if (pages === 2) await store.enqueueRuns([runDraft(apps[1]!)]);
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...made].reverse());
    // Same order as the ids compare (seq first, then app).
    expect(seen).toEqual([...seen].sort().reverse());
  });

  it('listJobs, getStats and prune without an app cover every app', async () => {
    const [a, b] = [uniqueApp('ja'), uniqueApp('jb')];
    await store.saveJob(jobDraft(a, 'same'), null);
    await store.saveJob(jobDraft(b, 'same'), null);
    const jobs = (await store.listJobs({ search: 'same' }, { limit: 1 })).items;
    expect(jobs).toHaveLength(1);
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.listJobs({ search: 'same' }, { limit: 1, cursor });
      all.push(...page.items.map((j) => `${j.key}@${j.app}`));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(all).toEqual([`same@${a}`, `same@${b}`].sort());

    for (const app of [a, b]) {
      const node = await store.registerNode(nodeInfo(app, 'n'));
      await store.enqueueRuns([runDraft(app, { jobKey: 'same' }), runDraft(app)]);
      for (const run of await store.claimRuns({
        app,
        nodeId: 'n',
        incarnation: node.incarnation,
        handlers: ['h'],
        limit: 10,
        leaseMs: 60_000,
      })) {
        await store.completeRun({
          runId: run.id,
          nodeId: 'n',
          incarnation: node.incarnation,
          outcome: 'succeeded',
          durationMs: 5,
        });
      }
    }
    const now = await store.now();
    const stats = await store.getStats({ from: now - 3_600_000, to: now + 3_600_000 });
    const mine = stats.filter((s) => s.app === a || s.app === b);
    expect(mine.map((s) => [s.app, s.jobKey, s.succeeded, s.totalDurationMs, s.maxDurationMs])).toEqual([
      [a, null, 1, 5, 5],
      [a, 'same', 1, 5, 5],
      [b, null, 1, 5, 5],
      [b, 'same', 1, 5, 5],
    ]);
    expect(await store.prune({ keepLast: 0, limit: 1000 })).toBeGreaterThanOrEqual(4);
    expect(await store.countRuns(a, ['succeeded'])).toEqual({ succeeded: 0 });
    expect(await store.countRuns(b, ['succeeded'])).toEqual({ succeeded: 0 });
  });
});
