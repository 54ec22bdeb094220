/** Conformance: nodes and heartbeats, the leader lease, the partition map, reaping and retargeting. */
import { describe, expect, it } from 'vitest';
import type { NodeRecord } from '../model';
import type { HeartbeatRequest } from '../store/store';
import { retryPolicy, runDraft } from './fixtures';
import { expectOasisError, type Harness } from './harness';

/** Registers the node, leader, partition and reap tests. */
export function clusterTests(h: Harness): void {
  const beat = (node: NodeRecord, extra: Partial<HeartbeatRequest> = {}, store = h.store) =>
    store.heartbeat({
      app: node.app,
      nodeId: node.nodeId,
      incarnation: node.incarnation,
      state: 'active',
      running: 0,
      runs: [],
      runLeaseMs: h.long,
      ...extra,
    });

  describe('nodes', () => {
    it('registerNode stores the node active with heartbeat now; each join gets a higher incarnation, even after removeNode', async () => {
      const app = h.app();
      const before = await h.store.now();
      const a = await h.node(app, 'n1', { handlers: ['x', 'y'], weight: 2, concurrency: 3 });
      expect(a).toMatchObject({
        nodeId: 'n1',
        app,
        handlers: ['x', 'y'],
        weight: 2,
        concurrency: 3,
        state: 'active',
        running: 0,
      });
      expect(a.incarnation).toBeGreaterThanOrEqual(1);
      expect(a.lastHeartbeatAt).toBeGreaterThanOrEqual(before);
      const b = await h.node(app, 'n1');
      expect(b.incarnation).toBeGreaterThan(a.incarnation);
      expect(await h.store.removeNode(app, 'n1')).toBe(true);
      expect(await h.store.removeNode(app, 'n1')).toBe(false);
      const c = await h.node(app, 'n1', {}, h.at(1));
      expect(c.incarnation).toBeGreaterThan(b.incarnation);
    });

    it('listNodes lists the app nodes by id, every state', async () => {
      const app = h.app();
      await h.node(app, 'n2');
      const n1 = await h.node(app, 'n1');
      await h.node(h.app(), 'n0');
      await h.store.leaveNode(app, 'n1', n1.incarnation);
      const nodes = await h.store.listNodes(app);
      expect(nodes.map((n) => [n.nodeId, n.state])).toEqual([
        ['n1', 'offline'],
        ['n2', 'active'],
      ]);
    });

    it('heartbeat records state, load and time, and returns store now, desired state and partition generation', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      await h.advance(h.short);
      const result = await beat(node, { state: 'draining', running: 4 });
      const [stored] = await h.store.listNodes(app);
      expect(stored).toMatchObject({ state: 'draining', running: 4, lastHeartbeatAt: result.now });
      expect(result.now).toBeGreaterThanOrEqual(node.lastHeartbeatAt + h.short);
      expect(result).toMatchObject({
        cancelRunIds: [],
        lostRunIds: [],
        desiredState: null,
        partitionGeneration: 0,
      });
      expect(result.leader).toBeNull();
    });

    it('an operator desired state is returned by heartbeats and applied on rejoin; unknown node is NotFoundError', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const updated = await h.store.setNodeDesiredState(app, 'n1', 'draining');
      expect(updated.desiredState).toBe('draining');
      expect((await beat(node)).desiredState).toBe('draining');
      const rejoined = await h.node(app, 'n1');
      expect(rejoined).toMatchObject({ state: 'draining', desiredState: 'draining' });
      await expectOasisError(h.store.setNodeDesiredState(app, 'ghost', 'paused'), 'NOT_FOUND', {
        entity: 'node',
      });
    });

    it('heartbeat is fenced for a stale incarnation, a removed node and an offline node', async () => {
      const app = h.app();
      const old = await h.node(app, 'n1');
      const fresh = await h.node(app, 'n1');
      await expectOasisError(beat(old), 'FENCED', { scope: 'node' });
      await beat(fresh);
      await h.store.leaveNode(app, 'n1', fresh.incarnation);
      await expectOasisError(beat(fresh), 'FENCED', { scope: 'node' });
      const other = await h.node(app, 'n2');
      await h.store.removeNode(app, 'n2');
      await expectOasisError(beat(other), 'FENCED', { scope: 'node' });
    });

    it('leaveNode with a stale incarnation is ignored', async () => {
      const app = h.app();
      const old = await h.node(app, 'n1');
      const fresh = await h.node(app, 'n1');
      await h.store.leaveNode(app, 'n1', old.incarnation);
      expect((await h.store.listNodes(app))[0]).toMatchObject({
        incarnation: fresh.incarnation,
        state: 'active',
      });
      await beat(fresh);
    });

    it('heartbeat renews the leases of the runs it still owns and reports the others as lost', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const leader = await h.node(app, 'leader');
      const epoch = await h.lead(leader);
      await h.store.enqueueRuns([runDraft(app), runDraft(app)]);
      const [kept, dropped] = await h.claimAs(node, 2, h.short);
      await h.advance(h.short + 50);
      const result = await beat(node, {
        running: 2,
        runs: [{ runId: kept!.id, progress: 40 }, { runId: 'no-such-run' }],
        runLeaseMs: h.long,
      });
      expect(result.lostRunIds).toEqual(['no-such-run']);
      const reaped = await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long });
      expect(reaped.lost.map((r) => r.id)).toEqual([dropped!.id]);
      expect(reaped.offlineNodes).toEqual([]);
      expect(await h.store.getRun(kept!.id)).toMatchObject({ state: 'running', progress: 40 });
      const after = await beat(node, { runs: [{ runId: kept!.id }, { runId: dropped!.id }] });
      expect(after.lostRunIds).toEqual([dropped!.id]);
    });
  });

  describe('membership version', () => {
    it('moves on registerNode, leaveNode, setNodeDesiredState, removeNode and the reap of a silent node, never on a plain heartbeat', async () => {
      const app = h.app();
      const watcher = await h.node(app, 'watcher');
      const epoch = await h.lead(watcher);
      const version = async (store = h.store) => (await beat(watcher, {}, store)).membershipVersion;
      let last = await version();
      expect(Number.isInteger(last)).toBe(true);
      /** Asserts the version grew since the last check (read from another instance when there is one). */
      const grew = async (what: string) => {
        const now = await version(h.at(1));
        expect(now, `membershipVersion after ${what}`).toBeGreaterThan(last);
        last = now;
      };

      expect(await version(h.at(1))).toBe(last);
      expect(await version()).toBe(last);
      const joiner = await h.node(app, 'joiner', {}, h.at(2));
      await grew('registerNode');
      await beat(joiner);
      expect(await version()).toBe(last);
      await h.store.leaveNode(app, 'joiner', joiner.incarnation);
      await grew('leaveNode');
      await h.node(app, 'drained');
      await grew('registerNode');
      await h.store.setNodeDesiredState(app, 'drained', 'draining');
      await grew('setNodeDesiredState');
      expect(await h.store.removeNode(app, 'drained')).toBe(true);
      await grew('removeNode');
      await h.node(app, 'silent');
      await grew('registerNode');
      await h.advance(h.short + 50);
      expect(await version()).toBe(last);
      const reaped = await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.short });
      expect(reaped.offlineNodes).toEqual(['silent']);
      await grew('the reap of a silent node');
      expect(await version()).toBe(last);
    });

    it('is per app: a change in another app does not move it', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const before = (await beat(node)).membershipVersion;
      const elsewhere = h.app();
      const stranger = await h.node(elsewhere, 'n1');
      await h.store.leaveNode(elsewhere, 'n1', stranger.incarnation);
      expect((await beat(node)).membershipVersion).toBe(before);
    });
  });

  describe('leader lease', () => {
    it('one holder among racing acquirers; everybody sees the same lease', async () => {
      const app = h.app();
      const nodes = await Promise.all(Array.from({ length: 6 }, (_, i) => h.node(app, `n${i}`, {}, h.at(i))));
      const leases = await Promise.all(
        nodes.map((n, i) =>
          h.at(i).acquireLeadership({ app, nodeId: n.nodeId, incarnation: n.incarnation, ttlMs: h.long }),
        ),
      );
      const holders = new Set(leases.map((l) => `${l.nodeId}#${l.epoch}`));
      expect(holders.size).toBe(1);
      const lease = (await h.store.getLeader(app))!;
      expect(`${lease.nodeId}#${lease.epoch}`).toBe([...holders][0]);
    });

    it('renewing keeps the epoch and extends the lease; another node gets the holder lease back', async () => {
      const app = h.app();
      const a = await h.node(app, 'a');
      const b = await h.node(app, 'b');
      expect(await h.store.getLeader(app)).toBeNull();
      const first = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.long,
      });
      await h.advance(h.short);
      const renewed = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.long,
      });
      expect(renewed.epoch).toBe(first.epoch);
      expect(renewed.expiresAt).toBeGreaterThan(first.expiresAt);
      const denied = await h.store.acquireLeadership({
        app,
        nodeId: 'b',
        incarnation: b.incarnation,
        ttlMs: h.long,
      });
      expect(denied).toEqual(renewed);
    });

    it('after expiry another node takes it with a higher epoch, and the former leader is fenced', async () => {
      const app = h.app();
      const a = await h.node(app, 'a');
      const b = await h.node(app, 'b');
      const first = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.short,
      });
      await h.advance(h.short + 50);
      await expectOasisError(
        h.store.writePartitionMap({ app, epoch: first.epoch, assignments: { a: [1] } }),
        'FENCED',
        { scope: 'leader' },
      );
      const second = await h
        .at(1)
        .acquireLeadership({ app, nodeId: 'b', incarnation: b.incarnation, ttlMs: h.long });
      expect(second.nodeId).toBe('b');
      expect(second.epoch).toBeGreaterThan(first.epoch);
      const back = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.long,
      });
      expect(back).toEqual(second);
      await expectOasisError(h.store.reapDeadNodes({ app, epoch: first.epoch, nodeTtlMs: 1 }), 'FENCED', {
        scope: 'leader',
      });
      expect((await h.store.listNodes(app)).map((n) => n.state)).toEqual(['active', 'active']);
    });

    it('an expired lease is never renewed: its own holder re-takes it with a higher epoch', async () => {
      const app = h.app();
      const a = await h.node(app, 'a');
      const first = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.short,
      });
      await h.advance(h.short + 50);
      const late = await beat(a, { leader: { epoch: first.epoch, ttlMs: h.long } });
      expect(late.leader).toEqual(first);
      const again = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.long,
      });
      expect(again.nodeId).toBe('a');
      expect(again.epoch).toBeGreaterThan(first.epoch);
      await expectOasisError(
        h.store.writePartitionMap({ app, epoch: first.epoch, assignments: {} }),
        'FENCED',
        { scope: 'leader' },
      );
    });

    it('resign releases it at once to a higher epoch; resigning someone else lease does nothing', async () => {
      const app = h.app();
      const a = await h.node(app, 'a');
      const b = await h.node(app, 'b');
      const lease = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.long,
      });
      await h.store.resignLeadership(app, 'b', lease.epoch);
      await h.store.resignLeadership(app, 'a', lease.epoch + 1);
      expect(
        (await h.store.acquireLeadership({ app, nodeId: 'b', incarnation: b.incarnation, ttlMs: h.long }))
          .nodeId,
      ).toBe('a');
      await h.store.resignLeadership(app, 'a', lease.epoch);
      const taken = await h.store.acquireLeadership({
        app,
        nodeId: 'b',
        incarnation: b.incarnation,
        ttlMs: h.long,
      });
      expect(taken.nodeId).toBe('b');
      expect(taken.epoch).toBeGreaterThan(lease.epoch);
    });

    it('leaveNode releases the lease it holds', async () => {
      const app = h.app();
      const a = await h.node(app, 'a');
      const b = await h.node(app, 'b');
      const lease = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.long,
      });
      await h.store.leaveNode(app, 'a', a.incarnation);
      const taken = await h.store.acquireLeadership({
        app,
        nodeId: 'b',
        incarnation: b.incarnation,
        ttlMs: h.long,
      });
      expect(taken).toMatchObject({ nodeId: 'b' });
      expect(taken.epoch).toBeGreaterThan(lease.epoch);
    });

    it('acquireLeadership is fenced for a stale incarnation', async () => {
      const app = h.app();
      const old = await h.node(app, 'a');
      await h.node(app, 'a');
      await expectOasisError(
        h.store.acquireLeadership({ app, nodeId: 'a', incarnation: old.incarnation, ttlMs: h.long }),
        'FENCED',
        { scope: 'node' },
      );
      expect(await h.store.getLeader(app)).toBeNull();
    });

    it('heartbeat renews the lease of its epoch and returns it; a stale epoch is not renewed', async () => {
      const app = h.app();
      const a = await h.node(app, 'a');
      const lease = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.short * 4,
      });
      await h.advance(h.short);
      const stale = await beat(a, { leader: { epoch: lease.epoch + 1, ttlMs: h.long } });
      expect(stale.leader).toEqual(lease);
      const renewed = await beat(a, { leader: { epoch: lease.epoch, ttlMs: h.long } });
      expect(renewed.leader).toMatchObject({ nodeId: 'a', epoch: lease.epoch });
      expect(renewed.leader!.expiresAt).toBe(renewed.now + h.long);
      expect(await h.store.getLeader(app)).toEqual(renewed.leader);
    });
  });

  describe('partition map', () => {
    it('starts at generation 0; each write bumps it; heartbeats report it; a stale epoch is fenced and changes nothing', async () => {
      const app = h.app();
      expect(await h.store.getPartitionMap(app)).toEqual({ generation: 0, epoch: 0, assignments: {} });
      const a = await h.node(app, 'a');
      const b = await h.node(app, 'b');
      const epoch = await h.lead(a, h.short * 3);
      const first = await h.store.writePartitionMap({ app, epoch, assignments: { a: [0, 1, 2], b: [3] } });
      expect(first).toEqual({ generation: 1, epoch, assignments: { a: [0, 1, 2], b: [3] } });
      const second = await h.at(1).writePartitionMap({ app, epoch, assignments: { a: [0, 1], b: [2, 3] } });
      expect(second.generation).toBe(2);
      expect(await h.store.getPartitionMap(app)).toEqual(second);
      expect((await beat(b)).partitionGeneration).toBe(2);
      await h.advance(h.short * 3 + 50);
      const epochB = (
        await h.store.acquireLeadership({ app, nodeId: 'b', incarnation: b.incarnation, ttlMs: h.long })
      ).epoch;
      expect(epochB).toBeGreaterThan(epoch);
      await expectOasisError(h.store.writePartitionMap({ app, epoch, assignments: { a: [9] } }), 'FENCED', {
        scope: 'leader',
      });
      expect(await h.store.getPartitionMap(app)).toEqual(second);
      const third = await h.store.writePartitionMap({ app, epoch: epochB, assignments: { b: [0, 1, 2, 3] } });
      expect(third).toMatchObject({ generation: 3, epoch: epochB });
    });
  });

  describe('reaping', () => {
    it('marks nodes silent for the TTL offline, and they are fenced; nodes within the TTL are kept', async () => {
      const app = h.app();
      const silent = await h.node(app, 'silent');
      const leader = await h.node(app, 'leader');
      const epoch = await h.lead(leader);
      await h.advance(h.short + 50);
      const kept = await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long });
      expect(kept.offlineNodes).toEqual([]);
      expect((await h.store.listNodes(app)).map((n) => n.state)).toEqual(['active', 'active']);
      const result = await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.short });
      expect(result.offlineNodes).toContain('silent');
      expect((await h.store.listNodes(app)).find((n) => n.nodeId === 'silent')!.state).toBe('offline');
      await expectOasisError(beat(silent), 'FENCED', { scope: 'node' });
      await expectOasisError(h.claimAs(silent), 'FENCED', { scope: 'node' });
      expect((await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.short })).offlineNodes).not.toContain(
        'silent',
      );
    });

    it('running runs of an offline node become lost; a retry (attempt + 1, untargeted, due at once) follows while attempt <= maxAttempts', async () => {
      const app = h.app();
      const dying = await h.node(app, 'dying');
      const leader = await h.node(app, 'leader');
      const epoch = await h.lead(leader);
      const withRetry = await h.enqueue(app, {
        retry: retryPolicy(3),
        targetNode: 'dying',
        jobKey: 'j',
        params: { p: 1 },
        priority: 4,
      });
      // A loss may take one attempt more than a failure: the last attempt is run again once…
      const lastAttempt = await h.enqueue(app, { retry: retryPolicy(2), attempt: 2 });
      // …and a run already past maxAttempts (it was that extra run) is not.
      const beyond = await h.enqueue(app, { retry: retryPolicy(2), attempt: 3 });
      expect(await h.claimAs(dying, 5)).toHaveLength(3);
      await h.advance(h.short + 50);
      await beat(leader);
      const result = await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.short });
      expect(result.offlineNodes).toContain('dying');
      expect(result.lost.map((r) => r.id).sort()).toEqual([withRetry.id, lastAttempt.id, beyond.id].sort());
      for (const lost of result.lost) {
        expect(lost.state).toBe('lost');
        expect(lost.reason).toEqual(expect.any(String));
        expect(lost.finishedAt).not.toBeNull();
        expect(await h.store.getRun(lost.id)).toEqual(lost);
      }
      expect(result.retries.map((r) => r.parentRunId).sort()).toEqual([withRetry.id, lastAttempt.id].sort());
      expect(result.retries.find((r) => r.parentRunId === lastAttempt.id)).toMatchObject({ attempt: 3 });
      const retry = result.retries.find((r) => r.parentRunId === withRetry.id)!;
      expect(retry).toMatchObject({
        state: 'pending',
        trigger: 'retry',
        attempt: 2,
        parentRunId: withRetry.id,
        targetNode: null,
        jobKey: 'j',
        params: { p: 1 },
        priority: 4,
      });
      expect(retry.dueAt).toBeLessThanOrEqual(await h.store.now());
      const fresh = await h.node(app, 'fresh');
      expect((await h.claimAs(fresh)).map((r) => r.id).sort()).toEqual(
        result.retries.map((r) => r.id).sort(),
      );
    });

    it('a run whose lease expired is lost even though its node is alive', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const epoch = await h.lead(node);
      const run = await h.enqueue(app);
      await h.claimAs(node, 1, h.short);
      await h.advance(h.short + 50);
      await beat(node);
      const result = await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long });
      expect(result.offlineNodes).toEqual([]);
      expect(result.lost.map((r) => r.id)).toEqual([run.id]);
      // One attempt by default, and a loss may take one more: it runs again.
      expect(result.retries.map((r) => [r.parentRunId, r.attempt])).toEqual([[run.id, 2]]);
      expect((await beat(node, { runs: [{ runId: run.id }] })).lostRunIds).toEqual([run.id]);
    });

    it('reaps at most limit runs per call', async () => {
      const app = h.app();
      const node = await h.node(app, 'n1');
      const epoch = await h.lead(node);
      await h.store.enqueueRuns(Array.from({ length: 5 }, () => runDraft(app)));
      await h.claimAs(node, 5, h.short);
      await h.advance(h.short + 50);
      expect((await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long, limit: 3 })).lost).toHaveLength(3);
      expect((await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long, limit: 3 })).lost).toHaveLength(2);
      expect((await h.store.reapDeadNodes({ app, epoch, nodeTtlMs: h.long })).lost).toHaveLength(0);
    });

    it('a stale epoch cannot reap (FencedError) and nothing changes', async () => {
      const app = h.app();
      const a = await h.node(app, 'a');
      const lease = await h.store.acquireLeadership({
        app,
        nodeId: 'a',
        incarnation: a.incarnation,
        ttlMs: h.long,
      });
      const run = await h.enqueue(app);
      const [claimed] = await h.claimAs(a, 1, h.short);
      await h.advance(h.short + 50);
      await expectOasisError(h.store.reapDeadNodes({ app, epoch: lease.epoch + 1, nodeTtlMs: 1 }), 'FENCED', {
        scope: 'leader',
      });
      expect(await h.store.getRun(run.id)).toEqual(claimed);
      expect((await h.store.listNodes(app))[0]!.state).toBe('active');
    });
  });

  describe('retargetRuns', () => {
    it('moves pending runs still targeted at `from`; others are left; returns how many moved', async () => {
      const app = h.app();
      const a = await h.node(app, 'a');
      const epoch = await h.lead(a);
      const r1 = await h.enqueue(app, { targetNode: 'gone' });
      const r2 = await h.enqueue(app, { targetNode: 'gone' });
      const r3 = await h.enqueue(app, { targetNode: 'a' });
      const moved = await h.store.retargetRuns({
        app,
        epoch,
        moves: [
          { runId: r1.id, from: 'gone', to: 'b' },
          { runId: r2.id, from: 'gone', to: null },
          { runId: r3.id, from: 'gone', to: 'b' },
          { runId: 'no-such-run', from: 'gone', to: 'b' },
        ],
      });
      expect(moved).toBe(2);
      expect((await h.store.getRun(r1.id))!.targetNode).toBe('b');
      expect((await h.store.getRun(r2.id))!.targetNode).toBeNull();
      expect((await h.store.getRun(r3.id))!.targetNode).toBe('a');
      const b = await h.node(app, 'b');
      expect((await h.claimAs(b)).map((r) => r.id).sort()).toEqual([r1.id, r2.id].sort());
      await expectOasisError(
        h.store.retargetRuns({ app, epoch: epoch + 1, moves: [{ runId: r3.id, from: 'a', to: 'b' }] }),
        'FENCED',
        { scope: 'leader' },
      );
      expect((await h.store.getRun(r3.id))!.targetNode).toBe('a');
    });
  });
}
