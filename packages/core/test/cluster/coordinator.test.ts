import { describe, expect, it } from 'vitest';
import { ClusterCoordinator } from '../../src/cluster/coordinator';
import { movedPartitions } from '../../src/cluster/rendezvous';
import { FencedError, MemoryStore, type NodeRecord, TestClock } from '../../src/index';
import { nodeInfo, runDraft } from '../../src/testing/fixtures';

const APP = 'app';

function setup() {
  const clock = new TestClock();
  const store = new MemoryStore({ clock });
  const coordinator = (nodeId: string, extra: { dispatchTimeoutMs?: number } = {}) =>
    new ClusterCoordinator({
      store,
      app: APP,
      nodeId,
      localNow: () => clock.now(),
      random: () => 0.5,
      ...extra,
    });
  const join = (nodeId: string, weight = 1) => store.registerNode(nodeInfo(APP, nodeId, { weight }));
  const lead = async (node: NodeRecord) =>
    store.acquireLeadership({ app: APP, nodeId: node.nodeId, incarnation: node.incarnation, ttlMs: 5_000 });
  return { clock, store, coordinator, join, lead };
}

describe('cluster coordinator on the memory store', () => {
  it('the leader writes a map covering the 64 partitions once; each node follows its share', async () => {
    const { store, coordinator, join, lead } = setup();
    const nodes = [await join('n1'), await join('n2'), await join('n3')];
    const lease = await lead(nodes[0]!);
    const c = nodes.map((n) => coordinator(n.nodeId));
    // Before any map: every node fires every partition, as it started (nothing changes).
    expect(await c[1]!.syncPartitions(0)).toBeUndefined();
    expect(c[1]!.partitionsOf(null)).toBeNull();
    const { written } = await c[0]!.lead(lease.epoch, await store.now());
    expect(written).toMatchObject({ generation: 1, epoch: lease.epoch });
    // The leader knows its share from its own write; the others read the map.
    expect(await c[0]!.syncPartitions(1)).toBeUndefined();
    const shares: Array<number[] | null | undefined> = [c[0]!.partitionsOf(written)];
    for (const x of c.slice(1)) shares.push(await x.syncPartitions(1));
    expect(shares.flatMap((s) => s!).sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    for (const s of shares) expect(s!.length).toBeGreaterThan(0);
    // Unchanged generation: no store call, nothing to do.
    expect(await c[1]!.syncPartitions(1)).toBeUndefined();
    // Unchanged membership: no new map; and no check at all before the check interval.
    expect(await c[0]!.lead(lease.epoch, await store.now())).toMatchObject({ checked: false });
    expect(await c[0]!.lead(lease.epoch, await store.now(), true)).toMatchObject({
      checked: true,
      written: null,
    });
    expect((await store.getPartitionMap(APP)).generation).toBe(1);
  });

  it('a join moves about 1/n of the partitions, to the new node only; a graceful leave gives its share back', async () => {
    const { store, coordinator, join, lead } = setup();
    const nodes = [await join('n1'), await join('n2'), await join('n3')];
    const lease = await lead(nodes[0]!);
    const leader = coordinator('n1');
    const first = (await leader.lead(lease.epoch, await store.now(), true)).written!;
    const n4 = await join('n4');
    const second = (await leader.lead(lease.epoch, await store.now(), true)).written!;
    expect(second.generation).toBe(2);
    const moved = movedPartitions(first.assignments, second.assignments);
    expect(moved).toBe(second.assignments.n4!.length);
    expect(moved).toBeGreaterThanOrEqual(8);
    expect(moved).toBeLessThanOrEqual(24);
    await store.leaveNode(APP, 'n4', n4.incarnation);
    const third = (await leader.lead(lease.epoch, await store.now(), true)).written!;
    expect(third.assignments).toEqual(first.assignments);
  });

  it('draining and paused nodes give up their partitions while an active node can take them', async () => {
    const { store, coordinator, join, lead } = setup();
    const n1 = await join('n1');
    const n2 = await join('n2');
    const lease = await lead(n1);
    await store.heartbeat({
      app: APP,
      nodeId: 'n2',
      incarnation: n2.incarnation,
      state: 'draining',
      running: 0,
      runs: [],
      runLeaseMs: 10_000,
    });
    const map = (await coordinator('n1').lead(lease.epoch, await store.now())).written!;
    expect(map.assignments.n1).toHaveLength(64);
    expect(map.assignments.n2).toBeUndefined();
    expect(await coordinator('n2').syncPartitions(map.generation)).toEqual([]);
    // Owning every partition reads as null: all of them, as before any map.
    expect(coordinator('n1').partitionsOf(map)).toBeNull();
  });

  it('a former leader cannot write the map (FencedError)', async () => {
    const { clock, store, coordinator, join, lead } = setup();
    const n1 = await join('n1');
    const n2 = await join('n2');
    const old = await lead(n1);
    await clock.advance(6_000);
    const next = await lead(n2);
    expect(next.epoch).toBeGreaterThan(old.epoch);
    await expect(coordinator('n1').lead(old.epoch, await store.now())).rejects.toBeInstanceOf(FencedError);
    expect((await coordinator('n2').lead(next.epoch, await store.now())).written?.epoch).toBe(next.epoch);
  });

  it('re-routes runs whose target left, and runs not claimed within the dispatch timeout', async () => {
    const { clock, store, coordinator, join, lead } = setup();
    const n1 = await join('n1');
    await join('n2');
    const n3 = await join('n3');
    const lease = await lead(n1);
    const [gone, late] = await store.enqueueRuns([
      runDraft(APP, { routing: 'round-robin', targetNode: 'n3' }),
      runDraft(APP, { routing: 'round-robin', targetNode: 'n2' }),
    ]);
    await store.leaveNode(APP, 'n3', n3.incarnation);
    const leader = coordinator('n1', { dispatchTimeoutMs: 5_000 });
    expect((await leader.lead(lease.epoch, await store.now(), true)).retargeted).toBe(1);
    const moved = await store.getRun(gone!.run.id);
    expect(['n1', 'n2']).toContain(moved?.targetNode);
    await clock.advance(4_000);
    expect((await lead(n1)).epoch, 'the lease renewed').toBe(lease.epoch);
    await clock.advance(1_000);
    expect((await leader.lead(lease.epoch, await store.now(), true)).retargeted).toBeGreaterThanOrEqual(1);
    expect((await store.getRun(late!.run.id))?.targetNode).toBe('n1');
  });

  it('broadcast: each eligible node claims exactly its own run', async () => {
    const { store, coordinator, join } = setup();
    const nodes = [await join('n1'), await join('n2'), await join('n3'), await join('x', 1)];
    await store.setNodeDesiredState(APP, 'x', 'paused');
    await store.heartbeat({
      app: APP,
      nodeId: 'x',
      incarnation: nodes[3]!.incarnation,
      state: 'paused',
      running: 0,
      runs: [],
      runLeaseMs: 10_000,
    });
    const drafts = await coordinator('n1').route([
      runDraft(APP, { routing: 'broadcast', idempotencyKey: 'fire:b:1:0' }),
    ]);
    expect(drafts.map((d) => d.targetNode)).toEqual(['n1', 'n2', 'n3']);
    await store.enqueueRuns(drafts);
    // The same fire again inserts nothing.
    expect((await store.enqueueRuns(drafts)).every((r) => !r.created)).toBe(true);
    for (const n of nodes.slice(0, 3)) {
      const claimed = await store.claimRuns({
        app: APP,
        nodeId: n.nodeId,
        incarnation: n.incarnation,
        handlers: ['h'],
        limit: 10,
        leaseMs: 10_000,
      });
      expect(claimed.map((r) => r.targetNode)).toEqual([n.nodeId]);
    }
  });

  it('routing "any" needs no store call', async () => {
    const { coordinator } = setup();
    const c = coordinator('n1');
    const drafts = [runDraft(APP)];
    expect(await c.route(drafts)).toBe(drafts);
  });

  it('a moved membership version makes a steady leader check at once; an unmoved one does not', async () => {
    const { store, coordinator, join, lead } = setup();
    const n1 = await join('n1');
    const lease = await lead(n1);
    const leader = coordinator('n1');
    const version = async () =>
      (
        await store.heartbeat({
          app: APP,
          nodeId: 'n1',
          incarnation: n1.incarnation,
          state: 'active',
          running: 0,
          runs: [],
          runLeaseMs: 60_000,
        })
      ).membershipVersion;
    const first = await leader.lead(lease.epoch, await store.now(), false, await version());
    expect(first).toMatchObject({ checked: true, written: { generation: 1 } });
    expect(leader.membershipMoved(await version())).toBe(false);
    expect(await leader.lead(lease.epoch, await store.now(), false, await version())).toMatchObject({
      checked: false,
    });
    await join('n2');
    const moved = await version();
    expect(leader.membershipMoved(moved)).toBe(true);
    const second = await leader.lead(lease.epoch, await store.now(), false, moved);
    expect(second.checked).toBe(true);
    expect(Object.keys(second.written!.assignments).sort()).toEqual(['n1', 'n2']);
    expect(leader.membershipMoved(moved)).toBe(false);
  });
});
