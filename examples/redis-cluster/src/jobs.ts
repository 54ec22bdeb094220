/**
 * The example's handlers and sample jobs, chosen to show where runs go in a cluster: a cron that
 * any free node claims, an interval handed to the nodes in turn, a sharded job (one shard per
 * node), a broadcast job (every node runs its own copy) and, enqueued by node 1, a delayed task.
 * Every node registers the same handlers and declares the same jobs (upserted idempotently).
 */
import { type JobSpec, RunCancelledError, type RunRecord, type Scheduler } from '@oasis/core';

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new RunCancelledError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The sample jobs, declared in code on every node. */
export const CLUSTER_JOBS: readonly JobSpec[] = [
  {
    key: 'heartbeat',
    handler: 'heartbeat',
    schedule: '*/5 * * * * *',
    description: 'A cron with seconds (every 5 s); routing `any`: the first free node claims it',
    tags: ['example', 'cron'],
  },
  {
    key: 'rollup-metrics',
    handler: 'rollup',
    schedule: { every: '10s' },
    routing: 'round-robin',
    description: 'An interval (10 s) handed to the nodes in turn',
    tags: ['example', 'round-robin'],
  },
  {
    key: 'rebuild-search-index',
    handler: 'rebuild-index',
    schedule: '*/15 * * * * *',
    shards: 3,
    description: 'A sharded job: 3 shards per fire, one per node',
    tags: ['example', 'sharded'],
  },
  {
    key: 'flush-local-cache',
    handler: 'flush-cache',
    schedule: '*/20 * * * * *',
    routing: 'broadcast',
    description: 'A broadcast job: every node runs its own copy of each fire',
    tags: ['example', 'broadcast'],
  },
];

/** Registers the handlers on a scheduler (`nodeId` goes into their results) and declares the jobs. */
export function setUpCluster(scheduler: Scheduler, nodeId: string): void {
  scheduler
    .handle('heartbeat', async (ctx) => {
      ctx.log(`alive on ${nodeId}`);
      return { node: nodeId };
    })
    .handle('rollup', async (ctx) => {
      ctx.log('rolling up the last 10 s of metrics');
      await wait(200, ctx.signal);
      return { node: nodeId, points: Math.floor(Math.random() * 10_000) };
    })
    .handle('rebuild-index', async (ctx) => {
      const { index, total } = ctx.shard;
      ctx.log(`indexing documents where id % ${total} = ${index}`);
      for (let step = 1; step <= 3; step++) {
        await wait(150, ctx.signal);
        await ctx.progress(Math.round((step / 3) * 100));
      }
      return { node: nodeId, shard: index };
    })
    .handle('flush-cache', async (ctx) => {
      ctx.log(`flushing the in-process cache of ${nodeId}`);
      await wait(50, ctx.signal);
      return { node: nodeId, flushed: Math.floor(Math.random() * 500) };
    })
    .handle('send-welcome', async (ctx) => {
      ctx.log('sending a welcome message', ctx.params as { to: string });
      await wait(100, ctx.signal);
      return { node: nodeId, sent: true };
    });
  for (const job of CLUSTER_JOBS) scheduler.job(job);
}

/** What a run is, for the console: its job (or handler), shard and routing. */
function describeRun(run: RunRecord): string {
  const shard = run.shardTotal > 1 ? ` shard ${run.shardIndex + 1}/${run.shardTotal}` : '';
  return `${run.jobKey ?? run.handler}${shard} (${run.routing})`;
}

/** Prints each run this node finishes: which node ran what. */
export function printRuns(scheduler: Scheduler, nodeId: string): void {
  scheduler.on('run:succeeded', ({ run, durationMs }) => {
    console.log(`[${nodeId}] ran ${describeRun(run)} in ${durationMs} ms`);
  });
  scheduler.on('run:failed', ({ run, error, retry }) => {
    console.log(`[${nodeId}] ${describeRun(run)} failed: ${error.message}${retry ? ' (will retry)' : ''}`);
  });
}
