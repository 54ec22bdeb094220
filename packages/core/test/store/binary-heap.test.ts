import { describe, expect, it } from 'vitest';
import { BinaryHeap, walkHeaps } from '../../src/store/binary-heap';

/** A small seeded PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const byNumber = (a: number, b: number) => a - b;

describe('BinaryHeap', () => {
  it('pops live values in order, skipping killed ones, through sweeps', () => {
    const rand = prng(7);
    const heap = new BinaryHeap<number>(byNumber);
    const live = new Map<number, ReturnType<typeof heap.push>>();
    let next = 0;
    for (let step = 0; step < 5_000; step++) {
      const r = rand();
      if (r < 0.5) {
        const v = Math.floor(rand() * 1_000) * 10_000 + next++;
        live.set(v, heap.push(v));
      } else if (r < 0.85 && live.size > 0) {
        const keys = [...live.keys()];
        const v = keys[Math.floor(rand() * keys.length)]!;
        heap.kill(live.get(v)!);
        heap.kill(live.get(v)!); // twice is harmless
        live.delete(v);
      } else {
        const expected = live.size === 0 ? undefined : Math.min(...live.keys());
        expect(heap.peek()).toBe(expected);
        expect(heap.pop()).toBe(expected);
        if (expected !== undefined) live.delete(expected);
      }
      expect(heap.size).toBe(live.size);
    }
    expect([...heap.values()].sort(byNumber)).toEqual([...live.keys()].sort(byNumber));
  });

  it('walkHeaps merges several heaps in order without removing anything, and stops where told', () => {
    const rand = prng(11);
    const heaps = [0, 1, 2].map(() => new BinaryHeap<number>(byNumber));
    const all: number[] = [];
    for (let i = 0; i < 300; i++) {
      const v = Math.floor(rand() * 100_000);
      const e = heaps[i % 3]!.push(v);
      if (i % 7 === 0) heaps[i % 3]!.kill(e);
      else all.push(v);
    }
    all.sort(byNumber);
    const seen: number[] = [];
    walkHeaps(
      heaps,
      byNumber,
      () => true,
      (v) => {
        seen.push(v);
        return true;
      },
    );
    expect(seen).toEqual(all);
    const below = (limit: number) => {
      const out: number[] = [];
      walkHeaps(
        heaps,
        byNumber,
        (v) => v <= limit,
        (v) => {
          out.push(v);
          return true;
        },
      );
      return out;
    };
    expect(below(50_000)).toEqual(all.filter((v) => v <= 50_000));
    const firstTen: number[] = [];
    walkHeaps(
      heaps,
      byNumber,
      () => true,
      (v) => {
        firstTen.push(v);
        return firstTen.length < 10;
      },
    );
    expect(firstTen).toEqual(all.slice(0, 10));
    expect(heaps.reduce((n, h) => n + h.size, 0)).toBe(all.length);
  });
});
