import { runDraft, uniqueApp } from '@oasis/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index';
import { cleanPrefix, REDIS_URL, randomPrefix, redisReachable } from './redis-helpers';

const reachable = await redisReachable();
const prefix = randomPrefix('list');

// Skipped only when Redis is unreachable: redisReachable() warned loudly (and failed the run under CI=true).
describe.skipIf(!reachable)('redis store listings over long histories', () => {
  let store: RedisStore;
  /** A second store on the same keys whose clock a test moves (back and forth). */
  let shifted: RedisStore;
  let offset = 0;

  beforeAll(async () => {
    store = createRedisStore({ url: REDIS_URL, prefix });
    await store.init();
    shifted = createRedisStore({ url: REDIS_URL, prefix, clockOffsetMs: () => offset });
    await shifted.init();
  });

  afterAll(async () => {
    await store.close();
    await shifted.close();
    await cleanPrefix(prefix);
  });

  it('the summary view leaves params and result out and keeps every other field, through every index', async () => {
    const app = uniqueApp('summary');
    const node = await store.registerNode({
      app,
      nodeId: 'n1',
      host: 'h',
      pid: 1,
      version: 't',
      handlers: ['h'],
      weight: 1,
      concurrency: 5,
    });
    await store.enqueueRuns([
      runDraft(app, { jobKey: 'j', params: { big: 'x'.repeat(300) } }),
      runDraft(app, { jobKey: 'j', params: { n: 2 } }),
      runDraft(app, { params: { task: 1 } }),
    ]);
    const [claimed] = await store.claimRuns({
      app,
      nodeId: 'n1',
      incarnation: node.incarnation,
      handlers: ['h'],
      limit: 1,
      leaseMs: 60_000,
    });
    await store.completeRun({
      runId: claimed!.id,
      nodeId: 'n1',
      incarnation: node.incarnation,
      outcome: 'failed',
      result: { partial: true },
      error: { name: 'E', message: 'm', stack: 'E: m' },
      durationMs: 3,
    });
    const now = Date.now();
    for (const filter of [
      { app },
      { app, jobKey: 'j' },
      { app, jobKey: 'j', states: ['pending' as const, 'dead' as const] },
      // failed with no retry left: dead
      { app, states: ['dead' as const], from: now - 3_600_000, to: now + 3_600_000 },
    ]) {
      const full = await store.listRuns(filter);
      const summary = await store.listRuns(filter, undefined, 'summary');
      expect(full.items.length, JSON.stringify(filter)).toBeGreaterThan(0);
      expect(full.items.every((r) => r.params !== null)).toBe(true);
      expect(summary.items).toEqual(full.items.map((r) => ({ ...r, params: null, result: null })));
    }
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

  it('a time window starts its walk at the window end: a past window of a busy job reads only that window', async () => {
    const app = uniqueApp('window');
    const at = async (offsetMs: number, n: number, tag: string) => {
      offset = offsetMs;
      const made = await shifted.enqueueRuns(
        Array.from({ length: n }, (_, i) => runDraft(app, { jobKey: 'busy', params: { tag, i } })),
      );
      return made.map((r) => r.run);
    };
    // Past runs (1 h ago), then 6,000 newer ones of the same job (more than a call's scan budget).
    const past = await at(-3_600_000, 30, 'past');
    for (let i = 0; i < 6; i++) await at(0, 1000, `new${i}`);
    const window = { from: past[0]!.createdAt, to: past[past.length - 1]!.createdAt + 1 };
    const page = await shifted.listRuns({ app, jobKey: 'busy', ...window }, { limit: 50 });
    expect(page.items.map((r) => r.id)).toEqual(past.map((r) => r.id).reverse());
    expect(page.nextCursor).toBeNull();

    // Ids that run ahead of the clock (the clock stepped back 10 s) are still found by window.
    const ahead = await at(10_000, 5, 'ahead');
    const behind = await at(0, 5, 'behind');
    expect(behind[0]!.createdAt).toBeLessThan(ahead[0]!.createdAt);
    const recent = await shifted.listRuns(
      { app, jobKey: 'busy', from: behind[0]!.createdAt, to: behind[4]!.createdAt + 1 },
      { limit: 50 },
    );
    expect(recent.items.map((r) => r.id)).toEqual(behind.map((r) => r.id).reverse());
  });
});
