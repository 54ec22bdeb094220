/**
 * The demo's handlers and sample jobs, one of every kind: a cron with seconds, a fixed interval,
 * a failing job that retries, a sharded job, a slow job to cancel, and (enqueued by node 1) a
 * delayed one-off task. Every node registers the same handlers and declares the same jobs; the
 * declarations are upserted idempotently, so three nodes starting together store each job once.
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
export const DEMO_JOBS: readonly JobSpec[] = [
  {
    key: 'heartbeat-5s',
    handler: 'tick',
    schedule: '*/5 * * * * *',
    description: 'A cron with seconds: every 5 s',
    tags: ['demo', 'cron'],
  },
  {
    key: 'report-every-15s',
    handler: 'report',
    schedule: { every: '15s' },
    description: 'A fixed interval: every 15 s, with progress and log lines',
    tags: ['demo', 'interval'],
  },
  {
    key: 'flaky-sync',
    handler: 'flaky',
    schedule: { every: '20s' },
    retry: { maxAttempts: 3, backoff: 'exponential', delay: '1s', maxDelay: '5s' },
    params: { fail: null },
    description:
      'Fails often and retries (3 attempts, exponential backoff); some runs end dead. Trigger it with params {"fail": true} to make it fail for sure',
    tags: ['demo', 'retry'],
  },
  {
    key: 'reindex-sharded',
    handler: 'reindex',
    schedule: '*/30 * * * * *',
    shards: 3,
    description: 'A sharded job: 3 shards per fire, one per node',
    tags: ['demo', 'sharded'],
  },
  {
    key: 'slow-export',
    handler: 'slow',
    schedule: { cron: '0 */5 * * * *', tz: 'Europe/Paris' },
    block: 'parallel',
    description: 'A slow job (2 min, one log line a second): trigger it, then cancel it',
    tags: ['demo', 'slow'],
  },
];

/** Registers the demo's handlers on a scheduler and declares its jobs (before `start()`). */
export function setUpDemo(scheduler: Scheduler): void {
  scheduler
    .handle('tick', async (ctx) => {
      ctx.log('tick', { scheduledFor: new Date(ctx.scheduledFor).toISOString() });
      return { at: Date.now() };
    })
    .handle('report', async (ctx) => {
      for (let step = 1; step <= 4; step++) {
        ctx.log(`report step ${step}/4`);
        await ctx.progress(step * 25);
        await wait(250, ctx.signal);
      }
      return { rows: Math.floor(Math.random() * 1000) };
    })
    .handle('flaky', async (ctx) => {
      ctx.log('syncing with the partner API', { attempt: ctx.attempt });
      await wait(100, ctx.signal);
      const forced = (ctx.params as { fail?: boolean | null } | null)?.fail;
      if (forced === true || (forced !== false && Math.random() < 0.6)) {
        ctx.log('partner API answered 503', { attempt: ctx.attempt }, 'error');
        throw new Error(`partner API unavailable (attempt ${ctx.attempt} of ${ctx.maxAttempts})`);
      }
      ctx.log('synced');
      return { synced: true };
    })
    .handle('reindex', async (ctx) => {
      ctx.log(`reindexing shard ${ctx.shard.index + 1} of ${ctx.shard.total}`);
      await wait(300, ctx.signal);
      return { shard: ctx.shard.index };
    })
    .handle('slow', async (ctx) => {
      for (let second = 1; second <= 120; second++) {
        ctx.log(`exporting: ${second} s of 120`, { second });
        await ctx.progress(Math.round((second / 120) * 100));
        try {
          await wait(1000, ctx.signal);
        } catch (err) {
          ctx.log('export stopped', { reason: String((err as Error).message ?? err) }, 'warn');
          throw err;
        }
      }
      return { exported: true };
    })
    .handle('send-email', async (ctx) => {
      ctx.log('sending the welcome email', ctx.params as { to: string });
      await wait(200, ctx.signal);
      return { sent: true };
    });
  for (const job of DEMO_JOBS) scheduler.job(job);
}
