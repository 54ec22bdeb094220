/**
 * Issue 5: a scale run of many nodes on one store. `nodes − 10` `Scheduler`s run in this process
 * sharing one store instance (one Redis client plus its subscriber, or one PostgreSQL pool of the
 * store's default 10 connections), each seeing it through its own counting Proxy; 10 more run in
 * one child process (their own store instance), so that they can vanish at once with kill -9.
 * Engine defaults everywhere; no jobs, no runs: the cost of membership alone.
 *
 * 1. Start the first node and wait until it leads, then the others in batches of 10, then the
 *    child's 10; wait until the partition map covers every partition with live nodes.
 * 2. Steady window: count store calls and heartbeats; a heartbeat gap above the node TTL (5 s),
 *    a failed heartbeat, a node seen `offline` or a rejoin (incarnation above 1) would be a
 *    heartbeat not held.
 * 3. 10 in-process nodes (not the leader) `stop()` at once: time from the call until the map
 *    names none of them and every partition has a live owner ("settled"), and until every live
 *    in-process node has applied that map generation ("applied").
 * 4. kill -9 of the child: the same two times, from the kill.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Scheduler, STORE_LIMITS, type Store } from '@oasis/core';
// The engine's own pure assignment function, from the sources (not exported by the package):
// the map the leader should write for a membership, to compare the store's map against.
import { assignPartitions, sameAssignment } from '../../packages/core/src/cluster/rendezvous';
import { cleanupStore, type OasisStoreKind, openStore, type StorePlace } from '../drain/oasis-stores';
import type { BenchConfig } from '../lib/config';
import { BENCH_DIR } from '../lib/paths';
import { percentile, sleep, waitFor } from '../lib/stats';
import { countingStore, OpCounter } from './counting-store';
import type { NodeProcessConfig } from './oasis-node';
import { Child } from './procs';

const NODE_SCRIPT = join(BENCH_DIR, 'cluster', 'oasis-node.ts');
const CHILD_NODES = 10;
const LEAVING = 10;

export interface DepartureResult {
  /** From stop() called (or kill -9) until the partition map names none of them and covers every partition. */
  settledMs: number | null;
  /** Until every live in-process node has applied a map generation at least that one. */
  appliedMs: number | null;
  /** How long the stop() calls took (clean leave only). */
  stopMs?: number;
  generation: number | null;
  /** Partitions the departing nodes owned in the map before they went. */
  partitionsOwned?: number;
}

export interface ScaleResult {
  kind: OasisStoreKind;
  nodes: number;
  /** From the last node ready until the map covered every partition with live nodes. */
  joinSettledMs: number | null;
  steadyMs: number;
  loadAvg1: number;
  /** Store calls per second, all nodes (the child's included). */
  storeOpsPerSecond: number;
  /** Store calls per second per method, in-process nodes only. */
  perMethod: Record<string, number>;
  heartbeats: {
    expected: number;
    counted: number;
    failed: number;
    maxGapMs: number;
    latencyP50Ms: number;
    latencyP99Ms: number;
    latencyMaxMs: number;
  };
  /** Nodes the store shows other than `active` at the end of the window, and nodes that rejoined. */
  notActive: string[];
  rejoined: string[];
  eventLoopDelayP99Ms: number;
  engineErrors: number;
  engineErrorSamples: string[];
  cleanLeave: DepartureResult;
  hardKill: DepartureResult;
}

/** The map the leader should write for these live nodes (all active, weight 1). */
function expectedMap(live: Iterable<string>, partitions: number): Record<string, number[]> {
  return assignPartitions(
    [...live].map((nodeId) => ({ nodeId, weight: 1 })),
    partitions,
  );
}

function samePartitions(a: number[] | null | undefined, b: number[] | undefined): boolean {
  if (a === undefined || a === null) return false;
  const x = [...a].sort((m, n) => m - n);
  const y = [...(b ?? [])].sort((m, n) => m - n);
  return x.length === y.length && x.every((p, i) => p === y[i]);
}

