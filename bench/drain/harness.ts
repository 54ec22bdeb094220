import { type ChildProcess, fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitForQuiet } from '../lib/cpu';
import { BENCH_DIR } from '../lib/paths';
import { percentile, sleep, waitFor } from '../lib/stats';
import { DRAIN_SYSTEMS } from './systems';
import type { DrainContext, DrainParent, ParentMessage, WorkerMessage } from './types';

/** One measured run of the drain workload. */
export interface DrainSample {
  /** Wall time of the bulk enqueue, ms. */
  enqueueMs: number;
  /** From the first handler start (any process) to the moment the store shows every task completed, ms. */
  drainMs: number;
  /** tasks / drainMs, per second. */
  throughput: number;
  /** Handler calls counted by the workers (more than `tasks` means a task ran twice). */
  executions: number;
  /** Handler calls per worker process, to see how the work was split. */
  perProcess: number[];
  /** The machine's 1-minute load average when the run started (other work on the 2 cores). */
  loadAvg1: number;
  /** Idle CPU fraction just before the run (after waiting up to 5 s for at least 60 %). */
  idleBefore: number;
  /**
   * Redis-backed systems: the Redis server's command time (INFO commandstats, every command and
   * script) from the workers' start to the drained moment, µs per task. Load-independent where
   * throughput is not, but anything else using the same server meanwhile counts too.
   */
  redisUsPerTask?: number;
}

/** One measured run of the delayed-precision workload. */
export interface DelaySample {
  tasks: number;
  windowMs: number;
  /** Handler start minus due time, ms, over every task. */
  latenessP50Ms: number;
  latenessP99Ms: number;
  latenessMaxMs: number;
  /** Tasks that started before their due time (negative lateness). */
  early: number;
  executions: number;
  idleBefore: number;
}

interface WorkerState {
  child: ChildProcess;
  ready: boolean;
  stopped: boolean;
  firstStartAt: number | null;
  done: number;
  lateness: number[];
  error: string | null;
}

const WORKER_SCRIPT = join(BENCH_DIR, 'drain', 'worker.ts');

/** What to undo if the harness is interrupted mid-run (see `interruptCleanup`). */
let current: { parent: DrainParent; workers: WorkerState[] } | null = null;

/**
 * Stops the workers and tears down the queue of the run in progress, if any: for SIGINT/SIGTERM
 * handlers, so an interrupted benchmark leaves no schema, table or key behind.
 */
export async function interruptCleanup(): Promise<void> {
  const c = current;
  current = null;
  if (!c) return;
  await stopWorkers(c.workers);
  await c.parent.teardown().catch(() => {});
}

