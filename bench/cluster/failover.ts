/**
 * Issue 5: failover time and leader failover time, Oasis with the engine's default settings
 * (1 s heartbeats, 5 s node TTL, 5 s leader lease, 3 s reap interval) on one store.
 *
 * A cluster of three node processes: `L` (started first, so it takes the lease; it has no `long`
 * handler, so the task never lands on the leader) and `A`, `B` (handler `long`, which runs until
 * aborted). Per repetition:
 * - failover: enqueue one `long` task (retry: 3 attempts, no jitter: the engine's default is no
 *   retry at all, and a lost run is only re-run when attempts are left); when it has started on
 *   A or B, wait 1 s, kill -9 that process, and time from the kill until the retry's handler
 *   starts on the survivor. The store's `finishedAt` of the lost run tells when it was declared
 *   lost. The retry is then cancelled and the killed node restarted under a new id.
 * - leader: kill -9 the node holding the lease (from `store.getLeader`), and time until another
 *   node reports `leader:changed` with `isLeader` (checked against the store). It is restarted.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Scheduler, type Store } from '@oasis/core';
import { cleanupStore, type OasisStoreKind, openStore, type StorePlace } from '../drain/oasis-stores';
import type { BenchConfig } from '../lib/config';
import { BENCH_DIR } from '../lib/paths';
import { sleep, waitFor } from '../lib/stats';
import type { NodeProcessConfig } from './oasis-node';
import { Child, type ChildMessage } from './procs';

const NODE_SCRIPT = join(BENCH_DIR, 'cluster', 'oasis-node.ts');

/** One failover repetition. */
export interface FailoverSample {
  /** kill -9 → the retry's handler starts on a survivor, ms. */
  failoverMs: number;
  /** kill -9 → the store's `finishedAt` of the lost run (store clock, same host), ms. */
  lostAfterMs: number | null;
  victim: string;
  survivor: string;
  loadAvg1: number;
}

/** One leader-failover repetition. */
export interface LeaderSample {
  /** kill -9 of the leader → another node reports it leads, ms. */
  leaderFailoverMs: number;
  oldLeader: string;
  newLeader: string;
  oldEpoch: number;
  newEpoch: number;
  loadAvg1: number;
}

export interface FailoverResult {
  kind: OasisStoreKind;
  failover: FailoverSample[];
  leader: LeaderSample[];
  engineErrors: string[];
}

class OasisCluster {
  readonly app: string;
  readonly place: StorePlace;
  readonly children = new Map<string, Child>();
  #seq = 0;

  constructor(place: StorePlace, app: string) {
    this.place = place;
    this.app = app;
  }

  async startNode(role: string, long: boolean): Promise<Child> {
    const nodeId = `${role}${this.#seq++}`;
    const config: NodeProcessConfig = { place: this.place, app: this.app, nodeIds: [nodeId], long };
    const child = new Child(nodeId, NODE_SCRIPT, config);
    this.children.set(nodeId, child);
    await child.waitFor('ready', () => true, 60_000);
    return child;
  }

  alive(): Child[] {
    return [...this.children.values()].filter((c) => c.alive);
  }

  /** The first message of `type` matching `where` from any live node process. */
  findAny(type: string, where: (m: ChildMessage) => boolean): { child: Child; m: ChildMessage } | null {
    for (const child of this.alive()) {
      const m = child.find(type, where);
      if (m) return { child, m };
    }
    return null;
  }

  async waitAny(type: string, where: (m: ChildMessage) => boolean, what: string, timeoutMs: number) {
    let hit: { child: Child; m: ChildMessage } | null = null;
    await waitFor(
      what,
      () => {
        hit = this.findAny(type, where);
        return hit !== null;
      },
      timeoutMs,
      5,
    );
    return hit as unknown as { child: Child; m: ChildMessage };
  }

  engineErrors(): string[] {
    return [...this.children.values()].flatMap((c) =>
      c.messages
        .filter((m) => m.type === 'engineError')
        .map((m) => `${c.name} ${String(m.during)}: ${String(m.message)}`),
    );
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.children.values()].map((c) => c.kill()));
  }
}

