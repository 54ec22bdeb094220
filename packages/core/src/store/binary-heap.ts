/**
 * A binary min-heap with lazy deletion, for the memory store's indexes (due jobs, pending runs).
 * Entries are never removed from the middle: an entry that no longer counts is marked dead
 * (`kill`), skipped by the readers, dropped when it reaches the top, and swept out all at once
 * when dead entries outnumber the live ones.
 */

/** One entry of a `BinaryHeap`: a value plus whether it still counts. */
export interface HeapEntry<T> {
  /** What the entry stands for. */
  readonly value: T;
  /** False once killed: readers skip it. */
  live: boolean;
}

/** Sweep dead entries once there are more than this many and more dead than live ones. */
const SWEEP_MIN_DEAD = 64;

/**
 * A min-heap ordered by `compare` (negative: `a` comes first). `push` and `pop` cost
 * O(log n); `kill` is O(1); `smallest(k)` visits O(k log k) entries plus the dead ones it meets.
 *
 * @example
 * const heap = new BinaryHeap<number>((a, b) => a - b);
 * const e = heap.push(3);
 * heap.push(1);
 * heap.kill(e);
 * heap.peek(); // 1
 */
export class BinaryHeap<T> {
  readonly #compare: (a: T, b: T) => number;
  #items: HeapEntry<T>[] = [];
  #dead = 0;

  /** An empty heap ordered by `compare`, which must be a total order that never changes for an entry. */
  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  /** Live entries. */
  get size(): number {
    return this.#items.length - this.#dead;
  }

  /** Adds a value; returns its entry (to `kill` it later). */
  push(value: T): HeapEntry<T> {
    const entry: HeapEntry<T> = { value, live: true };
    this.#items.push(entry);
    this.#up(this.#items.length - 1);
    return entry;
  }

  /** Marks an entry of this heap dead (no-op when it already is). */
  kill(entry: HeapEntry<T>): void {
    if (!entry.live) return;
    entry.live = false;
    this.#dead++;
    if (this.#dead > SWEEP_MIN_DEAD && this.#dead * 2 > this.#items.length) this.#sweep();
  }

  /** The first live value, or undefined when none. Drops dead entries from the top. */
  peek(): T | undefined {
    this.#dropDeadTop();
    return this.#items[0]?.value;
  }

  /** Removes and returns the first live value, or undefined when none. */
  pop(): T | undefined {
    this.#dropDeadTop();
    const top = this.#items[0];
    if (top === undefined) return undefined;
    this.#removeTop();
    top.live = false;
    return top.value;
  }

  /**
   * Live values in order while `accept` says so, without removing them: a best-first walk of
   * the heap's tree that stops at the first value `accept` refuses (every later one comes after it).
   * `visit` returns false to stop early.
   */
  walk(accept: (value: T) => boolean, visit: (value: T) => boolean): void {
    walkHeaps([this], this.#compare, accept, visit);
  }

  /** Every live value, in no particular order. */
  *values(): IterableIterator<T> {
    for (const e of this.#items) if (e.live) yield e.value;
  }

  /** @internal The raw array, for `walkHeaps`. */
  get entries(): readonly HeapEntry<T>[] {
    return this.#items;
  }

  #dropDeadTop(): void {
    while (this.#items.length > 0 && !this.#items[0]!.live) {
      this.#removeTop();
      this.#dead--;
    }
  }

  #removeTop(): void {
    const last = this.#items.pop()!;
    if (this.#items.length > 0) {
      this.#items[0] = last;
      this.#down(0);
    }
  }

  #sweep(): void {
    this.#items = this.#items.filter((e) => e.live);
    this.#dead = 0;
    for (let i = (this.#items.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #up(i: number): void {
    const items = this.#items;
    const entry = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#compare(entry.value, items[parent]!.value) >= 0) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const entry = items[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.#compare(items[child + 1]!.value, items[child]!.value) < 0) child++;
      if (this.#compare(items[child]!.value, entry.value) >= 0) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = entry;
  }
}

/**
 * Walks the live values of several heaps sharing one order, merged in that order, without
 * removing live values (dead ones on the tops are dropped): calls `visit` for each value `accept`
 * takes, and stops at the first value `accept` refuses (all later values come after it) or when
 * `visit` returns false. Costs O(m log m) for m visited entries (dead ones met included).
 */
export function walkHeaps<T>(
  heaps: readonly BinaryHeap<T>[],
  compare: (a: T, b: T) => number,
  accept: (value: T) => boolean,
  visit: (value: T) => boolean,
): void {
  // The frontier: (heap, index) pairs whose parents were visited, ordered by their values.
  const frontier = new BinaryHeap<{ entries: readonly HeapEntry<T>[]; i: number }>((a, b) =>
    compare(a.entries[a.i]!.value, b.entries[b.i]!.value),
  );
  // `peek` first drops dead entries from each top: they are usually the earliest ones (the values
  // just replaced or taken), and left there every walk would step over them again.
  for (const heap of heaps) if (heap.peek() !== undefined) frontier.push({ entries: heap.entries, i: 0 });
  for (;;) {
    const at = frontier.pop();
    if (at === undefined) return;
    const entry = at.entries[at.i]!;
    if (!accept(entry.value)) return;
    if (entry.live && !visit(entry.value)) return;
    const child = 2 * at.i + 1;
    if (child < at.entries.length) frontier.push({ entries: at.entries, i: child });
    if (child + 1 < at.entries.length) frontier.push({ entries: at.entries, i: child + 1 });
  }
}
