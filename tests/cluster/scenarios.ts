/**
 * The cluster scenarios, registered once per store by `<store>.test.ts`. One cluster of three
 * node processes per store runs them in order (starting processes is the expensive part), each
 * scenario with its own jobs, checked through the store and through what the nodes recorded:
 *
 * (a) a cron every second: each tick runs exactly once, none missed, none twice;
 * (e) a serial job firing every second while (a) runs: its runs never overlap across nodes;
 * (p) the leader's partition map covers the live nodes and each node fires only its partitions;
 *     broadcast, sharded and round-robin runs run on the nodes routing chose;
 * (c) SIGSTOP of the leader for twice the lease TTL: a new leader takes over, nothing fires twice,
 *     the old epoch's writes are refused and the old leader rejoins as a follower;
 * (b) kill -9 of the node running a long job: the run is `lost` and restarts on a survivor;
 * (d) a node whose clock is 30 s ahead: no early fire, no stolen lease.
 */
import { FencedError, type JobRecord, partitionOf, type RunRecord } from '@oasis/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type ClusterNode, pollUntil, type RunSeen } from './harness';

/** The Scheduler's default `fireAhead`, which the node processes keep. */
const FIRE_AHEAD_MS = 500;

import type { NodeAppConfig, NodeRecordLine } from './node-app';
import { type StoreKind, type StoreTarget, storeTarget } from './stores';

/**
 * Short timings so the suite fits a CI budget on two cores, yet long enough that a loaded machine
 * does not declare live nodes dead: heartbeats every 300 ms, a node silent 2 s is offline, the
 * leader lease lasts 1.5 s. Misfires only after 10 s, so a slow moment delays ticks without
 * folding them.
 */
export const SHORT_TIMINGS: NodeAppConfig['options'] = {
  heartbeatInterval: 300,
  nodeTtl: 2_000,
  leaderTtl: 1_500,
  runLease: 3_000,
  reapInterval: 500,
  pollInterval: 1_000,
  misfireThreshold: 10_000,
};

const LEADER_TTL_MS = 1_500;

/**
 * How long the cron of (a) runs: 30 s, as issue 5 asks (30 fire times raced by three nodes while
 * a serial job contends with them), on every store.
 */
const TICK_WINDOW_MS = 30_000;

/** Runs of a job from the store, oldest first. */
export async function jobRuns(cluster: Cluster, jobKey: string): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await cluster.admin.listRuns({ jobKey }, { limit: 1000, cursor });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out.reverse();
}

/** Waits until a job has no pending or running run. */
export async function waitSettled(cluster: Cluster, jobKey: string, timeoutMs = 20_000): Promise<void> {
  await pollUntil(
    async () => {
      const page = await cluster.admin.listRuns({ jobKey, states: ['pending', 'running'] }, { limit: 1 });
      return page.items.length === 0;
    },
    `job ${jobKey} to have no pending or running run`,
    timeoutMs,
  );
}

/** Disables a job and returns it as it stands (its `lastFireAt` is the last fire time materialized). */
async function stopFiring(cluster: Cluster, jobKey: string): Promise<JobRecord> {
  await cluster.admin.jobs.disable(jobKey);
  const job = await cluster.admin.jobs.get(jobKey);
  if (job === null) throw new Error(`job ${jobKey} vanished`);
  return job;
}

/**
 * Asserts that the fire times of a cron job firing every second were each materialized once and
 * run once: the store holds one run per second from `first` to `last`, all succeeded, and the
 * nodes started each exactly once.
 */
export function expectEveryTickOnce(runs: RunRecord[], seen: RunSeen[], first: number, last: number): void {
  const expected = [];
  for (let t = first; t <= last; t += 1_000) expected.push(t);
  const stored = runs.map((r) => r.scheduledFor).sort((a, b) => a - b);
  expect(stored, 'fire times materialized (missing or duplicated ticks)').toEqual(expected);
  const bad = runs.filter((r) => r.state !== 'succeeded').map((r) => [r.id, r.state, r.reason]);
  expect(bad, 'runs that did not succeed').toEqual([]);
  const started = seen.map((s) => s.scheduledFor).sort((a, b) => a - b);
  expect(started, 'ticks started by the nodes (a tick ran twice or never)').toEqual(expected);
}

