import type { StoreEvent } from '@oasis/core';
import { jobDraft, runDraft, uniqueApp } from '@oasis/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index';
import { cleanPrefix, REDIS_URL, randomPrefix, redisReachable } from './redis-helpers';
import { pollUntil } from './redis-server';

const reachable = await redisReachable();
const prefix = randomPrefix('notify');

// Skipped only when Redis is unreachable: redisReachable() warned loudly (and failed the run under CI=true).
describe.skipIf(!reachable)('redis store wake-ups over pub/sub', () => {
  let writer: RedisStore;
  let reader: RedisStore;

  beforeAll(async () => {
    writer = createRedisStore({ url: REDIS_URL, prefix });
    reader = createRedisStore({ url: REDIS_URL, prefix });
    await writer.init();
    await reader.init();
  });

  afterAll(async () => {
    await writer.close();
    await reader.close();
    await cleanPrefix(prefix);
  });

  it('job changes publish `jobs`, inserted runs `runs`, only to the app subscribed; unsubscribe stops them', async () => {
    const app = uniqueApp('n');
    const other = uniqueApp('o');
    const heard: StoreEvent[] = [];
    const unsubscribe = reader.subscribe(app, (e) => heard.push(e));
    reader.subscribe(app, () => {
      throw new Error('a throwing listener');
    });
    // The subscription reaches the server asynchronously: publish until it is heard.
    let n = 0;
    await pollUntil(async () => {
      await writer.saveJob(jobDraft(app, `job-${n++}`), null);
      return heard.some((e) => e.type === 'jobs');
    }, 'a jobs event');
    await writer.enqueueRuns([runDraft(other)]);
    await writer.enqueueRuns([runDraft(app)]);
    await pollUntil(async () => heard.some((e) => e.type === 'runs'), 'a runs event');
    expect(heard.every((e) => e.app === app)).toBe(true);

    unsubscribe();
    const marker: StoreEvent[] = [];
    reader.subscribe(app, (e) => marker.push(e));
    const before = heard.length;
    await pollUntil(async () => {
      await writer.enqueueRuns([runDraft(app)]);
      return marker.length > 0;
    }, 'the remaining listener to hear a run');
    expect(heard.length).toBe(before);
  });
});
