/**
 * A peer's worker process for the failover comparison, forked by `peers.ts` with its
 * `PeerWorkerConfig` as JSON in argv[2]. It consumes one queue with the peer's default settings
 * (except the settings `peers.ts` documents), says `ready`, and reports `started` (job id, its
 * own `Date.now()`) when its handler starts; the handler never returns, as a long job would not
 * before its process is killed.
 */
import { Worker } from 'bullmq';
import { Logger, run } from 'graphile-worker';
import PgBoss from 'pg-boss';
import type { BenchConfig } from '../lib/config';

export interface PeerWorkerConfig {
  system: 'bullmq' | 'pg-boss' | 'graphile-worker';
  config: BenchConfig;
  /** BullMQ key prefix, or pg-boss / graphile-worker schema. */
  namespace: string;
  /** BullMQ / pg-boss queue name (graphile-worker: the task identifier is `long`). */
  queue: string;
  /** pg-boss: maintenance interval, s (its default is 120). */
  pgBossMaintenanceSeconds?: number;
  /** graphile-worker: the locked-job sweep interval bounds, ms (its defaults are 8 and 10 min). */
  graphileResetLockedMs?: [min: number, max: number];
}

function send(message: Record<string, unknown>): void {
  process.send?.(message);
}

const forever = () => new Promise<never>(() => {});

function redisConnection(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] ?? '{}') as PeerWorkerConfig;
  if (c.system === 'bullmq') {
    // Defaults: concurrency 1, lockDuration 30 s, stalledInterval 30 s, maxStalledCount 1.
    const worker = new Worker(
      c.queue,
      async (job) => {
        send({ type: 'started', jobId: String(job.id), at: Date.now() });
        await forever();
      },
      { connection: redisConnection(c.config.redisUrl), prefix: c.namespace },
    );
    worker.on('error', () => {});
    await worker.waitUntilReady();
  } else if (c.system === 'pg-boss') {
    const boss = new PgBoss({
      connectionString: c.config.pgUrl,
      schema: c.namespace,
      ...(c.pgBossMaintenanceSeconds ? { maintenanceIntervalSeconds: c.pgBossMaintenanceSeconds } : {}),
    });
    boss.on('error', () => {});
    await boss.start();
    // Defaults: batchSize 1, pollingIntervalSeconds 2.
    await boss.work(c.queue, async ([job]) => {
      send({ type: 'started', jobId: String(job?.id), at: Date.now() });
      await forever();
    });
  } else {
    const [min, max] = c.graphileResetLockedMs ?? [8 * 60_000, 10 * 60_000];
    // Defaults: concurrency 1, pollInterval 2 s; the sweep bounds as documented in peers.ts.
    await run({
      connectionString: c.config.pgUrl,
      schema: c.namespace,
      noHandleSignals: true,
      minResetLockedInterval: min,
      maxResetLockedInterval: max,
      logger: new Logger(() => () => {}),
      taskList: {
        long: async (_payload, helpers) => {
          send({ type: 'started', jobId: String(helpers.job.id), at: Date.now() });
          await forever();
        },
      },
    });
  }
  send({ type: 'ready' });
}

process.on('disconnect', () => process.exit(1));
main().catch((err: unknown) => {
  send({ type: 'error', message: String((err as Error)?.stack ?? err) });
  setTimeout(() => process.exit(1), 100);
});