async function leaderOf(store: Store, app: string): Promise<{ nodeId: string; epoch: number } | null> {
  const [lease, now] = await Promise.all([store.getLeader(app), store.now()]);
  return lease && lease.expiresAt > now ? { nodeId: lease.nodeId, epoch: lease.epoch } : null;
}

/** Runs `reps` failovers then `reps` leader failovers on one fresh cluster of `kind`. */
export async function runFailover(
  kind: OasisStoreKind,
  config: BenchConfig,
  reps: number,
  log: (line: string) => void,
): Promise<FailoverResult> {
  const runId = `fo${Date.now().toString(36)}`;
  const place: StorePlace = { kind, runId, config };
  const app = `bench_${runId}`;
  await cleanupStore(place);
  const store = await openStore(place, true);
  const admin = new Scheduler({ store, app, remoteHandlers: '*', keepAlive: false });
  const cluster = new OasisCluster(place, app);
  const result: FailoverResult = { kind, failover: [], leader: [], engineErrors: [] };
  try {
    const l = await cluster.startNode('L', false);
    await l.waitFor('leader', (m) => m.isLeader === true, 30_000);
    await Promise.all([cluster.startNode('A', true), cluster.startNode('B', true)]);
    await sleep(2_000);

    for (let rep = 0; rep < reps; rep++) {
      const run = await admin.enqueue('long', {}, { retry: { maxAttempts: 3, jitter: 0 } });
      const first = await cluster.waitAny('started', (m) => m.runId === run.id, 'the task to start', 30_000);
      await sleep(1_000);
      const victim = first.child;
      const loadAvg1 = loadavg()[0] ?? 0;
      const killAt = Date.now();
      await victim.kill();
      const again = await cluster.waitAny(
        'started',
        (m) => m.attempt === 2 && (m.at as number) >= killAt,
        'the retry to start on a survivor',
        60_000,
      );
      const lost = await store.getRun(run.id);
      const sample: FailoverSample = {
        failoverMs: (again.m.at as number) - killAt,
        lostAfterMs: lost?.finishedAt != null ? lost.finishedAt - killAt : null,
        victim: victim.name,
        survivor: again.child.name,
        loadAvg1,
      };
      result.failover.push(sample);
      log(
        `  ${kind} failover ${rep + 1}/${reps}: ${sample.failoverMs} ms (lost after ${sample.lostAfterMs} ms; ${sample.victim} → ${sample.survivor}, state ${lost?.state})`,
      );
      await admin.cancel(String(again.m.runId)).catch(() => {});
      await cluster.startNode(victim.name.replace(/\d+$/, ''), true);
      await sleep(2_000);
    }

    for (let rep = 0; rep < reps; rep++) {
      const before = await leaderOf(store, app);
      if (!before) throw new Error('no leader before the leader failover');
      const victim = cluster.children.get(before.nodeId);
      if (!victim?.alive) throw new Error(`leader ${before.nodeId} is not one of the live node processes`);
      await sleep(1_000);
      const loadAvg1 = loadavg()[0] ?? 0;
      const killAt = Date.now();
      await victim.kill();
      const next = await cluster.waitAny(
        'leader',
        (m) => m.isLeader === true && (m.at as number) >= killAt,
        'another node to lead',
        60_000,
      );
      const after = await leaderOf(store, app);
      const sample: LeaderSample = {
        leaderFailoverMs: (next.m.at as number) - killAt,
        oldLeader: before.nodeId,
        newLeader: String(next.m.nodeId),
        oldEpoch: before.epoch,
        newEpoch: Number(next.m.epoch),
        loadAvg1,
      };
      if (after && after.nodeId !== sample.newLeader) sample.newLeader += ` (store: ${after.nodeId})`;
      result.leader.push(sample);
      log(
        `  ${kind} leader failover ${rep + 1}/${reps}: ${sample.leaderFailoverMs} ms (${sample.oldLeader} e${sample.oldEpoch} → ${sample.newLeader} e${sample.newEpoch})`,
      );
      // The killed node comes back (with the handler it had: only L's line has none).
      await cluster.startNode(victim.name.replace(/\d+$/, ''), !victim.name.startsWith('L'));
      await sleep(2_000);
    }
  } finally {
    result.engineErrors = cluster.engineErrors();
    await cluster.shutdown();
    await store.close().catch(() => {});
    await cleanupStore(place).catch((err: unknown) => console.error('cleanup:', err));
  }
  return result;
}

