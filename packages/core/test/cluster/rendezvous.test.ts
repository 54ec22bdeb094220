import { describe, expect, it } from 'vitest';
import {
  assignPartitions,
  movedPartitions,
  rendezvousHash,
  rendezvousPick,
  sameAssignment,
} from '../../src/cluster/rendezvous';

const nodes = (...ids: string[]) => ids.map((nodeId) => ({ nodeId, weight: 1 }));
const owners = (map: Record<string, number[]>) => {
  const out = new Map<number, string>();
  for (const [id, parts] of Object.entries(map)) for (const p of parts) out.set(p, id);
  return out;
};

describe('weighted rendezvous hashing', () => {
  it('hashes are in (0, 1), stable, and differ by node and item', () => {
    const h = rendezvousHash('node-a', 'partition:3');
    expect(h).toBeGreaterThan(0);
    expect(h).toBeLessThan(1);
    expect(rendezvousHash('node-a', 'partition:3')).toBe(h);
    expect(rendezvousHash('node-b', 'partition:3')).not.toBe(h);
    expect(rendezvousHash('node-a', 'partition:4')).not.toBe(h);
  });

  it('assigns each of the 64 partitions to exactly one node, the same on every call and in any order', () => {
    const a = assignPartitions(nodes('n1', 'n2', 'n3'));
    const all = Object.values(a)
      .flat()
      .sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(assignPartitions(nodes('n3', 'n1', 'n2'))).toEqual(a);
    for (const parts of Object.values(a)) expect(parts.length).toBeGreaterThan(10);
  });

  it('a join moves about 1/n of the partitions, all of them to the new node', () => {
    const before = assignPartitions(nodes('n1', 'n2', 'n3'));
    const after = assignPartitions(nodes('n1', 'n2', 'n3', 'n4'));
    const moved = movedPartitions(before, after);
    // 64 / 4 = 16 expected; a binomial spread of ±3.5 around it.
    expect(moved).toBeGreaterThanOrEqual(8);
    expect(moved).toBeLessThanOrEqual(24);
    expect(moved).toBe(after.n4!.length);
    const o1 = owners(before);
    const o2 = owners(after);
    for (const [p, owner] of o2) if (owner !== 'n4') expect(o1.get(p)).toBe(owner);
  });

  it("a leave moves only the leaver's partitions", () => {
    const before = assignPartitions(nodes('n1', 'n2', 'n3', 'n4'));
    const after = assignPartitions(nodes('n1', 'n2', 'n4'));
    expect(movedPartitions(before, after)).toBe(before.n3!.length);
    const o1 = owners(before);
    for (const [p, owner] of owners(after)) if (o1.get(p) !== 'n3') expect(owner).toBe(o1.get(p));
  });

  it('shares follow the weights (1:2:3 within 10 % over 6000 keys)', () => {
    const weighted = [
      { nodeId: 'a', weight: 1 },
      { nodeId: 'b', weight: 2 },
      { nodeId: 'c', weight: 3 },
    ];
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 6_000; i++) counts[rendezvousPick(`key-${i}`, weighted)!.nodeId]!++;
    expect(Math.abs(counts.a! - 1_000)).toBeLessThan(100);
    expect(Math.abs(counts.b! - 2_000)).toBeLessThan(200);
    expect(Math.abs(counts.c! - 3_000)).toBeLessThan(300);
  });

  it('a node of weight 0 gets nothing while others can, and everything when alone', () => {
    const map = assignPartitions([
      { nodeId: 'z', weight: 0 },
      { nodeId: 'a', weight: 1 },
    ]);
    expect(map.z).toEqual([]);
    expect(map.a).toHaveLength(64);
    expect(assignPartitions([{ nodeId: 'z', weight: 0 }]).z).toHaveLength(64);
    expect(assignPartitions([])).toEqual({});
    expect(rendezvousPick('k', [])).toBeNull();
  });

  it('sameAssignment ignores order and empty nodes', () => {
    expect(sameAssignment({ a: [2, 1], b: [] }, { a: [1, 2] })).toBe(true);
    expect(sameAssignment({ a: [1] }, { b: [1] })).toBe(false);
  });
});
