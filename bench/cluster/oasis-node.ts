/**
 * A child process hosting one or more Oasis nodes (`Scheduler`s with the engine's default
 * settings) on one store, forked by the cluster benchmarks with its `NodeProcessConfig` as JSON in
 * argv[2]. It reports over IPC, with its own `Date.now()`: `ready` per node, `started` for each
 * handler start, `leader` and `partitions` changes, and `engineError`s. Handler `long` waits until
 * its run is aborted. On `{ type: 'stop' }` it stops its nodes gracefully and exits; when the
 * parent goes away it exits too.
 */
import { type RunContext, Scheduler, type Store } from '@oasis/core';
import { openStore, type StorePlace } from '../drain/oasis-stores';
import { countingStore, OpCounter } from './counting-store';

/** What the parent passes to a node process. */
export interface NodeProcessConfig {
  place: StorePlace;
  app: string;
  /** One `Scheduler` per id, all sharing one store instance of this process. */
  nodeIds: string[];
  /** Whether the nodes register the `long` handler (a node without it is never given the task). */
  long: boolean;
}

function send(message: Record<string, unknown>): void {
  process.send?.(message);
}

/** Resolves when the signal aborts. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as NodeProcessConfig;
  const store: Store = await openStore(config.place, false);
  const schedulers: Scheduler[] = [];
  const counters = new Map<string, OpCounter>();
  for (const nodeId of config.nodeIds) {
    const counter = new OpCounter();
    counters.set(nodeId, counter);
    const scheduler = new Scheduler({ store: countingStore(store, counter), app: config.app, nodeId });
    if (config.long) {
      scheduler.handle('long', async (ctx: RunContext) => {
        send({ type: 'started', nodeId, runId: ctx.runId, attempt: ctx.attempt, at: Date.now() });
        await untilAborted(ctx.signal);
      });
    }
    scheduler.on('leader:changed', ({ leader, isLeader }) =>
      send({
        type: 'leader',
        nodeId,
        isLeader,
        epoch: leader?.epoch ?? null,
        holder: leader?.nodeId ?? null,
        at: Date.now(),
      }),
    );
    scheduler.on('partitions:assigned', ({ generation, partitions }) =>
      send({ type: 'partitions', nodeId, generation, count: partitions?.length ?? -1, at: Date.now() }),
    );
    scheduler.on('error', ({ error, during }) =>
      send({ type: 'engineError', nodeId, during, message: String((error as Error)?.message ?? error) }),
    );
    schedulers.push(scheduler);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled(schedulers.map((s) => s.stop({ timeoutMs: 2_000 })));
    await store.close().catch(() => {});
    process.exit(0);
  };
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void stop();
    else if (m.type === 'stats') {
      send({
        type: 'stats',
        nodes: [...counters].map(([nodeId, c]) => ({
          nodeId,
          total: c.total(),
          heartbeats: c.heartbeats,
          heartbeatErrors: c.heartbeatErrors,
          maxHeartbeatGapMs: c.maxHeartbeatGapMs,
          elapsedMs: c.elapsedMs(),
        })),
      });
    } else if (m.type === 'reset') {
      for (const c of counters.values()) c.reset();
    }
  });
  process.on('disconnect', () => process.exit(1));
  await Promise.all(
    schedulers.map(async (s, i) => {
      await s.start();
      send({ type: 'ready', nodeId: config.nodeIds[i], incarnation: s.incarnation, at: Date.now() });
    }),
  );
}

main().catch((err: unknown) => {
  send({ type: 'error', message: String((err as Error)?.stack ?? err) });
  setTimeout(() => process.exit(1), 100);
});
