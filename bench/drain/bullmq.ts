import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { DrainContext, DrainParent, DrainSystemModule, DrainWorker, WorkerHooks } from './types';

/** BullMQ on Redis: its defaults, but concurrency 50 per worker process. */

const QUEUE = 'noop';

function prefixOf(ctx: DrainContext): string {
  return `oasis-bench-bullmq-${ctx.runId}`;
}

function connectionOf(ctx: DrainContext) {
  const url = new URL(ctx.config.redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
  };
}

async function parent(ctx: DrainContext): Promise<DrainParent> {
  const queue = new Queue(QUEUE, { connection: connectionOf(ctx), prefix: prefixOf(ctx) });
  let enqueued = 0;
  return {
    async setup() {
      await queue.waitUntilReady();
      await queue.obliterate({ force: true });
    },
    async enqueue(count) {
      const jobs = Array.from({ length: count }, (_, i) => ({ name: 'noop', data: { i } }));
      await queue.addBulk(jobs);
      enqueued += count;
    },
    async enqueueDelayed(dueTimes) {
      const now = Date.now();
      await queue.addBulk(
        dueTimes.map((dueAt, i) => ({
          name: 'noop',
          data: { i, dueAt },
          opts: { delay: Math.max(0, dueAt - now) },
        })),
      );
      enqueued += dueTimes.length;
    },
    async remaining() {
      // Completed jobs are kept by default (`removeOnComplete` unset): count them.
      return enqueued - (await queue.getCompletedCount());
    },
    async teardown() {
      try {
        await queue.obliterate({ force: true });
        // Belt and braces: remove any key left under this run's prefix.
        const client = new Redis(ctx.config.redisUrl);
        try {
          let cursor = '0';
          do {
            const [next, keys] = await client.scan(cursor, 'MATCH', `${prefixOf(ctx)}:*`, 'COUNT', 1000);
            cursor = next;
            if (keys.length > 0) await client.del(...keys);
          } while (cursor !== '0');
        } finally {
          client.disconnect();
        }
      } finally {
        await queue.close();
      }
    },
  };
}

async function worker(ctx: DrainContext): Promise<DrainWorker> {
  let hooksRef: WorkerHooks | null = null;
  const w = new Worker<{ dueAt?: number }>(
    QUEUE,
    async (job) => {
      hooksRef?.started(job.data.dueAt);
      hooksRef?.done();
    },
    { connection: connectionOf(ctx), prefix: prefixOf(ctx), concurrency: ctx.concurrency, autorun: false },
  );
  w.on('error', (err) => console.error('[bullmq worker]', err));
  await w.waitUntilReady();
  return {
    async start(hooks) {
      hooksRef = hooks;
      void w.run();
    },
    async stop() {
      await w.close();
    },
  };
}

/** The BullMQ drain system. */
export const bullmq: DrainSystemModule = { parent, worker };
