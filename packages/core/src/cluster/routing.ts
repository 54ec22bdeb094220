/**
 * Routing: which node(s) a run goes to when it is made (a fire, a trigger, an enqueue), and where
 * the leader moves a targeted run whose node is gone or did not claim it in time. Pure selection
 * logic: no store and no clock; the caller passes the nodes, the random source and the
 * round-robin counter.
 */
import type { NodeRecord, RoutingStrategy, RunDraft, RunRecord } from '../model';
import { rendezvousPick } from './rendezvous';

/** What routing needs to know of a node (a subset of `NodeRecord`). */
export type RoutableNode = Pick<
  NodeRecord,
  'nodeId' | 'app' | 'handlers' | 'weight' | 'concurrency' | 'running' | 'state' | 'joinedAt'
>;

/** Where one run goes: a node, or null for any eligible node; and its shard. */
export interface RouteTarget {
  targetNode: string | null;
  shardIndex: number;
  shardTotal: number;
}

/** What `route` decides from. */
export interface RouteRequest {
  strategy: RoutingStrategy;
  /** The app the run belongs to: nodes of other apps are never chosen. */
  app: string;
  /** The run's handler: only nodes that have it are chosen. */
  handler: string;
  /** The sticky key of `consistent-hash` (the routing key, else the job key, else the handler). */
  key: string;
  /** How many shards a `sharded` run makes (1 otherwise). */
  shards: number;
  /** The members as last seen, any state, any app. */
  nodes: readonly RoutableNode[];
  /** A uniform number in [0, 1) (`random`, `weighted`). */
  random: () => number;
  /** The next value of this job's round-robin counter (`round-robin`); the caller increments it. */
  counter: number;
}

/**
 * The nodes that may get a run: of the app, `active`, with the handler; sorted by node id so
 * every process sees the same order.
 */
export function eligibleNodes<N extends RoutableNode>(
  nodes: readonly N[],
  app: string,
  handler: string,
): N[] {
  return nodes
    .filter((n) => n.app === app && n.state === 'active' && n.handlers.includes(handler))
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/** The `failover` order: earliest joined first (the node that has been up longest), then node id. */
export function failoverOrder<N extends RoutableNode>(nodes: readonly N[]): N[] {
  return [...nodes].sort(
    (a, b) => a.joinedAt - b.joinedAt || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0),
  );
}

/** The node with the most free room: lowest running/concurrency, then fewest running, then id. */
function leastLoaded<N extends RoutableNode>(nodes: readonly N[]): N {
  let best = nodes[0]!;
  for (const n of nodes.slice(1)) {
    const load = n.running / Math.max(1, n.concurrency);
    const bestLoad = best.running / Math.max(1, best.concurrency);
    if (load < bestLoad || (load === bestLoad && n.running < best.running)) best = n;
  }
  return best;
}

/** A node drawn with probability proportional to its weight (uniform when all weigh 0). */
function weightedDraw<N extends RoutableNode>(nodes: readonly N[], u: number): N {
  const total = nodes.reduce((sum, n) => sum + Math.max(0, n.weight), 0);
  if (!(total > 0)) return nodes[Math.min(nodes.length - 1, Math.floor(u * nodes.length))]!;
  let x = u * total;
  for (const n of nodes) {
    x -= Math.max(0, n.weight);
    if (x < 0) return n;
  }
  return nodes[nodes.length - 1]!;
}

/**
 * The targets of one run by strategy: one target for most, one per eligible node for
 * `broadcast`, `shards` targets (index/total) for `sharded`, spread over the eligible nodes in
 * turn. With no eligible node, the run is left untargeted (any node that later has the handler
 * claims it; one per shard for `sharded`), so a fire is never dropped.
 *
 * @example route({ strategy: 'round-robin', app, handler, key, shards: 1, nodes, random: Math.random, counter: 7 })
 */
export function route(request: RouteRequest): RouteTarget[] {
  const { strategy } = request;
  const one = (targetNode: string | null): RouteTarget[] => [{ targetNode, shardIndex: 0, shardTotal: 1 }];
  const eligible = eligibleNodes(request.nodes, request.app, request.handler);
  const shards = Math.max(1, Math.floor(request.shards));
  if (strategy === 'sharded') {
    return Array.from({ length: shards }, (_, i) => ({
      targetNode: eligible.length === 0 ? null : eligible[i % eligible.length]!.nodeId,
      shardIndex: i,
      shardTotal: shards,
    }));
  }
  if (strategy === 'any' || eligible.length === 0) return one(null);
  switch (strategy) {
    case 'round-robin':
      return one(eligible[Math.abs(Math.floor(request.counter)) % eligible.length]!.nodeId);
    case 'random':
      return one(
        eligible[Math.min(eligible.length - 1, Math.floor(request.random() * eligible.length))]!.nodeId,
      );
    case 'weighted':
      return one(weightedDraw(eligible, request.random()).nodeId);
    case 'consistent-hash':
      return one(rendezvousPick(request.key, eligible)!.nodeId);
    case 'least-loaded':
      return one(leastLoaded(eligible).nodeId);
    case 'failover':
      return one(failoverOrder(eligible)[0]!.nodeId);
    case 'broadcast':
      return eligible.map((n) => ({ targetNode: n.nodeId, shardIndex: 0, shardTotal: 1 }));
  }
}