/** Overlapping pairs among intervals of a serial job, as `nodeA/run [s,e] ~ nodeB/run [s,e]`. */
export function overlaps(intervals: RunSeen[]): string[] {
  const sorted = [...intervals].sort((a, b) => a.startAt - b.startAt);
  const out: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const next = sorted[i]!;
    if (prev.endAt === null || next.startAt < prev.endAt) {
      out.push(
        `${prev.nodeId}/${prev.runId} [${prev.startAt},${prev.endAt}] ~ ${next.nodeId}/${next.runId} [${next.startAt},${next.endAt}]`,
      );
    }
  }
  return out;
}

function leaderRecords(node: ClusterNode): Extract<NodeRecordLine, { kind: 'leader' }>[] {
  return node.records().filter((r): r is Extract<NodeRecordLine, { kind: 'leader' }> => r.kind === 'leader');
}

/** Registers the scenarios for one store. `skip` when its server is unreachable (warned loudly). */
export function clusterScenarios(kind: StoreKind): void {
  describe(`cluster of node processes on ${kind}`, () => {
    let target: StoreTarget | null = null;
    let cluster: Cluster;

    beforeAll(async () => {
      target = await storeTarget(kind);
      if (target === null) return;
      cluster = new Cluster({ store: target.config, defaults: SHORT_TIMINGS });
      await cluster.init();
      await cluster.startMany(['n1', 'n2', 'n3']);
    }, 90_000);

    afterAll(async () => {
      if (target === null) return;
      await cluster?.shutdown();
      await target.cleanup();
    }, 60_000);

    it('(a)+(e) a cron every second runs each tick exactly once over 3 nodes; a serial job never overlaps', async (ctx) => {
      // Skipped only when this store's server is unreachable: storeTarget() warned loudly (and failed under CI=true).
      if (target === null) return ctx.skip();
      const tick = await cluster.createJob({
        key: 'tick',
        handler: 'tick',
        schedule: '* * * * * *',
        block: 'parallel',
        misfire: 'fire-all',
      });
      await cluster.createJob({
        key: 'serial',
        handler: 'serial',
        schedule: '* * * * * *',
        params: { ms: 600 },
        block: 'serial',
        misfire: 'fire-all',
      });
      const first = tick.nextFireAt!;
      await pollUntil(
        async () => (await cluster.store.now()) >= first + TICK_WINDOW_MS,
        'the tick window to pass',
        TICK_WINDOW_MS + 10_000,
      );
      const stoppedAt = await cluster.store.now();
      const [tickDone, serialDone] = [await stopFiring(cluster, 'tick'), await stopFiring(cluster, 'serial')];
      await waitSettled(cluster, 'tick');
      await waitSettled(cluster, 'serial');

      // (a) every second from the first fire time to the last one materialized, once each.
      const last = tickDone.lastFireAt!;
      expect(last, 'the schedule kept up until it was disabled').toBeGreaterThanOrEqual(stoppedAt - 3_000);
      const runs = await jobRuns(cluster, 'tick');
      const seen = cluster.runsSeen().filter((s) => s.jobKey === 'tick');
      expectEveryTickOnce(runs, seen, first, last);
      expect(runs.length).toBeGreaterThanOrEqual(TICK_WINDOW_MS / 1_000 - 2);

      // (e) serial runs: one at a time across the cluster (no run was lost here, so no exception).
      const serialRuns = await jobRuns(cluster, 'serial');
      expect(serialRuns.filter((r) => r.state === 'lost')).toEqual([]);
      const intervals = cluster.runsSeen().filter((s) => s.jobKey === 'serial');
      expect(intervals.length, 'serial runs that ran').toBe(
        serialRuns.filter((r) => r.state === 'succeeded').length,
      );
      expect(intervals.length).toBeGreaterThanOrEqual(5);
      expect(overlaps(intervals), 'overlapping serial runs').toEqual([]);
      expect(serialDone.enabled).toBe(false);
      const nodesUsed = new Set([...seen, ...intervals].map((s) => s.nodeId));
      expect(nodesUsed.size, 'work spread over more than one node').toBeGreaterThanOrEqual(2);
    }, 90_000);

    it('(p) each node fires only its partitions; broadcast, sharded and round-robin runs run where routed', async (ctx) => {
      // Skipped only when this store's server is unreachable: storeTarget() warned loudly (and failed under CI=true).
      if (target === null) return ctx.skip();
      const live = ['n1', 'n2', 'n3'];
      let map = await cluster.store.getPartitionMap(cluster.app);
      await pollUntil(
        async () => {
          map = await cluster.store.getPartitionMap(cluster.app);
          const owners = Object.entries(map.assignments).filter(([, parts]) => parts.length > 0);
          return (
            owners
              .map(([id]) => id)
              .sort()
              .join() === live.join()
          );
        },
        'the partition map to cover the three nodes',
        20_000,
      );
      expect(
        Object.values(map.assignments)
          .flat()
          .sort((a, b) => a - b),
      ).toEqual(Array.from({ length: 64 }, (_, i) => i));
      // Two jobs in the partitions of each node.
      const owner = new Map<string, string>();
      for (const id of live) {
        for (let i = 0, found = 0; found < 2; i++) {
          const key = `p-${id}-${i}`;
          if (map.assignments[id]!.includes(partitionOf(key))) {
            owner.set(key, id);
            found++;
          }
        }
      }
      const jobs: JobRecord[] = [];
      for (const key of owner.keys()) {
        jobs.push(
          await cluster.createJob({
            key,
            handler: 'tick',
            schedule: '* * * * * *',
            block: 'parallel',
            misfire: 'fire-all',
          }),
        );
      }
      const from = await cluster.store.now();
      await pollUntil(async () => (await cluster.store.now()) >= from + 3_000, '3 s of ticks', 15_000);
      const done = new Map<string, JobRecord>();
      for (const key of owner.keys()) done.set(key, await stopFiring(cluster, key));
      for (const key of owner.keys()) await waitSettled(cluster, key);
      expect((await cluster.store.getPartitionMap(cluster.app)).generation, 'the map held').toBe(
        map.generation,
      );
      const fired = cluster.records().filter((r) => r.kind === 'fired' && owner.has(r.jobKey));
      const strays = fired
        .filter((r) => r.kind === 'fired' && owner.get(r.jobKey) !== r.nodeId)
        .map((r) => `${r.nodeId} fired ${r.kind === 'fired' ? r.jobKey : ''}`);
      expect(strays, 'fires outside the node’s partitions').toEqual([]);
      expect(new Set(fired.map((r) => r.nodeId))).toEqual(new Set(live));
      for (const job of jobs) {
        const seen = cluster.runsSeen().filter((x) => x.jobKey === job.key);
        expectEveryTickOnce(
          await jobRuns(cluster, job.key),
          seen,
          job.nextFireAt!,
          done.get(job.key)!.lastFireAt!,
        );
      }

      // Routing at run creation (here a trigger from the admin process).
      await cluster.createJob({ key: 'bc', handler: 'tick', routing: 'broadcast', block: 'parallel' });
      await cluster.createJob({ key: 'sh', handler: 'tick', shards: 3, block: 'parallel' });
      await cluster.createJob({ key: 'rr', handler: 'tick', routing: 'round-robin', block: 'parallel' });
      const made = [...(await cluster.admin.jobs.trigger('bc')), ...(await cluster.admin.jobs.trigger('sh'))];
      for (let i = 0; i < 6; i++) made.push(...(await cluster.admin.jobs.trigger('rr')));
      for (const key of ['bc', 'sh', 'rr']) await waitSettled(cluster, key);
      const seen = new Map(cluster.runsSeen().map((x) => [x.runId, x]));
      const where = made.map((run) => [run.jobKey, run.targetNode, seen.get(run.id)?.nodeId]);
      for (const [, targetNode, ranOn] of where) expect(ranOn).toBe(targetNode);
      expect(where.filter(([k]) => k === 'bc').map(([, t]) => t)).toEqual(live);
      expect(
        made.filter((r) => r.jobKey === 'sh').map((r) => [r.shardIndex, r.shardTotal, seen.get(r.id)?.shard]),
      ).toEqual([0, 1, 2].map((i) => [i, 3, { index: i, total: 3 }]));
      expect(new Set(made.filter((r) => r.jobKey === 'sh').map((r) => r.targetNode))).toEqual(new Set(live));
      const rr: Record<string, number> = {};
      for (const r of made.filter((x) => x.jobKey === 'rr')) rr[r.targetNode!] = (rr[r.targetNode!] ?? 0) + 1;
      expect(rr).toEqual({ n1: 2, n2: 2, n3: 2 });
    }, 90_000);

    it('(c) SIGSTOP of the leader for twice the lease TTL: a new leader, nothing fired twice, the old leader fenced and back as a follower', async (ctx) => {
      // Skipped only when this store's server is unreachable: storeTarget() warned loudly (and failed under CI=true).
      if (target === null) return ctx.skip();
      const job = await cluster.createJob({
        key: 'tick-c',
        handler: 'tick',
        schedule: '* * * * * *',
        block: 'parallel',
        misfire: 'fire-all',
      });
      let old: { nodeId: string; epoch: number; incarnation: number } | null = null;
      await pollUntil(
        async () => {
          old = await cluster.leader();
          return old !== null;
        },
        'a leader',
        15_000,
      );
      const former = old!;
      const oldNode = cluster.node(former.nodeId);
      oldNode.freeze();
      const frozenAt = Date.now();
      let next: { nodeId: string; epoch: number } | null = null;
      try {
        await pollUntil(
          async () => {
            next = await cluster.leader();
            return next !== null && next.nodeId !== former.nodeId;
          },
          'another node to take the lead',
          15_000,
        );
        // Hold the freeze for twice the lease TTL in all.
        await pollUntil(() => Date.now() - frozenAt >= 2 * LEADER_TTL_MS, 'twice the lease TTL', 10_000);
      } finally {
        oldNode.resume();
      }
      const resumedAt = Date.now();
      expect(next!.epoch, 'the new leader has a higher epoch').toBeGreaterThan(former.epoch);

      // The store refuses the former leader's epoch.
      await expect(
        cluster.store.writePartitionMap({ app: cluster.app, epoch: former.epoch, assignments: {} }),
      ).rejects.toBeInstanceOf(FencedError);
      await expect(
        cluster.store.reapDeadNodes({ app: cluster.app, epoch: former.epoch, nodeTtlMs: 60_000 }),
      ).rejects.toBeInstanceOf(FencedError);

      // It learns it was declared dead, rejoins with a new incarnation and follows.
      await pollUntil(
        async () => {
          const nodes = await cluster.store.listNodes(cluster.app);
          const n = nodes.find((x) => x.nodeId === former.nodeId);
          return n !== undefined && n.incarnation > former.incarnation && n.state === 'active';
        },
        'the former leader to rejoin with a new incarnation',
        15_000,
      );
      const afterResume = leaderRecords(oldNode).filter((r) => r.at >= resumedAt);
      expect(
        afterResume.filter((r) => r.isLeader),
        'the former leader leads again',
      ).toEqual([]);
      const lease = await cluster.leader();
      expect(lease?.nodeId).not.toBe(former.nodeId);

      const done = await stopFiring(cluster, 'tick-c');
      await waitSettled(cluster, 'tick-c');
      const runs = await jobRuns(cluster, 'tick-c');
      const seen = cluster.runsSeen().filter((s) => s.jobKey === 'tick-c');
      expectEveryTickOnce(runs, seen, job.nextFireAt!, done.lastFireAt!);
    }, 90_000);

    it('(b) kill -9 of the node running a long job: the run is lost and starts again on a survivor within 10 s', async (ctx) => {
      // Skipped only when this store's server is unreachable: storeTarget() warned loudly (and failed under CI=true).
      if (target === null) return ctx.skip();
      await expectFailover(cluster, 10_000);
    }, 60_000);

    it('(d) a node with its clock 30 s ahead fires nothing early and steals no lease', async (ctx) => {
      // Skipped only when this store's server is unreachable: storeTarget() warned loudly (and failed under CI=true).
      if (target === null) return ctx.skip();
      const skew = await cluster.start('skew', { clockOffsetMs: 30_000 });
      const joinedAt = Date.now();
      const job = await cluster.createJob({
        key: 'tick-d',
        handler: 'tick',
        schedule: '* * * * * *',
        block: 'parallel',
        misfire: 'fire-all',
      });
      // While the others live, let a few seconds of ticks pass: the skewed node races for them.
      const before = await cluster.store.now();
      await pollUntil(async () => (await cluster.store.now()) >= before + 3_000, '3 s of ticks', 15_000);
      expect(
        leaderRecords(skew).filter((r) => r.isLeader),
        'the skewed node took the lease from a live leader',
      ).toEqual([]);
      // Then the others leave gracefully: the skewed node alone fires every tick, and may lead now.
      const others = cluster.nodes.filter((n) => n.alive && n.id !== 'skew');
      await Promise.all(others.map((n) => n.stop()));
      const leftAt = Date.now();
      const alone = await cluster.store.now();
      await pollUntil(async () => (await cluster.store.now()) >= alone + 3_000, '3 s alone', 15_000);
      const done = await stopFiring(cluster, 'tick-d');
      await waitSettled(cluster, 'tick-d');

      const runs = await jobRuns(cluster, 'tick-d');
      // Fire ahead (the engine's default, 500 ms) makes a run up to that much before its time,
      // due at it; a node 30 s ahead must neither make one earlier nor start one before its time.
      const early = runs.filter(
        (r) => r.createdAt < r.scheduledFor - FIRE_AHEAD_MS || (r.startedAt ?? 0) < r.scheduledFor,
      );
      expect(early, 'runs made too early or started before their fire time (store time)').toEqual([]);
      const fired = skew.records().filter((r) => r.kind === 'fired' && r.jobKey === 'tick-d');
      expect(fired.length, 'fire times the skewed node materialized').toBeGreaterThanOrEqual(2);
      const seen = cluster.runsSeen().filter((s) => s.jobKey === 'tick-d');
      expectEveryTickOnce(runs, seen, job.nextFireAt!, done.lastFireAt!);
      const led = leaderRecords(skew).filter((r) => r.isLeader);
      expect(led.length, 'the skewed node leads once alone').toBeGreaterThanOrEqual(1);
      expect(led[0]!.at, 'it took the lead only after the others left').toBeGreaterThanOrEqual(
        leftAt - 1_000,
      );
      expect(joinedAt).toBeLessThan(leftAt);
    }, 90_000);
  });
}