/** One repetition of the worst case: the node running the task is also the leader. */
export interface LeaderVictimSample {
  /** kill -9 of the leader running the task → the retry's handler starts on a survivor, ms. */
  failoverMs: number;
  /** kill -9 → another node leads, ms. */
  leaderMs: number | null;
  lostAfterMs: number | null;
  /** Tasks enqueued (and cancelled) until one started on the leader. */
  tries: number;
  loadAvg1: number;
}

/**
 * The worst case of failover: three node processes that all have the `long` handler; a task is
 * enqueued (and cancelled again) until one starts on the node holding the lease; 1 s later that
 * node is killed -9. The reap that marks the run lost now waits for a new leader first.
 */
export async function runLeaderVictimFailover(
  kind: OasisStoreKind,
  config: BenchConfig,
  reps: number,
  log: (line: string) => void,
): Promise<LeaderVictimSample[]> {
  const runId = `fo${Date.now().toString(36)}`;
  const place: StorePlace = { kind, runId, config };
  const app = `bench_${runId}`;
  await cleanupStore(place);
  const store = await openStore(place, true);
  const admin = new Scheduler({ store, app, remoteHandlers: '*', keepAlive: false });
  const cluster = new OasisCluster(place, app);
  const samples: LeaderVictimSample[] = [];
  try {
    await Promise.all(['P', 'Q', 'R'].map((role) => cluster.startNode(role, true)));
    await sleep(2_000);
    for (let rep = 0; rep < reps; rep++) {
      let tries = 0;
      let hit: { child: Child; runId: string } | null = null;
      while (hit === null) {
        if (++tries > 30) throw new Error('no task started on the leader in 30 tries');
        const lead = await leaderOf(store, app);
        const run = await admin.enqueue('long', {}, { retry: { maxAttempts: 3, jitter: 0 } });
        const first = await cluster.waitAny(
          'started',
          (m) => m.runId === run.id,
          'the task to start',
          30_000,
        );
        if (
          lead !== null &&
          first.child.name === lead.nodeId &&
          (await leaderOf(store, app))?.nodeId === lead.nodeId
        ) {
          hit = { child: first.child, runId: run.id };
        } else {
          await admin.cancel(run.id).catch(() => {});
          await sleep(300);
        }
      }
      await sleep(1_000);
      const loadAvg1 = loadavg()[0] ?? 0;
      const killAt = Date.now();
      await hit.child.kill();
      const again = await cluster.waitAny(
        'started',
        (m) => m.attempt === 2 && (m.at as number) >= killAt,
        'the retry to start on a survivor',
        60_000,
      );
      const led = cluster.findAny('leader', (m) => m.isLeader === true && (m.at as number) >= killAt);
      const lost = await store.getRun(hit.runId);
      const sample: LeaderVictimSample = {
        failoverMs: (again.m.at as number) - killAt,
        leaderMs: led ? (led.m.at as number) - killAt : null,
        lostAfterMs: lost?.finishedAt != null ? lost.finishedAt - killAt : null,
        tries,
        loadAvg1,
      };
      samples.push(sample);
      log(
        `  ${kind} leader-victim failover ${rep + 1}/${reps}: ${sample.failoverMs} ms (new leader after ${sample.leaderMs} ms, lost after ${sample.lostAfterMs} ms; ${hit.child.name} → ${again.child.name}, ${tries} tries)`,
      );
      await admin.cancel(String(again.m.runId)).catch(() => {});
      await cluster.startNode(hit.child.name.replace(/\d+$/, ''), true);
      await sleep(2_000);
    }
  } finally {
    const errors = cluster.engineErrors();
    if (errors.length > 0) log(`  ${kind} engine errors: ${errors.slice(0, 5).join(' | ')}`);
    await cluster.shutdown();
    await store.close().catch(() => {});
    await cleanupStore(place).catch((err: unknown) => console.error('cleanup:', err));
  }
  return samples;
}
