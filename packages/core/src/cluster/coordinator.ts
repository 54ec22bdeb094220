/**
 * The cluster duties of one node, kept out of the engine's loops so the engine only calls in:
 * following the partition map (which schedule partitions this node fires), and, when it leads,
 * rebalancing the map over the members and re-routing targeted runs whose node is gone or late;
 * plus routing the runs this node makes. Every decision about time takes the store's now.
 */
import type { NodeRecord, PartitionMap, RunDraft, RunRecord } from '../model';
import { STORE_LIMITS, type Store } from '../store/store';
import { partitionOwners } from './node-state';
import { assignPartitions, sameAssignment } from './rendezvous';
import { planRetargets, routeDrafts } from './routing';

/** Options of a `ClusterCoordinator`. */
export interface ClusterCoordinatorOptions {
  /** The (guarded) store. */
  store: Store;
  app: string;
  nodeId: string;
  /** Schedule partitions (default `STORE_LIMITS.partitions`, 64). */
  partitions?: number;
  /**
   * A targeted run not claimed this long after it became due is re-routed by the leader
   * (default 10 000 ms).
   */
  dispatchTimeoutMs?: number;
  /** Routing reuses a node list this young instead of reading it again, ms (default 1 000). */
  nodesMaxAgeMs?: number;
  /**
   * How often a steady leader re-reads the members to rebalance and scans pending targeted runs,
   * ms of store time (default 30 000): the safety check. A new lease, nodes reaped as offline, or
   * a moved membership version (a join, a leave, a removal, a drain) check at once. Kept slow so
   * an idle leader stays within its store-call budget.
   */
  checkIntervalMs?: number;
  /** Uniform numbers in [0, 1) for `random` and `weighted` routing (default `Math.random`). */
  random?: () => number;
  /** A local monotonic-enough clock, ms, for the node list's age only (default `Date.now`). */
  localNow?: () => number;
}

/** What one `lead()` call did. */
export interface LeadResult {
  /** True when the members were read (a due or forced check); false: nothing was done. */
  checked: boolean;
  /** The map written by this call, or null when the current one already fits the members. */
  written: PartitionMap | null;
  /** This node's partitions after a write (null: all); undefined when they did not change. */
  partitions: number[] | null | undefined;
  /** How many targeted runs moved. */
  retargeted: number;
}

/** Pending runs the leader examines per `lead()` for re-routing. */
const RETARGET_SCAN = 500;

/**
 * Partitions, leadership duties and routing for one node. Not thread-safe across nodes by
 * itself: the store's fencing (epochs, compare-and-set) makes concurrent leaders harmless.
 */
export class ClusterCoordinator {
  readonly #store: Store;
  readonly #app: string;
  readonly #nodeId: string;
  readonly #partitionCount: number;
  readonly #dispatchTimeoutMs: number;
  readonly #nodesMaxAgeMs: number;
  readonly #checkIntervalMs: number;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #checkedEpoch: number | null = null;
  /** The membership version the last check saw (null: none seen yet). */
  #checkedMembership: number | null = null;
  /** This node's partitions as last returned (null: all, as the engine starts). */
  #mine: number[] | null = null;
  readonly #random: () => number;
  readonly #localNow: () => number;
  #map: PartitionMap | null = null;
  #generation = -1;
  #nodes: NodeRecord[] | null = null;
  #nodesAt = Number.NEGATIVE_INFINITY;
  readonly #counters = new Map<string, number>();

  constructor(options: ClusterCoordinatorOptions) {
    this.#store = options.store;
    this.#app = options.app;
    this.#nodeId = options.nodeId;
    this.#partitionCount = options.partitions ?? STORE_LIMITS.partitions;
    this.#dispatchTimeoutMs = options.dispatchTimeoutMs ?? 10_000;
    this.#nodesMaxAgeMs = options.nodesMaxAgeMs ?? 1_000;
    this.#checkIntervalMs = options.checkIntervalMs ?? 30_000;
    this.#random = options.random ?? Math.random;
    this.#localNow = options.localNow ?? Date.now;
  }

  /** The last partition map read or written, or null. */
  get map(): PartitionMap | null {
    return this.#map;
  }