/**
 * (b) on a running cluster: enqueues a 60 s job with one retry, kills -9 the node that runs it,
 * and expects the run `lost` and its retry started on another node within `withinMs` of the kill.
 */
export async function expectFailover(cluster: Cluster, withinMs: number): Promise<void> {
  const run = await cluster.admin.enqueue('long', { ms: 60_000 }, { retry: { maxAttempts: 2, jitter: 0 } });
  let victim: RunSeen | undefined;
  await pollUntil(
    () => {
      victim = cluster.runsSeen().find((s) => s.runId === run.id);
      return victim !== undefined;
    },
    'the long run to start',
    20_000,
  );
  const node = cluster.node(victim!.nodeId);
  await node.kill();
  const killedAt = Date.now();
  let retry: RunSeen | undefined;
  await pollUntil(
    () => {
      retry = cluster
        .runsSeen()
        .find((s) => s.handler === 'long' && s.attempt === 2 && s.startAt >= killedAt);
      return retry !== undefined;
    },
    'the retry to start on a survivor',
    withinMs + 10_000,
  );
  const took = retry!.startAt - killedAt;
  expect(took, `restart took ${took} ms`).toBeLessThanOrEqual(withinMs);
  expect(retry!.nodeId).not.toBe(victim!.nodeId);
  const lost = await cluster.admin.getRun(run.id);
  expect(lost).toMatchObject({ state: 'lost', ownerNode: victim!.nodeId });
  const again = await cluster.admin.getRun(retry!.runId);
  expect(again).toMatchObject({ state: 'running', parentRunId: run.id, attempt: 2 });
  await cluster.admin.cancel(retry!.runId, 'test over');
}