/**
 * Applies routing to run drafts made for one job fire or one trigger: each draft of a
 * non-`any` strategy gets its target; a `broadcast` draft becomes one draft per eligible node,
 * each with its own idempotency key (`<key>@<nodeId>`) so a repeated fire still inserts nothing.
 * `sharded` drafts (already one per shard) are spread over the eligible nodes by shard index.
 * Drafts that already have a target are kept as they are.
 */
export function routeDrafts(
  drafts: readonly RunDraft[],
  options: {
    nodes: readonly RoutableNode[];
    random: () => number;
    /** Returns and advances the round-robin counter of a job (or handler for one-off tasks). */
    nextCounter: (key: string) => number;
    /** The routing key of the draft's job, when it has one. */
    routingKey?: (draft: RunDraft) => string | undefined;
  },
): RunDraft[] {
  const out: RunDraft[] = [];
  for (const draft of drafts) {
    if (draft.routing === 'any' || draft.targetNode !== null || draft.state === 'skipped') {
      out.push(draft);
      continue;
    }
    const key = options.routingKey?.(draft) ?? draft.jobKey ?? draft.handler;
    if (draft.routing === 'sharded') {
      const eligible = eligibleNodes(options.nodes, draft.app, draft.handler);
      const node = eligible.length === 0 ? null : eligible[draft.shardIndex % eligible.length]!.nodeId;
      out.push({ ...draft, targetNode: node });
      continue;
    }
    const targets = route({
      strategy: draft.routing,
      app: draft.app,
      handler: draft.handler,
      key,
      shards: 1,
      nodes: options.nodes,
      random: options.random,
      counter: draft.routing === 'round-robin' ? options.nextCounter(key) : 0,
    });
    if (draft.routing === 'broadcast' && targets.some((t) => t.targetNode !== null)) {
      for (const t of targets) {
        out.push({
          ...draft,
          targetNode: t.targetNode,
          idempotencyKey: draft.idempotencyKey === null ? null : `${draft.idempotencyKey}@${t.targetNode}`,
        });
      }
      continue;
    }
    out.push({ ...draft, targetNode: targets[0]!.targetNode });
  }
  return out;
}

/** A pending targeted run the leader looks at, with why it should move. */
export interface RetargetMove {
  runId: string;
  from: string | null;
  to: string | null;
}

/**
 * The moves the leader makes for pending targeted runs: a run whose target is no longer an
 * eligible node (offline, left, draining, paused, or without the handler), or that was not
 * claimed within `dispatchTimeoutMs` of becoming due, goes to another eligible node by its
 * strategy (`failover`: the next in the failover order after its current target; others:
 * re-chosen among the eligible nodes other than its current target), or to any node (`to: null`)
 * when none is left. A `broadcast` run whose node is gone goes to any node: its fire is not
 * dropped. Runs not yet due, or due and within the timeout on a live target, stay.
 */
export function planRetargets(
  runs: readonly RunRecord[],
  options: {
    nodes: readonly RoutableNode[];
    /** Store now. */
    now: number;
    dispatchTimeoutMs: number;
    random: () => number;
    nextCounter: (key: string) => number;
  },
): RetargetMove[] {
  const moves: RetargetMove[] = [];
  for (const run of runs) {
    if (run.state !== 'pending' || run.targetNode === null) continue;
    const eligible = eligibleNodes(options.nodes, run.app, run.handler);
    const alive = eligible.some((n) => n.nodeId === run.targetNode);
    const late = run.dueAt + options.dispatchTimeoutMs <= options.now;
    if (alive && !late) continue;
    const others = eligible.filter((n) => n.nodeId !== run.targetNode);
    let to: string | null = null;
    if (run.routing === 'broadcast' || others.length === 0) {
      to = alive ? run.targetNode : null;
      // A late broadcast run on a live node stays: no other node is meant to run its copy.
      if (to === run.targetNode) continue;
    } else if (run.routing === 'failover') {
      // Next after the current target in the failover order, wrapping around.
      const known = failoverOrder(
        options.nodes.filter(
          (n) => eligible.includes(n) || (n.app === run.app && n.nodeId === run.targetNode),
        ),
      );
      const at = known.findIndex((n) => n.nodeId === run.targetNode);
      const rotated = at < 0 ? known : [...known.slice(at + 1), ...known.slice(0, at)];
      to = rotated.find((n) => n.nodeId !== run.targetNode && eligible.includes(n))?.nodeId ?? null;
    } else {
      const key = run.jobKey ?? run.handler;
      const [target] = route({
        strategy: run.routing === 'sharded' ? 'round-robin' : run.routing,
        app: run.app,
        handler: run.handler,
        key,
        shards: 1,
        nodes: others,
        random: options.random,
        counter: options.nextCounter(key),
      });
      to = target!.targetNode;
    }
    moves.push({ runId: run.id, from: run.targetNode, to });
  }
  return moves;
}
