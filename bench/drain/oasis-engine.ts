import { Scheduler, STORE_LIMITS, type Store, wrapStore } from '@oasis/core';
import { benchApp, dueAtOf, NOOP, noopDraft } from './oasis-drafts';
import { cleanupStore, type OasisStoreKind, openStore } from './oasis-stores';
import type { DrainContext, DrainParent, DrainSystemModule, DrainWorker, WorkerHooks } from './types';

/**
 * Oasis with its engine: each worker process is a `Scheduler` node (concurrency 50, a no-op
 * handler, every other option at its default: heartbeats, leader election, reaping, wake-ups and
 * the safety-net poll all run). The parent enqueues through the core's runtime guard
 * (`wrapStore`, the validation every engine call goes through) with `enqueueRuns` in batches of
 * `STORE_LIMITS.maxBatch` (1,000): the engine's own `enqueue` takes one task per call.
 */

async function parent(kind: OasisStoreKind, ctx: DrainContext): Promise<DrainParent> {
  const place = { kind, runId: ctx.runId, config: ctx.config };
  const app = benchApp(ctx.runId);
  let store: Store | null = null;
  const open = () => {
    if (!store) throw new Error('setup first');
    return store;
  };
  return {
    async setup() {
      await cleanupStore(place);
      store = wrapStore(await openStore(place, true));
      await store.init();
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

async function worker(kind: OasisStoreKind, ctx: DrainContext): Promise<DrainWorker> {
  const store = await openStore({ kind, runId: ctx.runId, config: ctx.config }, false);
  const scheduler = new Scheduler({ store, app: benchApp(ctx.runId), concurrency: ctx.concurrency });
  let errors = 0;
  scheduler.on('error', ({ error }: { error: unknown }) => {
    // The engine retries with backoff; print the first few so a broken run is visible.
    if (++errors <= 3) console.error('[oasis engine]', error);
  });
  let hooksRef: WorkerHooks | null = null;
  scheduler.handle(NOOP, async (ctx) => {
    hooksRef?.started(dueAtOf(ctx.params));
    hooksRef?.done();
  });
  return {
    async start(hooks) {
      hooksRef = hooks;
      await scheduler.start();
    },
    async stop() {
      await scheduler.stop({ timeoutMs: 5000 });
      await store.close();
    },
  };
}

/** The engine-based drain system for one store. */
export function oasisEngine(kind: OasisStoreKind): DrainSystemModule {
  return {
    parent: (ctx) => parent(kind, ctx),
    worker: (ctx) => worker(kind, ctx),
  };
}
