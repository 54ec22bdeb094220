import { hostname } from 'node:os';
import { type RunRecord, STORE_LIMITS, type Store } from '@oasis/core';
import { sleep } from '../lib/stats';
import { benchApp, dueAtOf, NOOP, noopDraft } from './oasis-drafts';
import { cleanupStore, type OasisStoreKind, openStore } from './oasis-stores';
import type { DrainContext, DrainParent, DrainSystemModule, DrainWorker, WorkerHooks } from './types';

/**
 * Oasis's STORE CEILING: no engine, just the Store contract. Each worker process registers a node
 * and runs a minimal loop: claim up to its free slots with `claimRuns` (one store step per batch),
 * run the no-op handlers, end the batch with one `completeRuns`. No heartbeats (the lease outlasts the run), no
 * leader, no events, no validation guard. It shows what the store's hot path allows, an upper
 * bound for the engine on the same store, not the engine's figure.
 */

const LEASE_MS = 10 * 60_000;
/** Sleep between claims that found nothing (the ceiling polls; the engine has wake-ups). */
const EMPTY_POLL_MS = 5;

/** The parent side of any Oasis drain: a fresh app in its own tables/file/keys, enqueued in batches. */
export async function oasisParent(
  kind: OasisStoreKind,
  ctx: DrainContext,
): Promise<DrainParent & { store(): Store }> {
  const place = { kind, runId: ctx.runId, config: ctx.config };
  const app = benchApp(ctx.runId);
  let store: Store | null = null;
  const open = () => {
    if (!store) throw new Error('setup first');
    return store;
  };
  return {
    store: open,
    async setup() {
      await cleanupStore(place);
      store = await openStore(place, true);
    },
    async enqueue(count) {
      const s = open();
      const now = await s.now();
      for (let from = 0; from < count; from += STORE_LIMITS.maxBatch) {
        const n = Math.min(STORE_LIMITS.maxBatch, count - from);
        await s.enqueueRuns(Array.from({ length: n }, (_, k) => noopDraft(app, from + k, now)));
      }
    },
    async enqueueDelayed(dueTimes) {
      const s = open();
      const now = await s.now();
      for (let from = 0; from < dueTimes.length; from += STORE_LIMITS.maxBatch) {
        const slice = dueTimes.slice(from, from + STORE_LIMITS.maxBatch);
        await s.enqueueRuns(slice.map((dueAt, k) => noopDraft(app, from + k, now, dueAt)));
      }
    },
    async remaining() {
      const counts = await open().countRuns(app, ['pending', 'running']);
      return (counts.pending ?? 0) + (counts.running ?? 0);
    },
    async teardown() {
      try {
        await store?.close();
      } finally {
        await cleanupStore(place);
      }
    },
  };
}

async function ceilingWorker(kind: OasisStoreKind, ctx: DrainContext): Promise<DrainWorker> {
  const app = benchApp(ctx.runId);
  const store = await openStore({ kind, runId: ctx.runId, config: ctx.config }, false);
  const node = await store.registerNode({
    nodeId: `bench-${process.pid}`,
    app,
    host: hostname(),
    pid: process.pid,
    version: 'bench',
    handlers: [NOOP],
    weight: 1,
    concurrency: ctx.concurrency,
  });
  let running = 0;
  let stopping = false;
  let wake: (() => void) | null = null;
  const idle = new Set<Promise<void>>();
  let loop: Promise<void> = Promise.resolve();

  /** Runs a claimed batch (no-op handlers) and ends it with one `completeRuns`, as the engine does. */
  const execute = async (runs: RunRecord[], hooks: WorkerHooks) => {
    const t0 = performance.now();
    for (const run of runs) {
      hooks.started(dueAtOf(run.params));
      hooks.done();
    }
    const durationMs = Math.round(performance.now() - t0);
    const items = await store.completeRuns(
      runs.map((run) => ({
        runId: run.id,
        nodeId: node.nodeId,
        incarnation: node.incarnation,
        outcome: 'succeeded' as const,
        result: null,
        durationMs,
      })),
    );
    const refused = items.find((i) => !i.ok);
    if (refused && !refused.ok) throw refused.error;
  };

  const claimLoop = async (hooks: WorkerHooks) => {
    while (!stopping) {
      const free = ctx.concurrency - running;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const runs = await store.claimRuns({
        app,
        nodeId: node.nodeId,
        incarnation: node.incarnation,
        handlers: [NOOP],
        limit: free,
        leaseMs: LEASE_MS,
      });
      if (runs.length === 0) {
        await sleep(EMPTY_POLL_MS);
        continue;
      }
      running += runs.length;
      const p: Promise<void> = execute(runs, hooks)
        .catch((err: unknown) => {
          stopping = true;
          hooks.fail(err);
        })
        .finally(() => {
          running -= runs.length;
          idle.delete(p);
          const w = wake;
          wake = null;
          w?.();
        });
      idle.add(p);
    }
  };

  return {
    async start(hooks) {
      loop = claimLoop(hooks);
    },
    async stop() {
      stopping = true;
      const w = wake;
      wake = null;
      w?.();
      await loop.catch(() => {});
      await Promise.allSettled([...idle]);
      await store.leaveNode(app, node.nodeId, node.incarnation).catch(() => {});
      await store.close();
    },
  };
}

/** The store-ceiling drain system for one store. */
export function oasisStoreCeiling(kind: OasisStoreKind): DrainSystemModule {
  return {
    parent: (ctx) => oasisParent(kind, ctx),
    worker: (ctx) => ceilingWorker(kind, ctx),
  };
}
