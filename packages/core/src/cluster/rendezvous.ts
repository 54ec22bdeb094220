/**
 * Weighted rendezvous (highest random weight) hashing: each item goes to the node with the
 * highest score for it, a score being a hash of (node, item) bent by the node's weight. Every
 * node computes the same answer from the same membership, and a membership change moves only
 * the items that must move: a joining node takes about `weight / total weight` of the items,
 * all from the others, and a leaving node's items spread over the rest, no other item moving.
 *
 * The weighting is the logarithmic method (Schindelhauer and Schomaker, "Weighted distributed
 * hash tables", 2005): score = -weight / ln(u) with u uniform in (0, 1), so a node's share of the
 * items is proportional to its weight.
 */
import { STORE_LIMITS } from '../store/store';

/** A node as rendezvous hashing sees it. */
export interface WeightedNode {
  /** Unique among the nodes. */
  nodeId: string;
  /** Relative capacity, at least 0; a node of weight 0 gets nothing while any other can. */
  weight: number;
}

const encoder = new TextEncoder();

/** FNV-1a over the UTF-8 bytes, 32 bits, from a given basis. */
function fnv1a(text: string, basis: number): number {
  let hash = basis >>> 0;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** MurmurHash3's 32-bit finalizer: spreads every input bit over the output (FNV alone clusters). */
function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A stable uniform number in (0, 1) for (node, item): the same on every process, platform and
 * version, built from two independent 32-bit hashes (53 bits of precision).
 */
export function rendezvousHash(nodeId: string, item: string): number {
  const text = `${nodeId}\u0000${item}`;
  const hi = fmix32(fnv1a(text, 0x811c9dc5)) >>> 5; // 27 bits
  const lo = fmix32(fnv1a(text, 0x050c5d1f)) >>> 6; // 26 bits
  return (hi * 2 ** 26 + lo + 0.5) / 2 ** 53;
}

/**
 * The weighted score of a node for an item: `-weight / ln(u)`. Higher wins; 0 for weight 0.
 */
export function rendezvousScore(node: WeightedNode, item: string): number {
  if (!(node.weight > 0)) return 0;
  return -node.weight / Math.log(rendezvousHash(node.nodeId, item));
}

/**
 * The node an item goes to: the highest score, ties broken by the smaller node id; nodes of
 * weight 0 only when no node has a positive weight. Null when `nodes` is empty.
 *
 * @example rendezvousPick('invoice-42', [{ nodeId: 'a', weight: 1 }, { nodeId: 'b', weight: 2 }])
 */
export function rendezvousPick<N extends WeightedNode>(item: string, nodes: readonly N[]): N | null {
  let best: N | null = null;
  let bestScore = -1;
  for (const node of nodes) {
    const score = rendezvousScore(node, item);
    if (score > bestScore || (score === bestScore && best !== null && node.nodeId < best.nodeId)) {
      best = node;
      bestScore = score;
    }
  }
  if (best !== null && bestScore === 0) {
    // Every weight is 0: fall back to equal weights so the item still lands somewhere.
    return rendezvousPick(
      item,
      nodes.map((n) => ({ ...n, weight: 1 })),
    ) as N | null;
  }
  return best;
}

/**
 * Assigns partitions `0 … partitions - 1` to nodes by weighted rendezvous hashing. Returns
 * nodeId → its partitions ascending; every node given appears, possibly with none; an empty
 * object when there is no node.
 *
 * @param nodes the nodes that may own partitions (the leader passes the active ones).
 * @param partitions how many partitions (default `STORE_LIMITS.partitions`, 64).
 */
export function assignPartitions(
  nodes: readonly WeightedNode[],
  partitions: number = STORE_LIMITS.partitions,
): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const node of nodes) out[node.nodeId] = [];
  if (nodes.length === 0) return out;
  for (let p = 0; p < partitions; p++) {
    const owner = rendezvousPick(`partition:${p}`, nodes)!;
    out[owner.nodeId]!.push(p);
  }
  return out;
}

/**
 * How many partitions change owner between two assignments (a partition unowned in one and owned
 * in the other counts as moved).
 */
export function movedPartitions(before: Record<string, number[]>, after: Record<string, number[]>): number {
  const owner = (map: Record<string, number[]>) => {
    const m = new Map<number, string>();
    for (const [nodeId, parts] of Object.entries(map)) for (const p of parts) m.set(p, nodeId);
    return m;
  };
  const a = owner(before);
  const b = owner(after);
  let moved = 0;
  for (const p of new Set([...a.keys(), ...b.keys()])) if (a.get(p) !== b.get(p)) moved++;
  return moved;
}

/** True when two assignments give every node the same partitions (nodes with none are ignored). */
export function sameAssignment(a: Record<string, number[]>, b: Record<string, number[]>): boolean {
  const norm = (m: Record<string, number[]>) =>
    JSON.stringify(
      Object.entries(m)
        .filter(([, parts]) => parts.length > 0)
        .map(([id, parts]) => [id, [...parts].sort((x, y) => x - y)])
        .sort(([x], [y]) => ((x as string) < (y as string) ? -1 : 1)),
    );
  return norm(a) === norm(b);
}
