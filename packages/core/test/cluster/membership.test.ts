import { afterEach, describe, expect, it } from 'vitest';
import type { Scheduler } from '../../src/index';
import { Harness } from '../engine/harness';

// The leader rebalances as soon as the heartbeat's membership version moves, instead of at its
// periodic check (every 10 reaps, ~30 s): on virtual time with the memory store.
describe('leader rebalance on a membership change', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  /** Node ids that own at least one partition in the current map. */
  async function owners(): Promise<string[]> {
    const map = await h.store.getPartitionMap('test');
    return Object.keys(map.assignments)
      .filter((id) => (map.assignments[id] ?? []).length > 0)
      .sort();
  }

  async function stop(s: Scheduler): Promise<void> {
    const stopping = s.stop({ timeoutMs: 0 });
    await h.clock.flush();
    await stopping;
  }

  it('a join, a graceful leave and a drain each move the partitions within one heartbeat', async () => {
    h = new Harness();
    const a = h.scheduler({ nodeId: 'a' });
    await a.start();
    await h.advance(1_000);
    expect(a.isLeader).toBe(true);
    expect(await owners()).toEqual(['a']);

    const b = h.scheduler({ nodeId: 'b' });
    await b.start();
    await h.advance(1_000);
    expect(await owners()).toEqual(['a', 'b']);
    // b follows the map at its own next heartbeat.
    await h.advance(1_000);
    expect(
      h.eventsOf('partitions:assigned').some((e) => e.partitions !== null && e.partitions.length > 0),
    ).toBe(true);

    await stop(b);
    await h.advance(1_000);
    expect(await owners()).toEqual(['a']);
    expect((await h.store.getPartitionMap('test')).assignments.a).toHaveLength(64);

    const c = h.scheduler({ nodeId: 'c' });
    await c.start();
    await h.advance(1_000);
    expect(await owners()).toEqual(['a', 'c']);
    await a.drain('c');
    await h.advance(1_000);
    expect(await owners()).toEqual(['a']);
    await a.resume('c');
    await h.advance(1_000);
    expect(await owners()).toEqual(['a', 'c']);
  });

  it('a steady membership makes no extra check: only the periodic one reads the nodes', async () => {
    h = new Harness();
    const a = h.scheduler({ nodeId: 'a' });
    const b = h.scheduler({ nodeId: 'b' });
    await a.start();
    await b.start();
    await h.advance(5_000);
    const generation = (await h.store.getPartitionMap('test')).generation;
    let listNodes = 0;
    const list = h.store.listNodes.bind(h.store);
    h.store.listNodes = (app: string) => {
      listNodes++;
      return list(app);
    };
    // 29 s: less than the 30 s periodic check (10 reaps of 3 s) whatever its phase... or one of it.
    await h.advance(29_000);
    expect(listNodes).toBeLessThanOrEqual(1);
    expect((await h.store.getPartitionMap('test')).generation).toBe(generation);
  });
});