  /**
   * Follows the partition map, given the generation a heartbeat brought back. When it moved
   * since the last call, reads the map and returns this node's partitions if they changed
   * (ascending; `null` for all of them: no map written yet, or the map gives it every
   * partition; `[]` when the map leaves this node out); returns `undefined` when nothing
   * changed (and makes no store call when the generation did not move).
   */
  async syncPartitions(generation: number): Promise<number[] | null | undefined> {
    if (generation === this.#generation) return undefined;
    const map = generation === 0 ? null : await this.#store.getPartitionMap(this.#app);
    if (map !== null) this.#map = map;
    this.#generation = map?.generation ?? generation;
    return this.#adopt(this.partitionsOf(map));
  }

  /** This node's partitions in a map (null: all, when no map was written or it owns them all). */
  partitionsOf(map: PartitionMap | null): number[] | null {
    if (map === null || map.generation === 0) return null;
    const mine = [...(map.assignments[this.#nodeId] ?? [])].sort((a, b) => a - b);
    return mine.length === this.#partitionCount ? null : mine;
  }

  /** Records this node's partitions; returns them when they differ from the last ones, else undefined. */
  #adopt(mine: number[] | null): number[] | null | undefined {
    const before = this.#mine;
    const same =
      mine === null || before === null
        ? mine === before
        : mine.length === before.length && mine.every((p, i) => p === before[i]);
    if (same) return undefined;
    this.#mine = mine;
    return mine;
  }

  /**
   * True when `membershipVersion` (from a heartbeat) differs from the one the last check saw:
   * a node joined, left, was reaped or removed, or got a desired state, so `lead()` would check.
   */
  membershipMoved(membershipVersion: number): boolean {
    return this.#checkedMembership !== null && membershipVersion !== this.#checkedMembership;
  }

  /**
   * The leader's duties at store time `now` under lease `epoch`, when a check is due (every
   * `checkIntervalMs`; at once for a new epoch, with `force`, e.g. after nodes were reaped, or
   * when `membershipVersion` moved since the last check): re-reads the members, writes a new
   * partition map when their weighted rendezvous assignment differs from the current one, then
   * re-routes pending targeted runs whose node is gone or that were not claimed within the
   * dispatch timeout. Throws `FencedError` (leader) when the epoch is stale.
   */
  async lead(epoch: number, now: number, force = false, membershipVersion?: number): Promise<LeadResult> {
    const moved = membershipVersion !== undefined && this.membershipMoved(membershipVersion);
    if (!force && !moved && epoch === this.#checkedEpoch && now - this.#checkedAt < this.#checkIntervalMs) {
      // The first version seen by a steady leader is the baseline for the next.
      if (membershipVersion !== undefined && this.#checkedMembership === null) {
        this.#checkedMembership = membershipVersion;
      }
      return { checked: false, written: null, partitions: undefined, retargeted: 0 };
    }
    this.#checkedAt = now;
    this.#checkedEpoch = epoch;
    if (membershipVersion !== undefined) this.#checkedMembership = membershipVersion;
    const nodes = await this.#freshNodes(0);
    const owners = partitionOwners(nodes.filter((n) => n.app === this.#app));
    const desired = assignPartitions(
      owners.map((n) => ({ nodeId: n.nodeId, weight: n.weight })),
      this.#partitionCount,
    );
    const current = this.#map ?? (await this.#store.getPartitionMap(this.#app));
    let written: PartitionMap | null = null;
    if (current.generation === 0 || !sameAssignment(current.assignments, desired)) {
      // Re-read before writing: another leader may have written since we cached it.
      const latest = await this.#store.getPartitionMap(this.#app);
      if (latest.generation === 0 || !sameAssignment(latest.assignments, desired)) {
        written = await this.#store.writePartitionMap({ app: this.#app, epoch, assignments: desired });
        this.#map = written;
        this.#generation = written.generation;
      } else {
        this.#map = latest;
      }
    }
    const partitions = written === null ? undefined : this.#adopt(this.partitionsOf(written));
    const retargeted = await this.#retarget(epoch, now, nodes);
    return { checked: true, written, partitions, retargeted };
  }

  /**
   * Routes the drafts this node is about to insert (a fire, a trigger, an enqueue): targets per
   * strategy, `broadcast` expanded to one draft per eligible node, `sharded` spread by shard
   * index. Drafts of `any` need no store call. `routingKey` gives a job's `consistent-hash` key.
   */
  async route(drafts: RunDraft[], routingKey?: (draft: RunDraft) => string | undefined): Promise<RunDraft[]> {
    if (drafts.every((d) => d.routing === 'any' || d.targetNode !== null || d.state === 'skipped')) {
      return drafts;
    }
    const nodes = await this.#freshNodes(this.#nodesMaxAgeMs);
    return routeDrafts(drafts, {
      nodes,
      random: this.#random,
      nextCounter: (key) => this.#nextCounter(key),
      ...(routingKey === undefined ? {} : { routingKey }),
    });
  }

  /** Forgets cached members and map (after a rejoin or a lost lease). */
  reset(): void {
    this.#nodes = null;
    this.#nodesAt = Number.NEGATIVE_INFINITY;
    this.#map = null;
    this.#generation = -1;
    this.#checkedEpoch = null;
    this.#checkedMembership = null;
  }

  async #retarget(epoch: number, now: number, nodes: NodeRecord[]): Promise<number> {
    const page = await this.#store.listRuns(
      { app: this.#app, states: ['pending'] },
      { limit: RETARGET_SCAN },
    );
    const targeted: RunRecord[] = page.items.filter((r) => r.targetNode !== null);
    if (targeted.length === 0) return 0;
    const moves = planRetargets(targeted, {
      nodes,
      now,
      dispatchTimeoutMs: this.#dispatchTimeoutMs,
      random: this.#random,
      nextCounter: (key) => this.#nextCounter(key),
    });
    if (moves.length === 0) return 0;
    return this.#store.retargetRuns({ app: this.#app, epoch, moves });
  }

  async #freshNodes(maxAgeMs: number): Promise<NodeRecord[]> {
    const at = this.#localNow();
    if (this.#nodes !== null && at - this.#nodesAt < maxAgeMs) return this.#nodes;
    this.#nodes = await this.#store.listNodes(this.#app);
    this.#nodesAt = at;
    return this.#nodes;
  }

  #nextCounter(key: string): number {
    const n = this.#counters.get(key) ?? 0;
    this.#counters.set(key, n + 1);
    return n;
  }
}