function spawnWorker(ctx: DrainContext): WorkerState {
  // The worker runs under the same tsx loader as the harness (fork reuses process.execArgv).
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each worker there (see bench/README.md).
  const profDir = process.env.BENCH_CPU_PROF;
  const child = fork(WORKER_SCRIPT, [JSON.stringify(ctx)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(profDir ? { execArgv: [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}),
  });
  const state: WorkerState = {
    child,
    ready: false,
    stopped: false,
    firstStartAt: null,
    done: 0,
    lateness: [],
    error: null,
  };
  child.on('message', (m: WorkerMessage) => {
    if (m.type === 'ready') state.ready = true;
    else if (m.type === 'progress') {
      state.firstStartAt = m.firstStartAt;
      state.done = m.done;
    } else if (m.type === 'lateness') state.lateness = m.values;
    else if (m.type === 'stopped') state.stopped = true;
    else if (m.type === 'error') state.error = m.message;
  });
  child.on('exit', (code) => {
    if (!state.stopped && code !== 0 && !state.error) state.error = `worker exited with code ${code}`;
    state.stopped = true;
  });
  return state;
}

function tell(w: WorkerState, m: ParentMessage): void {
  if (w.child.connected) w.child.send(m);
}

function firstError(workers: WorkerState[]): string | null {
  return workers.find((w) => w.error)?.error ?? null;
}

async function stopWorkers(workers: WorkerState[]): Promise<void> {
  for (const w of workers) tell(w, { type: 'stop' });
  try {
    await waitFor(
      'workers to stop',
      () => workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null),
      20_000,
      20,
    );
  } catch {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
}

/** Sets up a fresh queue and forks the workers; resolves once all are connected. */
async function begin(
  ctx: DrainContext,
  processes: number,
): Promise<{ parent: DrainParent; workers: WorkerState[] }> {
  const info = DRAIN_SYSTEMS[ctx.system];
  if (!info) throw new Error(`unknown system ${ctx.system}`);
  const system = await info.load();
  const parent = await system.parent(ctx);
  const workers: WorkerState[] = [];
  current = { parent, workers };
  await parent.setup();
  for (let i = 0; i < processes; i++) workers.push(spawnWorker(ctx));
  await waitFor(
    'workers to be ready',
    () => {
      const err = firstError(workers);
      if (err) throw new Error(err);
      return workers.every((w) => w.ready);
    },
    60_000,
    20,
  );
  return { parent, workers };
}

async function end(parent: DrainParent, workers: WorkerState[], system: string): Promise<void> {
  current = null;
  await stopWorkers(workers);
  await parent.teardown().catch((err: unknown) => console.error(`teardown of ${system}:`, err));
}

/**
 * Waits until the store shows every task completed; returns that moment (ms since the epoch). The
 * workers' IPC counts tell when to poll the store closely (every 2 ms); otherwise it is polled
 * once a second. Throws on a worker error or after `deadline`.
 */
async function waitDrained(
  parent: DrainParent,
  workers: WorkerState[],
  tasks: number,
  deadline: number,
): Promise<number> {
  const sum = () => workers.reduce((n, w) => n + w.done, 0);
  let nextStorePoll = Date.now() + 1000;
  for (;;) {
    const err = firstError(workers);
    if (err) throw new Error(err);
    if (Date.now() > deadline) throw new Error(`timed out: workers counted ${sum()} of ${tasks}`);
    const close = sum() >= tasks;
    if (close || Date.now() >= nextStorePoll) {
      nextStorePoll = Date.now() + 1000;
      if ((await parent.remaining()) === 0) return Date.now();
    }
    await sleep(close ? 2 : 10);
  }
}

/**
 * Runs the drain workload once on a fresh queue: set up, fork `processes` workers and wait until
 * they are connected, enqueue `ctx.tasks` in bulk (timed), tell the workers to go, and wait until
 * the store shows every task completed. Throughput counts from the first handler start in any
 * process to that moment. Bounded by `timeoutMs`.
 */
export async function runDrainOnce(
  ctx: DrainContext,
  processes: number,
  timeoutMs: number,
): Promise<DrainSample> {
  const idleBefore = await waitForQuiet();
  const loadAvg1 = loadavg()[0] ?? 0;
  const { parent, workers } = await begin(ctx, processes);
  try {
    const t0 = performance.now();
    await parent.enqueue(ctx.tasks);
    const enqueueMs = performance.now() - t0;
    const redis = DRAIN_SYSTEMS[ctx.system]?.server === 'redis' ? new Redis(ctx.config.redisUrl) : null;
    const redisUsBefore = redis ? await redisCommandUs(redis) : 0;
    for (const w of workers) tell(w, { type: 'go' });
    const endAt = await waitDrained(parent, workers, ctx.tasks, Date.now() + timeoutMs);
    const redisUs = redis ? (await redisCommandUs(redis)) - redisUsBefore : 0;
    redis?.disconnect();
    // Let the last counts arrive before reading them.
    await sleep(120);
    const starts = workers.map((w) => w.firstStartAt).filter((t): t is number => t !== null);
    const firstStartAt = starts.length > 0 ? Math.min(...starts) : endAt;
    const drainMs = Math.max(1, endAt - firstStartAt);
    return {
      enqueueMs,
      drainMs,
      throughput: (ctx.tasks * 1000) / drainMs,
      executions: workers.reduce((n, w) => n + w.done, 0),
      perProcess: workers.map((w) => w.done),
      loadAvg1,
      idleBefore,
      ...(redis ? { redisUsPerTask: redisUs / ctx.tasks } : {}),
    };
  } finally {
    await end(parent, workers, ctx.system);
  }
}

/** The Redis server's total command time so far (INFO commandstats, every command), µs. */
async function redisCommandUs(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=\d+,usec=(\d+),/gm)) total += Number(m[1]);
  return total;
}

/**
 * Runs the delayed-precision workload once (issue 4): the workers start first and wait idle; then
 * `ctx.tasks` tasks are enqueued in bulk, due evenly over `windowMs` starting 1 s later; each
 * handler records its start minus its due time. Bounded by the window plus `timeoutMs`.
 */
export async function runDelayOnce(
  ctx: DrainContext,
  processes: number,
  windowMs: number,
  timeoutMs: number,
): Promise<DelaySample> {
  const idleBefore = await waitForQuiet();
  const { parent, workers } = await begin(ctx, processes);
  try {
    for (const w of workers) tell(w, { type: 'go' });
    // Give the workers time to be polling/listening before the first task is due.
    await sleep(500);
    const base = Date.now() + 1000;
    const dueTimes = Array.from({ length: ctx.tasks }, (_, i) =>
      Math.round(base + (i * windowMs) / ctx.tasks),
    );
    await parent.enqueueDelayed(dueTimes);
    await waitDrained(parent, workers, ctx.tasks, base + windowMs + timeoutMs);
    await sleep(120);
    await stopWorkers(workers);
    const values = workers.flatMap((w) => w.lateness);
    return {
      tasks: ctx.tasks,
      windowMs,
      latenessP50Ms: percentile(values, 50),
      latenessP99Ms: percentile(values, 99),
      latenessMaxMs: percentile(values, 100),
      early: values.filter((v) => v < 0).length,
      executions: values.length,
      idleBefore,
    };
  } finally {
    await end(parent, workers, ctx.system);
  }
}
