/**
 * The example's handlers and sample jobs: a cron with seconds spread round-robin over the nodes,
 * a sharded batch, a fixed interval, a job that fails and retries, and (enqueued by node 1) a
 * delayed one-off task. Every node registers the same handlers and declares the same jobs: the
 * declarations are upserted idempotently, so the nodes starting together store each job once.
 */
import { type JobSpec, RunCancelledError, type Scheduler } from '@oasis/core';

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
export const SHOP_JOBS: readonly JobSpec[] = [
  {
    key: 'sync-orders',
    handler: 'sync-orders',
    schedule: '*/5 * * * * *',
    routing: 'round-robin',
    description: 'A cron with seconds (every 5 s), handed to the nodes in turn',
    tags: ['example', 'cron'],
  },
  {
    key: 'invoice-batch',
    handler: 'invoice-batch',
    schedule: '*/20 * * * * *',
    shards: 4,
    description: 'A sharded batch: 4 shards per fire, spread over the nodes',
    tags: ['example', 'sharded'],
  },
  {
    key: 'refresh-stock',
    handler: 'refresh-stock',
    schedule: { every: '15s' },
    description: 'A fixed interval (15 s) with progress and log lines',
    tags: ['example', 'interval'],
  },
  {
    key: 'notify-partner',
    handler: 'notify-partner',
    schedule: { every: '30s' },
    retry: { maxAttempts: 3, backoff: 'exponential', delay: '1s', maxDelay: '5s' },
    params: { fail: null },
    description: 'Fails half the time and retries (3 attempts); trigger with {"fail": true} to see it die',
    tags: ['example', 'retry'],
  },
];

/** Registers the handlers on a scheduler and declares the sample jobs (before `start()`). */
export function setUpShop(scheduler: Scheduler): void {
  scheduler
    .handle('sync-orders', async (ctx) => {
      ctx.log('pulling new orders');
      await wait(150, ctx.signal);
      return { orders: Math.floor(Math.random() * 20) };
    })
    .handle('invoice-batch', async (ctx) => {
      ctx.log(`invoicing shard ${ctx.shard.index + 1} of ${ctx.shard.total}`);
      await wait(300, ctx.signal);
      return { shard: ctx.shard.index };
    })
    .handle('refresh-stock', async (ctx) => {
      for (let step = 1; step <= 4; step++) {
        ctx.log(`warehouse ${step}/4`);
        await ctx.progress(step * 25);
        await wait(200, ctx.signal);
      }
      return { skus: Math.floor(Math.random() * 5000) };
    })
    .handle('notify-partner', async (ctx) => {
      ctx.log('calling the partner webhook', { attempt: ctx.attempt });
      await wait(100, ctx.signal);
      const forced = (ctx.params as { fail?: boolean | null } | null)?.fail;
      if (forced === true || (forced !== false && Math.random() < 0.5)) {
        ctx.log('partner answered 503', { attempt: ctx.attempt }, 'error');
        throw new Error(`partner unavailable (attempt ${ctx.attempt} of ${ctx.maxAttempts})`);
      }
      return { delivered: true };
    })
    .handle('send-receipt', async (ctx) => {
      ctx.log('sending a receipt', ctx.params as { to: string });
      await wait(200, ctx.signal);
      return { sent: true };
    });
  for (const job of SHOP_JOBS) scheduler.job(job);
}

/** Prints each run this node finishes: which node ran what. */
export function printRuns(scheduler: Scheduler, nodeId: string): void {
  const what = (run: { jobKey: string | null; handler: string; shardIndex: number; shardTotal: number }) =>
    `${run.jobKey ?? run.handler}${run.shardTotal > 1 ? ` shard ${run.shardIndex + 1}/${run.shardTotal}` : ''}`;
  scheduler.on('run:succeeded', ({ run, durationMs }) => {
    console.log(`[${nodeId}] ran ${what(run)} in ${durationMs} ms`);
  });
  scheduler.on('run:failed', ({ run, error, retry }) => {
    console.log(`[${nodeId}] ${what(run)} failed: ${error.message}${retry ? ' (will retry)' : ' (dead)'}`);
  });
}
