/**
 * `npm run demo`: one Oasis node on the in-memory store, with a job of each kind, printing every
 * run as it happens. Ctrl-C stops it cleanly (running handlers finish or are aborted).
 */
import { MemoryStore, type RunRecord, Scheduler } from '@oasis/core';

const store = new MemoryStore();
const scheduler = new Scheduler({ store, app: 'demo', concurrency: 4 });

let flaky = 0;
scheduler
  .handle('tick', async (ctx) => {
    ctx.log('tick', { scheduledFor: new Date(ctx.scheduledFor).toISOString() });
    return { at: Date.now() };
  })
  .handle('report', async (ctx) => {
    await ctx.progress(50);
    return { rows: Math.floor(Math.random() * 100) };
  })
  .handle('flaky', async () => {
    flaky += 1;
    if (flaky % 3 !== 0) throw new Error(`flaky failure #${flaky}`);
    return { attempt: flaky };
  })
  .handle('close-order', async (ctx) => ({ closed: ctx.params }));

scheduler
  .job({ key: 'every-2-seconds', handler: 'tick', schedule: '*/2 * * * * *' })
  .job({ key: 'paris-report', handler: 'report', schedule: { cron: '*/5 * * * * *', tz: 'Europe/Paris' } })
  .job({ key: 'interval-3s', handler: 'tick', schedule: { every: '3s' } })
  .job({
    key: 'flaky-with-retries',
    handler: 'flaky',
    schedule: { every: '7s' },
    retry: { maxAttempts: 3, backoff: 'exponential', delay: '500ms', maxDelay: '5s' },
  });

const short = (run: RunRecord) =>
  `${new Date().toISOString().slice(11, 23)}  run ${run.id.padStart(4)}  ${(run.jobKey ?? `task:${run.handler}`).padEnd(20)} attempt ${run.attempt}`;

scheduler.on('run:succeeded', ({ run }) =>
  console.log(`${short(run)}  succeeded  ${JSON.stringify(run.result)}`),
);
scheduler.on('run:failed', ({ run }) => console.log(`${short(run)}  failed     ${run.error?.message}`));
scheduler.on('run:retried', ({ retry }) =>
  console.log(
    `${' '.repeat(12)}  retry scheduled as run ${retry.id} for ${new Date(retry.dueAt).toISOString().slice(11, 23)}`,
  ),
);
scheduler.on('run:dead', ({ run }) => console.log(`${short(run)}  dead       ${run.error?.message}`));
scheduler.on('error', ({ error }) => console.error('oasis error:', error));

await scheduler.start();
console.log(
  `Oasis demo: node ${scheduler.nodeId} running ${scheduler.handlers.length} handlers. Ctrl-C to stop.`,
);
await scheduler.enqueue('close-order', { orderId: 42 }, { delay: '4s', idempotencyKey: 'close-order:42' });
console.log('enqueued a delayed task: close-order #42 in 4 s');

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping (waiting for running handlers)…`);
  await scheduler.stop({ timeoutMs: 5_000 });
  await store.close();
  console.log('stopped cleanly.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
