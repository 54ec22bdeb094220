/**
 * A drain worker process, forked by the harness with the run's `DrainContext` as JSON in argv[2].
 * It connects, says `ready`, starts consuming on `go`, reports its counts every 50 ms, and
 * stops on `stop` (or by itself after its time bound, should the harness vanish).
 */
import { DRAIN_SYSTEMS } from './systems';
import type { DrainContext, DrainWorker, ParentMessage, WorkerMessage } from './types';

const MAX_LIFETIME_MS = 15 * 60_000;

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const ctx = JSON.parse(process.argv[2] ?? '{}') as DrainContext;
  const info = DRAIN_SYSTEMS[ctx.system];
  if (!info) throw new Error(`unknown system ${ctx.system}`);
  const system = await info.load();
  const worker: DrainWorker = await system.worker(ctx);

  let firstStartAt: number | null = null;
  let started = 0;
  let done = 0;
  const lateness: number[] = [];
  const hooks = {
    started(dueAt?: number) {
      const now = Date.now();
      if (firstStartAt === null) firstStartAt = now;
      started++;
      if (typeof dueAt === 'number') lateness.push(now - dueAt);
    },
    done() {
      done++;
    },
    fail(error: unknown) {
      send({ type: 'error', message: String((error as Error)?.stack ?? error) });
    },
  };

  let lastSent = -1;
  const report = () => {
    if (done === lastSent) return;
    lastSent = done;
    send({ type: 'progress', firstStartAt, started, done });
  };
  const ticker = setInterval(report, 50);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    clearTimeout(lifetime);
    lastSent = -1;
    report();
    await worker.stop();
    send({ type: 'lateness', values: lateness });
    send({ type: 'stopped' });
    process.disconnect?.();
    // Some clients keep timers alive after close: leave anyway, the harness has what it needs.
    setTimeout(() => process.exit(0), 200).unref();
  };
  const lifetime = setTimeout(() => void stop(), MAX_LIFETIME_MS);

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'go') {
      worker.start(hooks).catch((err: unknown) => {
        send({ type: 'error', message: String((err as Error)?.stack ?? err) });
      });
    } else if (message.type === 'stop') {
      void stop();
    }
  });
  process.on('disconnect', () => void stop());
  send({ type: 'ready' });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: String((err as Error)?.stack ?? err) });
  setTimeout(() => process.exit(1), 100);
});