export async function runScale(
  kind: OasisStoreKind,
  config: BenchConfig,
  totalNodes: number,
  steadyMs: number,
  log: (line: string) => void,
): Promise<ScaleResult> {
  const runId = `sc${Date.now().toString(36)}`;
  const app = `bench_${runId}`;
  const place: StorePlace = { kind, runId, config };
  const partitions = STORE_LIMITS.partitions;
  await cleanupStore(place);
  const store: Store = await openStore(place, true);
  const inProc = totalNodes - CHILD_NODES;
  const counters: OpCounter[] = [];
  const schedulers: Scheduler[] = [];
  const generation = new Map<string, number>();
  const mine = new Map<string, number[] | null>();
  const joins = new Map<string, number>();
  const errors: string[] = [];
  let child: Child | null = null;
  const elMonitor = monitorEventLoopDelay({ resolution: 10 });
  try {
    for (let i = 0; i < inProc; i++) {
      const counter = new OpCounter();
      const nodeId = `s${String(i).padStart(3, '0')}`;
      const s = new Scheduler({ store: countingStore(store, counter), app, nodeId });
      s.on('partitions:assigned', ({ generation: g, partitions: parts }) => {
        generation.set(nodeId, g);
        mine.set(nodeId, parts);
      });
      s.on('node:joined', () => joins.set(nodeId, (joins.get(nodeId) ?? 0) + 1));
      s.on('error', ({ error, during }) =>
        errors.push(`${nodeId} ${during}: ${String((error as Error)?.message ?? error)}`),
      );
      counters.push(counter);
      schedulers.push(s);
    }
    const leader = schedulers[0] as Scheduler;
    await leader.start();
    await waitFor('the first node to lead', () => leader.isLeader, 30_000, 20);
    for (let i = 1; i < inProc; i += 10) {
      await Promise.all(schedulers.slice(i, i + 10).map((s) => s.start()));
    }
    const childIds = Array.from({ length: CHILD_NODES }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const childConfig: NodeProcessConfig = { place, app, nodeIds: childIds, long: false };
    child = new Child('scale-child', NODE_SCRIPT, childConfig);
    const readyChild = child;
    await waitFor(
      'the child nodes to join',
      () => {
        if (!readyChild.alive)
          throw new Error('the child process of the scale run exited before its nodes joined');
        return readyChild.messages.filter((m) => m.type === 'ready').length === CHILD_NODES;
      },
      60_000,
      20,
    );
    const joinedAt = Date.now();
    const allIds = new Set([...schedulers.map((s) => s.nodeId), ...childIds]);
    const joinExpected = expectedMap(allIds, partitions);
    let joinSettledMs: number | null = null;
    try {
      await waitFor(
        'the map to include the nodes that joined',
        async () => sameAssignment((await store.getPartitionMap(app)).assignments, joinExpected),
        90_000,
        20,
      );
      joinSettledMs = Date.now() - joinedAt;
    } catch (err) {
      log(`  ${kind}: ${(err as Error).message}`);
    }
    log(`  ${kind}: ${totalNodes} nodes joined; map settled ${joinSettledMs} ms after the last join`);

    // ---- steady window ----
    await sleep(3_000);
    for (const c of counters) c.reset();
    child.send({ type: 'reset' });
    const errorsBefore = errors.length;
    elMonitor.reset();
    elMonitor.enable();
    const loadAvg1 = loadavg()[0] ?? 0;
    const t0 = performance.now();
    await sleep(steadyMs);
    const ms = performance.now() - t0;
    elMonitor.disable();
    child.send({ type: 'stats' });
    const stats = await child.waitFor('stats', () => true, 10_000);
    const childNodes = stats.nodes as Array<{
      nodeId: string;
      total: number;
      heartbeats: number;
      heartbeatErrors: number;
      maxHeartbeatGapMs: number;
    }>;
    const perMethodCounts = new Map<string, number>();
    let total = 0;
    for (const c of counters) {
      total += c.total();
      for (const [k, v] of c.counts) perMethodCounts.set(k, (perMethodCounts.get(k) ?? 0) + v);
    }
    for (const n of childNodes) total += n.total;
    const latencies = counters.flatMap((c) => c.heartbeatLatencies);
    const nodesNow = await store.listNodes(app);
    const result: ScaleResult = {
      kind,
      nodes: totalNodes,
      joinSettledMs,
      steadyMs: ms,
      loadAvg1,
      storeOpsPerSecond: (total * 1000) / ms,
      perMethod: Object.fromEntries(
        [...perMethodCounts].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, (v * 1000) / ms]),
      ),
      heartbeats: {
        expected: Math.round(ms / 1000) * totalNodes,
        counted:
          counters.reduce((n, c) => n + c.heartbeats, 0) + childNodes.reduce((n, c) => n + c.heartbeats, 0),
        failed:
          counters.reduce((n, c) => n + c.heartbeatErrors, 0) +
          childNodes.reduce((n, c) => n + c.heartbeatErrors, 0),
        maxGapMs: Math.max(
          ...counters.map((c) => c.maxHeartbeatGapMs),
          ...childNodes.map((c) => c.maxHeartbeatGapMs),
        ),
        latencyP50Ms: percentile(latencies, 50),
        latencyP99Ms: percentile(latencies, 99),
        latencyMaxMs: percentile(latencies, 100),
      },
      notActive: nodesNow.filter((n) => n.state !== 'active').map((n) => `${n.nodeId}:${n.state}`),
      rejoined: [
        ...nodesNow
          .filter((n) => allIds.has(n.nodeId) && n.incarnation > 1)
          .map((n) => `${n.nodeId}#${n.incarnation}`),
        ...[...joins].filter(([, n]) => n > 1).map(([id, n]) => `${id} joined ${n}×`),
      ],
      eventLoopDelayP99Ms: elMonitor.percentile(99) / 1e6,
      engineErrors: errors.length - errorsBefore,
      engineErrorSamples: errors.slice(errorsBefore, errorsBefore + 5),
      cleanLeave: { settledMs: null, appliedMs: null, generation: null },
      hardKill: { settledMs: null, appliedMs: null, generation: null },
    };
    log(
      `  ${kind}: steady ${(ms / 1000).toFixed(0)} s: ${result.storeOpsPerSecond.toFixed(0)} store calls/s, heartbeats ${result.heartbeats.counted}/${result.heartbeats.expected} (failed ${result.heartbeats.failed}, max gap ${result.heartbeats.maxGapMs.toFixed(0)} ms, p99 ${result.heartbeats.latencyP99Ms.toFixed(0)} ms), not active ${result.notActive.length}, rejoined ${result.rejoined.length}, engine errors ${result.engineErrors}`,
    );

    // ---- departures ----
    const departed = new Set<string>();
    const live = () => schedulers.filter((s) => !departed.has(s.nodeId) && s.state === 'running');
    const measure = async (startAt: number, out: DepartureResult) => {
      const liveIds = [...allIds].filter((id) => !departed.has(id));
      const expected = expectedMap(liveIds, partitions);
      try {
        await waitFor(
          'the map to settle',
          async () => {
            const map = await store.getPartitionMap(app);
            if (!sameAssignment(map.assignments, expected)) return false;
            out.generation = map.generation;
            return true;
          },
          90_000,
          10,
        );
        out.settledMs = Date.now() - startAt;
        await waitFor(
          'every live in-process node to apply it',
          () => live().every((s) => samePartitions(mine.get(s.nodeId), expected[s.nodeId])),
          30_000,
          10,
        );
        out.appliedMs = Date.now() - startAt;
      } catch (err) {
        log(`  ${kind}: ${(err as Error).message}`);
      }
    };
    const before = await store.getPartitionMap(app);
    const owning = (ids: Iterable<string>) =>
      [...ids].reduce((n, id) => n + (before.assignments[id]?.length ?? 0), 0);

    // The 10 that leave: non-leaders that own partitions (else the map would not have to change).
    const candidates = schedulers.filter((s) => !s.isLeader);
    const leaving = [
      ...candidates.filter((s) => (before.assignments[s.nodeId]?.length ?? 0) > 0),
      ...candidates.filter((s) => (before.assignments[s.nodeId]?.length ?? 0) === 0),
    ].slice(0, LEAVING);
    result.cleanLeave.partitionsOwned = owning(leaving.map((s) => s.nodeId));
    result.hardKill.partitionsOwned = owning(childIds);
    for (const s of leaving) departed.add(s.nodeId);
    const stopAt = Date.now();
    await Promise.all(leaving.map((s) => s.stop({ timeoutMs: 5_000 })));
    result.cleanLeave.stopMs = Date.now() - stopAt;
    await measure(stopAt, result.cleanLeave);
    log(
      `  ${kind}: ${LEAVING} nodes (owning ${result.cleanLeave.partitionsOwned} partitions) stop(): stop ${result.cleanLeave.stopMs} ms, settled ${result.cleanLeave.settledMs} ms, applied ${result.cleanLeave.appliedMs} ms (generation ${result.cleanLeave.generation})`,
    );
    await sleep(3_000);

    for (const id of childIds) departed.add(id);
    const killAt = Date.now();
    await child.kill();
    await measure(killAt, result.hardKill);
    log(
      `  ${kind}: ${CHILD_NODES} nodes (owning ${result.hardKill.partitionsOwned} partitions) kill -9: settled ${result.hardKill.settledMs} ms, applied ${result.hardKill.appliedMs} ms (generation ${result.hardKill.generation})`,
    );
    return result;
  } finally {
    elMonitor.disable();
    await child?.kill();
    await Promise.allSettled(schedulers.map((s) => s.stop({ timeoutMs: 2_000 })));
    await store.close().catch(() => {});
    await cleanupStore(place).catch((err: unknown) => console.error('cleanup:', err));
  }
}
