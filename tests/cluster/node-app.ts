/**
 * One node of a test cluster, run as a child process by the harness:
 * `node --import tsx tests/cluster/node-app.ts` with its configuration (JSON) in `OASIS_CLUSTER_NODE`.
 *
 * It starts a `Scheduler` on the configured store with three handlers (`tick`: returns at once;
 * `long`: waits `params.ms` or its abort; `serial`: waits `params.ms`) and appends one JSON line
 * per fact to its own record file with `appendFileSync`, so what it wrote survives a kill -9:
 * run starts and ends, leadership changes, joins (incarnations) and engine errors. The parent
 * may send `{ cmd: 'stop' }`, `{ cmd: 'drain' | 'pause' | 'resume' }` over IPC.
 */
import { appendFileSync } from 'node:fs';
import { type RunContext, Scheduler, type SchedulerOptions, SystemClock } from '@oasis/core';
import { openStore, type StoreConfig } from './stores';

/** What the harness passes to a node process. */
export interface NodeAppConfig {
  store: StoreConfig;
  app: string;
  nodeId: string;
  /** Where this node appends its records (JSON lines). */
  recordFile: string;
  /** Added to this node's clock (`new SystemClock(offset)`): a skewed node. */
  clockOffsetMs: number;
  /** Scheduler options that are plain JSON (durations, concurrency, weight…). */
  options: Partial<Pick<SchedulerOptions, NodeOptionKey>>;
}

/** The scheduler options a test may set on a node process. */
export type NodeOptionKey =
  | 'concurrency'
  | 'heartbeatInterval'
  | 'nodeTtl'
  | 'leaderTtl'
  | 'runLease'
  | 'reapInterval'
  | 'pollInterval'
  | 'misfireThreshold'
  | 'weight'
  | 'shutdownTimeout';

/** One line of a node's record file. `at` is the node's `Date.now()` (not its skewed clock). */
export type NodeRecordLine =
  | { kind: 'ready'; nodeId: string; at: number; incarnation: number | null }
  | {
      kind: 'start' | 'end';
      nodeId: string;
      at: number;
      runId: string;
      jobKey: string | null;
      handler: string;
      scheduledFor: number;
      attempt: number;
      trigger: string;
      shard: { index: number; total: number };
      /** For `end`: the handler saw its signal abort. */
      aborted?: boolean;
    }
  | { kind: 'leader'; nodeId: string; at: number; isLeader: boolean; epoch: number | null }
  | { kind: 'joined'; nodeId: string; at: number; incarnation: number }
  | { kind: 'fired'; nodeId: string; at: number; jobKey: string; scheduledFor: number; runs: number }
  | { kind: 'error'; nodeId: string; at: number; during: string; name: string; message: string };

const raw = process.env.OASIS_CLUSTER_NODE;
if (raw === undefined) throw new Error('node-app: OASIS_CLUSTER_NODE (JSON) is required');
const config = JSON.parse(raw) as NodeAppConfig;
const { nodeId } = config;

function record(line: NodeRecordLine): void {
  appendFileSync(config.recordFile, `${JSON.stringify(line)}\n`);
}

function runFacts(kind: 'start' | 'end', ctx: RunContext, extra: { aborted?: boolean } = {}) {
  record({
    kind,
    nodeId,
    at: Date.now(),
    runId: ctx.runId,
    jobKey: ctx.jobKey,
    handler: ctx.handler,
    scheduledFor: ctx.scheduledFor,
    attempt: ctx.attempt,
    trigger: ctx.trigger,
    shard: { index: ctx.shard.index, total: ctx.shard.total },
    ...extra,
  });
}

/** Resolves after `ms` or when the signal aborts (true when aborted). */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      { once: true },
    );
  });
}

const waitMs = (ctx: RunContext): number => {
  const p = ctx.params as { ms?: unknown } | null;
  return typeof p?.ms === 'number' ? p.ms : 0;
};

const store = openStore(config.store);
const scheduler = new Scheduler({
  store,
  app: config.app,
  nodeId,
  clock: new SystemClock(config.clockOffsetMs),
  keepAlive: true,
  ...config.options,
});

scheduler.handle('tick', (ctx) => {
  runFacts('start', ctx);
  runFacts('end', ctx);
  return { node: nodeId };
});
scheduler.handle('long', async (ctx) => {
  runFacts('start', ctx);
  const aborted = await wait(waitMs(ctx) || 60_000, ctx.signal);
  runFacts('end', ctx, { aborted });
  return { node: nodeId };
});
scheduler.handle('serial', async (ctx) => {
  runFacts('start', ctx);
  const aborted = await wait(waitMs(ctx), ctx.signal);
  runFacts('end', ctx, { aborted });
  return { node: nodeId };
});

scheduler.on('leader:changed', ({ leader, isLeader }) =>
  record({ kind: 'leader', nodeId, at: Date.now(), isLeader, epoch: leader?.epoch ?? null }),
);
scheduler.on('node:joined', ({ node }) =>
  record({ kind: 'joined', nodeId, at: Date.now(), incarnation: node.incarnation }),
);
scheduler.on('job:fired', ({ jobKey, scheduledFor, runs }) =>
  record({ kind: 'fired', nodeId, at: Date.now(), jobKey, scheduledFor, runs: runs.length }),
);
scheduler.on('error', ({ error, during }) => {
  const e = error instanceof Error ? error : new Error(String(error));
  record({ kind: 'error', nodeId, at: Date.now(), during, name: e.name, message: e.message });
});

/** Commands from the harness over IPC. */
type Command = { cmd: 'stop'; timeoutMs?: number };

process.on('message', (message: Command) => {
  if (message.cmd === 'stop') {
    void scheduler
      .stop({ timeoutMs: message.timeoutMs ?? 5_000 })
      .then(() => store.close())
      .finally(() => process.exit(0));
  }
});
// The parent is gone (it crashed or was killed): do not linger as an orphan.
process.on('disconnect', () => process.exit(1));

await scheduler.start();
record({ kind: 'ready', nodeId, at: Date.now(), incarnation: scheduler.incarnation });
