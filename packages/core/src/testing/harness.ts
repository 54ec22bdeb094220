/**
 * The conformance suite's shared state: the stores under test (wrapped in the runtime guard),
 * fresh app names, store-time waiting and a few helpers every topic file uses.
 */
import { expect } from 'vitest';
import type { OasisErrorCode } from '../errors';
import type { NodeInfo, NodeRecord, RunDraft, RunRecord } from '../model';
import { wrapStore } from '../store/runtime-store';
import type { Store } from '../store/store';
import { nodeInfo, runDraft, uniqueApp } from './fixtures';

/** Options of `runStoreConformance`. */
export interface StoreConformanceOptions {
  /** Shown in the describe() title. */
  name: string;
  /**
   * Makes a store connected to the same backing data (same database / server). Called several
   * times for multi-client tests when the store declares `capabilities.crossProcess` (once
   * otherwise); the suite wraps each in `RuntimeStore`, calls `init()` and closes them afterwards.
   */
  create(): Promise<Store>;
  /**
   * For virtual clocks: moves store time forward. When absent the suite waits in real time,
   * polling `store.now()` with a deadline, and keeps its short leases at `shortMs`.
   */
  advanceTime?: (ms: number) => Promise<void>;
  /** How many store instances the multi-client tests use when crossProcess (default 3). */
  instances?: number;
  /**
   * The short lease / TTL used where a test needs something to expire, in ms (default 400 in real
   * time, 1000 under a virtual clock). Raise it for a slow remote server.
   */
  shortMs?: number;
  /** The log line cap of the stores `create()` makes (default `STORE_LIMITS.maxLogLinesPerRun`). */
  maxLogLinesPerRun?: number;
}

/** What the topic files share. */
export class Harness {
  readonly options: StoreConformanceOptions;
  /** A lease / TTL that tests let expire. */
  readonly short: number;
  /** A lease / TTL that never expires during a test. */
  readonly long = 10 * 60_000;
  #stores: Store[] = [];

  /** Creates the harness; stores are made by `setup()`. */
  constructor(options: StoreConformanceOptions) {
    this.options = options;
    this.short = options.shortMs ?? (options.advanceTime ? 1000 : 400);
  }

  /** Makes, wraps and initializes the stores. */
  async setup(): Promise<void> {
    const first = wrapStore(await this.options.create());
    await first.init();
    this.#stores = [first];
    if (first.capabilities.crossProcess) {
      const count = Math.max(2, this.options.instances ?? 3);
      for (let i = 1; i < count; i++) {
        const other = wrapStore(await this.options.create());
        await other.init();
        this.#stores.push(other);
      }
    }
  }

  /** Closes every store made by `setup()`. */
  async teardown(): Promise<void> {
    const stores = this.#stores;
    this.#stores = [];
    await Promise.all(stores.map((s) => s.close()));
  }

  /** The first store. */
  get store(): Store {
    const store = this.#stores[0];
    if (!store) throw new Error('the conformance harness has no store: setup() did not run or failed');
    return store;
  }

  /** Every store instance: several when the store is crossProcess, else the one. */
  get stores(): Store[] {
    if (this.#stores.length === 0) return [this.store];
    return this.#stores;
  }

  /** The store instance to use for the i-th concurrent actor (round robin over `stores`). */
  at(i: number): Store {
    const stores = this.stores;
    return stores[i % stores.length]!;
  }

  /** True when the store runs on a virtual clock. */
  get virtualTime(): boolean {
    return this.options.advanceTime !== undefined;
  }

  /** A fresh app name for one test. */
  app(): string {
    return uniqueApp('conf');
  }

  /**
   * Moves store time forward by at least `ms`: through `advanceTime` for a virtual clock, else by
   * polling `store.now()` until it has moved that far (deadline: `ms` + 10 s).
   */
  async advance(ms: number): Promise<void> {
    if (this.options.advanceTime) {
      await this.options.advanceTime(ms);
      return;
    }
    const target = (await this.store.now()) + ms;
    await this.waitFor(
      async () => (await this.store.now()) >= target,
      `store time to pass ${target}`,
      ms + 10_000,
    );
  }

  /** Polls `check` every 10 ms until it returns a truthy value; fails after `timeoutMs`. */
  async waitFor<T>(
    check: () => Promise<T | false | null | undefined> | T | false | null | undefined,
    what: string,
    timeoutMs = 10_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Registers a node (handlers `['h']` unless overridden). */
  async node(
    app: string,
    nodeId: string,
    overrides: Partial<NodeInfo> = {},
    store = this.store,
  ): Promise<NodeRecord> {
    return store.registerNode(nodeInfo(app, nodeId, overrides));
  }

  /** Enqueues one run and returns it. */
  async enqueue(app: string, overrides: Partial<RunDraft> = {}, store = this.store): Promise<RunRecord> {
    const [result] = await store.enqueueRuns([runDraft(app, overrides)]);
    return result!.run;
  }

  /** Registers a node and claims up to `limit` runs for it with a long lease. */
  async claimAs(node: NodeRecord, limit = 10, leaseMs = this.long, store = this.store): Promise<RunRecord[]> {
    return store.claimRuns({
      app: node.app,
      nodeId: node.nodeId,
      incarnation: node.incarnation,
      handlers: node.handlers,
      limit,
      leaseMs,
    });
  }

  /** Takes the leader lease for `node` with a long TTL and returns its epoch. */
  async lead(node: NodeRecord, ttlMs = this.long): Promise<number> {
    const lease = await this.store.acquireLeadership({
      app: node.app,
      nodeId: node.nodeId,
      incarnation: node.incarnation,
      ttlMs,
    });
    expect(lease.nodeId).toBe(node.nodeId);
    return lease.epoch;
  }

  /** Every run of the app, newest first, through all pages. */
  async allRuns(app: string, store = this.store): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.listRuns({ app }, { limit: 1000, cursor });
      runs.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return runs;
  }
}

/** Awaits `promise` and asserts it rejects with an Oasis error of `code` (and the given fields). */
export async function expectOasisError(
  promise: Promise<unknown>,
  code: OasisErrorCode,
  fields: Record<string, unknown> = {},
): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  expect(error, `expected a rejection with code ${code}`).toBeDefined();
  expect(error).toMatchObject({ code, ...fields });
}
