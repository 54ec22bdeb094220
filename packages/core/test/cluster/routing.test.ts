import { describe, expect, it } from 'vitest';
import {
  eligibleNodes,
  planRetargets,
  type RoutableNode,
  type RouteRequest,
  route,
  routeDrafts,
} from '../../src/cluster/routing';
import type { RunDraft, RunRecord } from '../../src/index';
import { retryPolicy, runDraft } from '../../src/testing/fixtures';

const APP = 'app';

function node(nodeId: string, extra: Partial<RoutableNode> = {}): RoutableNode {
  return {
    nodeId,
    app: APP,
    handlers: ['h'],
    weight: 1,
    concurrency: 10,
    running: 0,
    state: 'active',
    joinedAt: 1_000,
    ...extra,
  };
}

/** A seeded PRNG (mulberry32), so the statistical tests are deterministic. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const three = [node('n1'), node('n2'), node('n3')];

function req(extra: Partial<RouteRequest>): RouteRequest {
  return {
    strategy: 'any',
    app: APP,
    handler: 'h',
    key: 'job',
    shards: 1,
    nodes: three,
    random: seeded(1),
    counter: 0,
    ...extra,
  };
}

function tally(targets: Array<string | null>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of targets) out[String(t)] = (out[String(t)] ?? 0) + 1;
  return out;
}

describe('eligible nodes', () => {
  it('only active nodes of the app that have the handler, by node id', () => {
    const nodes = [
      node('n3'),
      node('n1'),
      node('draining', { state: 'draining' }),
      node('paused', { state: 'paused' }),
      node('offline', { state: 'offline' }),
      node('leaving', { state: 'leaving' }),
      node('other-app', { app: 'other' }),
      node('no-handler', { handlers: ['x'] }),
    ];
    expect(eligibleNodes(nodes, APP, 'h').map((n) => n.nodeId)).toEqual(['n1', 'n3']);
    for (const strategy of ['round-robin', 'random', 'weighted', 'least-loaded', 'failover'] as const) {
      for (let i = 0; i < 50; i++) {
        const [t] = route(req({ strategy, nodes, counter: i, random: seeded(i) }));
        expect(['n1', 'n3']).toContain(t!.targetNode);
      }
    }
  });

  it('no eligible node: one untargeted run (one per shard when sharded), never none', () => {
    for (const strategy of ['round-robin', 'broadcast', 'consistent-hash', 'failover'] as const) {
      expect(route(req({ strategy, nodes: [] }))).toEqual([
        { targetNode: null, shardIndex: 0, shardTotal: 1 },
      ]);
    }
    expect(route(req({ strategy: 'sharded', shards: 2, nodes: [] })).map((t) => t.targetNode)).toEqual([
      null,
      null,
    ]);
    expect(route(req({ strategy: 'any' }))).toEqual([{ targetNode: null, shardIndex: 0, shardTotal: 1 }]);
  });
});

describe('strategies', () => {
  it('round robin: within 1 of even over 300 runs on 3 nodes', () => {
    const targets = Array.from(
      { length: 300 },
      (_, i) => route(req({ strategy: 'round-robin', counter: i }))[0]!,
    );
    const counts = Object.values(tally(targets.map((t) => t.targetNode)));
    expect(counts).toHaveLength(3);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('round robin through routeDrafts keeps a counter per job', () => {
    const counters = new Map<string, number>();
    const nextCounter = (key: string) => {
      const n = counters.get(key) ?? 0;
      counters.set(key, n + 1);
      return n;
    };
    const out: string[] = [];
    for (let i = 0; i < 300; i++) {
      const [d] = routeDrafts([runDraft(APP, { jobKey: 'rr', routing: 'round-robin' })], {
        nodes: three,
        random: Math.random,
        nextCounter,
      });
      out.push(d!.targetNode!);
    }
    const counts = Object.values(tally(out));
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect(counters.get('rr')).toBe(300);
  });

  it('weighted 1:2:3: within 10 % of the shares over 600 runs', () => {
    const nodes = [node('a', { weight: 1 }), node('b', { weight: 2 }), node('c', { weight: 3 })];
    const random = seeded(42);
    const counts = tally(
      Array.from({ length: 600 }, () => route(req({ strategy: 'weighted', nodes, random }))[0]!.targetNode),
    );
    expect(Math.abs(counts.a! - 100)).toBeLessThanOrEqual(10);
    expect(Math.abs(counts.b! - 200)).toBeLessThanOrEqual(20);
    expect(Math.abs(counts.c! - 300)).toBeLessThanOrEqual(30);
  });

  it('random: every eligible node is used, about evenly', () => {
    const random = seeded(7);
    const counts = tally(
      Array.from({ length: 600 }, () => route(req({ strategy: 'random', random }))[0]!.targetNode),
    );
    for (const id of ['n1', 'n2', 'n3']) expect(Math.abs(counts[id]! - 200)).toBeLessThan(40);
  });

  it('consistent hash keeps each key on its node while membership holds; a join moves about 1/n, all to the new node', () => {
    const keys = Array.from({ length: 1_200 }, (_, i) => `order-${i}`);
    const pick = (nodes: RoutableNode[], key: string) =>
      route(req({ strategy: 'consistent-hash', key, nodes }))[0]!.targetNode!;
    const first = keys.map((k) => pick(three, k));
    // Same membership (in another order, other loads): same node for every key.
    const shuffled = [node('n3', { running: 9 }), node('n1'), node('n2', { running: 4 })];
    expect(keys.map((k) => pick(shuffled, k))).toEqual(first);
    const joined = [...three, node('n4')];
    const after = keys.map((k) => pick(joined, k));
    const moved = after.filter((t, i) => t !== first[i]);
    expect(moved.every((t) => t === 'n4')).toBe(true);
    // 1/4 of 1200 = 300.
    expect(Math.abs(moved.length - 300)).toBeLessThan(60);
  });

  it('least-loaded: the node with the lowest running/concurrency', () => {
    const nodes = [
      node('n1', { running: 5, concurrency: 10 }),
      node('n2', { running: 3, concurrency: 4 }),
      node('n3', { running: 2, concurrency: 10 }),
    ];
    expect(route(req({ strategy: 'least-loaded', nodes }))[0]!.targetNode).toBe('n3');
  });

  it('failover: the longest-joined eligible node', () => {
    const nodes = [node('n1', { joinedAt: 30 }), node('n2', { joinedAt: 10 }), node('n3', { joinedAt: 20 })];
    expect(route(req({ strategy: 'failover', nodes }))[0]!.targetNode).toBe('n2');
    expect(
      route(
        req({ strategy: 'failover', nodes: [...nodes, node('n0', { joinedAt: 1, state: 'paused' })] }),
      )[0]!.targetNode,
    ).toBe('n2');
  });

  it('broadcast: one run per eligible node, each with its own idempotency key', () => {
    const nodes = [...three, node('paused', { state: 'paused' }), node('x', { handlers: ['other'] })];
    expect(route(req({ strategy: 'broadcast', nodes })).map((t) => t.targetNode)).toEqual(['n1', 'n2', 'n3']);
    const drafts = routeDrafts(
      [runDraft(APP, { jobKey: 'b', routing: 'broadcast', idempotencyKey: 'fire:b:1000:0' })],
      { nodes, random: Math.random, nextCounter: () => 0 },
    );
    expect(drafts.map((d) => [d.targetNode, d.idempotencyKey])).toEqual([
      ['n1', 'fire:b:1000:0@n1'],
      ['n2', 'fire:b:1000:0@n2'],
      ['n3', 'fire:b:1000:0@n3'],
    ]);
  });

  it('sharded: N shards with index/total, spread so each eligible node gets its share', () => {
    const targets = route(req({ strategy: 'sharded', shards: 7 }));
    expect(targets.map((t) => [t.shardIndex, t.shardTotal])).toEqual(
      Array.from({ length: 7 }, (_, i) => [i, 7]),
    );
    expect(tally(targets.map((t) => t.targetNode))).toEqual({ n1: 3, n2: 2, n3: 2 });
    const drafts: RunDraft[] = Array.from({ length: 3 }, (_, i) =>
      runDraft(APP, { jobKey: 's', routing: 'sharded', shardIndex: i, shardTotal: 3 }),
    );
    const routed = routeDrafts(drafts, { nodes: three, random: Math.random, nextCounter: () => 0 });
    expect(routed.map((d) => [d.shardIndex, d.targetNode])).toEqual([
      [0, 'n1'],
      [1, 'n2'],
      [2, 'n3'],
    ]);
  });

  it('routeDrafts leaves any, targeted and skipped drafts alone', () => {
    const drafts = [
      runDraft(APP, { routing: 'any' }),
      runDraft(APP, { routing: 'round-robin', targetNode: 'n9' }),
      runDraft(APP, { routing: 'round-robin', state: 'skipped', reason: 'misfire' }),
    ];
    expect(routeDrafts(drafts, { nodes: three, random: Math.random, nextCounter: () => 0 })).toEqual(drafts);
  });
});

describe('re-routing by the leader', () => {
  const pending = (id: string, extra: Partial<RunRecord>): RunRecord =>
    ({
      id,
      app: APP,
      jobKey: 'j',
      handler: 'h',
      state: 'pending',
      routing: 'round-robin',
      targetNode: 'n1',
      dueAt: 1_000,
      retry: retryPolicy(),
      ...extra,
    }) as RunRecord;
  const opts = (nodes: RoutableNode[], now = 2_000) => ({
    nodes,
    now,
    dispatchTimeoutMs: 5_000,
    random: seeded(3),
    nextCounter: () => 0,
  });

  it('moves runs whose node is gone, or that were not claimed within the dispatch timeout', () => {
    const runs = [
      pending('gone', { targetNode: 'n9' }),
      pending('offline', { targetNode: 'n1' }),
      pending('fresh', { targetNode: 'n2' }),
      pending('late', { targetNode: 'n3', dueAt: -4_000 }),
      pending('untargeted', { targetNode: null }),
    ];
    const nodes = [node('n1', { state: 'offline' }), node('n2'), node('n3')];
    const moves = planRetargets(runs, opts(nodes));
    expect(moves.map((m) => m.runId)).toEqual(['gone', 'offline', 'late']);
    expect(moves.find((m) => m.runId === 'late')).toEqual({ runId: 'late', from: 'n3', to: 'n2' });
    for (const m of moves) expect(['n2', 'n3']).toContain(m.to);
  });

  it('failover goes to the next node in the failover order', () => {
    const nodes = [
      node('a', { joinedAt: 1, state: 'offline' }),
      node('b', { joinedAt: 2 }),
      node('c', { joinedAt: 3 }),
    ];
    const [move] = planRetargets([pending('r', { routing: 'failover', targetNode: 'a' })], opts(nodes));
    expect(move).toEqual({ runId: 'r', from: 'a', to: 'b' });
    const [late] = planRetargets(
      [pending('r', { routing: 'failover', targetNode: 'c', dueAt: -10_000 })],
      opts(nodes),
    );
    expect(late?.to).toBe('b');
  });

  it("broadcast: a gone node's run goes to any node; a late one on a live node stays", () => {
    const nodes = [node('n2'), node('n3')];
    expect(planRetargets([pending('r', { routing: 'broadcast', targetNode: 'n1' })], opts(nodes))).toEqual([
      { runId: 'r', from: 'n1', to: null },
    ]);
    expect(
      planRetargets([pending('r', { routing: 'broadcast', targetNode: 'n2', dueAt: -10_000 })], opts(nodes)),
    ).toEqual([]);
  });

  it('no other eligible node: released to any node', () => {
    expect(
      planRetargets([pending('r', { targetNode: 'n1' })], opts([node('n1', { state: 'draining' })])),
    ).toEqual([{ runId: 'r', from: 'n1', to: null }]);
  });
});
