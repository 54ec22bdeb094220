import { nodeInfo, uniqueApp } from '@oasis/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index';
import { cleanPrefix, REDIS_URL, randomPrefix, redisReachable } from './redis-helpers';

const reachable = await redisReachable();
const prefix = randomPrefix('members');
// Store time = the server's TIME + this offset, so the reap below needs no sleep.
let offsetMs = 0;

// Skipped only when Redis is unreachable: redisReachable() warned loudly (and failed the run under CI=true).
describe.skipIf(!reachable)('redis store membership version', () => {
  let store: RedisStore;

  beforeAll(async () => {
    store = createRedisStore({ url: REDIS_URL, prefix, clockOffsetMs: () => offsetMs });
    await store.init();
  });

  afterAll(async () => {
    await store.close();
    await cleanPrefix(prefix);
  });

  it('moves on register, desired state, leave, reap and remove; never on a plain heartbeat', async () => {
    const app = uniqueApp('members');
    const a = await store.registerNode(nodeInfo(app, 'a'));
    const beat = async () =>
      (
        await store.heartbeat({
          app,
          nodeId: 'a',
          incarnation: a.incarnation,
          state: 'active',
          running: 0,
          runs: [],
          runLeaseMs: 60_000,
        })
      ).membershipVersion;
    const seen = [await beat()];
    expect(await beat()).toBe(seen[0]);

    const b = await store.registerNode(nodeInfo(app, 'b'));
    seen.push(await beat());
    await store.setNodeDesiredState(app, 'b', 'draining');
    seen.push(await beat());
    await store.leaveNode(app, 'b', b.incarnation);
    seen.push(await beat());
    // A stale incarnation's leave changes nothing, so it does not move the version.
    await store.leaveNode(app, 'b', b.incarnation + 5);
    expect(await beat()).toBe(seen[seen.length - 1]);

    const c = await store.registerNode(nodeInfo(app, 'c'));
    seen.push(await beat());
    const lease = await store.acquireLeadership({
      app,
      nodeId: 'a',
      incarnation: a.incarnation,
      ttlMs: 600_000,
    });
    offsetMs += 10_000;
    await beat(); // keeps `a` alive; `c` stays silent
    const reaped = await store.reapDeadNodes({ app, epoch: lease.epoch, nodeTtlMs: 5_000 });
    expect(reaped.offlineNodes).toEqual(['c']);
    seen.push(await beat());
    // A reap that marks nobody offline does not move it.
    await store.reapDeadNodes({ app, epoch: lease.epoch, nodeTtlMs: 5_000 });
    expect(await beat()).toBe(seen[seen.length - 1]);

    expect(await store.removeNode(app, 'c')).toBe(true);
    seen.push(await beat());
    expect(await store.removeNode(app, 'c')).toBe(false);
    expect(await beat()).toBe(seen[seen.length - 1]);
    expect(c.incarnation).toBeGreaterThan(0);

    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
  });
});
