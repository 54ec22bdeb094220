/**
 * The core on the memory store (issue 2), in a process of its own started with --expose-gc:
 *
 * 1. Registration: 10,000 cron jobs declared and upserted by `start()`; RSS and heap after a
 *    full GC, compared with the same process before the jobs (goal: RSS under 100 MB). RSS is
 *    read twice: right after `start()` (V8 still holds the young generation it grew while
 *    registering) and after 10 s idle (V8's memory reducer has shrunk it, as in a server).
 * 2. Fire lateness at 1,000 fires per second, handler start minus the run's `scheduledFor`:
 *    - `burst`: 1,000 jobs on the 1-second cron `* * * * * *`, all due at each second;
 *    - `spread`: 1,000 jobs `every: 1s`, created about 1 ms apart, so fires spread over each second;
 *    - `ahead`: 1,000 one-off runs enqueued ~0.6 s before the whole second they are due at: the
 *      instant's cost without firing (what firing ahead of time would leave).
 *    Each runs for `seconds` (10 s, 3 s with --quick) after a warm-up of 3 s (1 s with --quick),
 *    the time V8 takes to optimize the hot path: the first two seconds of a burst run 3–10×
 *    later than the steady state. The warm-up's own p99 is reported apart (`…WarmupP99Ms`).
 *    Goal: p99 under 10 ms.
 *
 * The harness starts this file under tsx, whose loader (esbuild) adds ~40 MB of RSS that an app
 * running built JS does not carry. So by default this process bundles the benchmark with
 * esbuild (sources of `@oasis/core` as they are in the working tree, through the root
 * tsconfig's paths) and runs the bundle in a child `node --expose-gc`, relaying its result.
 * `--tsx` measures in the tsx process itself instead. Either way `loader` says which.
 *
 * --quick registers 1,000 jobs instead of 10,000 and fires for 3 s. Sends a `CoreResult` to the
 * harness over IPC (or prints it when run alone). Bounded in time (10 minutes).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MemoryStore, Scheduler } from '@oasis/core';
import { percentile, round, sleep } from '../lib/stats';
import type { CoreResult } from './types';

const quick = process.argv.includes('--quick');
const REGISTER_JOBS = quick ? 1_000 : 10_000;
const FIRE_JOBS = 1_000;
const SECONDS = quick ? 3 : 10;
const WARMUP_MS = quick ? 1_000 : 3_000;
const IDLE_MS = 10_000;
const MB = 2 ** 20;
/** Set in the bundled child: it measures; the parent only builds and relays. */
const BUILT = process.argv.includes('--built');
const TSX = process.argv.includes('--tsx');

/** CPU time (user + system) of this process, ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc');
  g();
  g();
}

function memory(): { rssMB: number; heapMB: number } {
  gc();
  const m = process.memoryUsage();
  return { rssMB: m.rss / MB, heapMB: m.heapUsed / MB };
}

/** Registration: RSS after 10,000 cron jobs. */
async function registration(): Promise<Record<string, number>> {
  const before = memory();
  const store = new MemoryStore();
  const scheduler = new Scheduler({ store, app: 'bench-core-register' });
  scheduler.handle('noop', async () => {});
  const t0 = performance.now();
  const c0 = cpuMs();
  for (let i = 0; i < REGISTER_JOBS; i++) {
    // Daily crons at varied minutes: distinct expressions, hardly any fire during the measure.
    scheduler.job({
      key: `cron-${i}`,
      handler: 'noop',
      schedule: { cron: `${i % 60} ${Math.floor(i / 60) % 24} * * *` },
    });
  }
  await scheduler.start();
  const registerMs = performance.now() - t0;
  const registerCpuMs = cpuMs() - c0;
  const after = memory();
  // The scheduler idles (heartbeats only); V8's memory reducer gives back what it grew to register.
  await sleep(IDLE_MS);
  const idle = memory();
  await scheduler.stop({ timeoutMs: 1000 });
  await store.close();
  return {
    registerJobs: REGISTER_JOBS,
    registerMs: round(registerMs, 1),
    registerCpuMs: round(registerCpuMs, 1),
    rssBeforeMB: round(before.rssMB, 1),
    heapBeforeMB: round(before.heapMB, 1),
    rssAfterRegisterMB: round(after.rssMB, 1),
    heapAfterRegisterMB: round(after.heapMB, 1),
    rssIdleMB: round(idle.rssMB, 1),
    heapIdleMB: round(idle.heapMB, 1),
    jobsRssIdleMB: round(idle.rssMB - before.rssMB, 1),
    jobsHeapMB: round(idle.heapMB - before.heapMB, 1),
    rssPer1000JobsMB: round(((idle.rssMB - before.rssMB) * 1000) / REGISTER_JOBS, 2),
    heapPer1000JobsMB: round(((idle.heapMB - before.heapMB) * 1000) / REGISTER_JOBS, 2),
  };
}

/**
 * Fire lateness of one scenario. `ahead` is not a fire of jobs: 1,000 one-off runs enqueued each
 * second with `runAt` the next whole second, at least ~0.6 s before it, so that at the instant
 * only claiming and starting remain: what a fire loop that materialized runs ahead of their time
 * would leave (its CPU per fire includes the enqueues).
 */
async function lateness(scenario: 'burst' | 'spread' | 'ahead'): Promise<Record<string, number>> {
  const store = new MemoryStore();
  // Enough slots that concurrency is not what limits a second's 1,000 fires.
  const scheduler = new Scheduler({ store, app: `bench-core-${scenario}`, concurrency: FIRE_JOBS });
  const samples: number[] = [];
  const warmup: number[] = [];
  let measureFrom = Number.POSITIVE_INFINITY;
  let stopAt = Number.POSITIVE_INFINITY;
  scheduler.handle('noop', async (ctx) => {
    const late = Date.now() - ctx.scheduledFor;
    if (ctx.scheduledFor >= measureFrom && ctx.scheduledFor < stopAt) samples.push(late);
    else if (ctx.scheduledFor < measureFrom) warmup.push(late);
  });
  if (scenario === 'burst') {
    for (let i = 0; i < FIRE_JOBS; i++) {
      scheduler.job({
        key: `tick-${i}`,
        handler: 'noop',
        schedule: { cron: '* * * * * *' },
        block: 'parallel',
      });
    }
    await scheduler.start();
  } else if (scenario === 'ahead') {
    await scheduler.start();
  } else {
    await scheduler.start();
    // `every` is aligned on the first fire, one period after creation: create them ~1 ms apart.
    for (let i = 0; i < FIRE_JOBS; i++) {
      await scheduler.jobs.create({
        key: `every-${i}`,
        handler: 'noop',
        schedule: { every: 1000 },
        block: 'parallel',
      });
      await sleep(1);
    }
  }
  measureFrom = Date.now() + WARMUP_MS;
  stopAt = measureFrom + SECONDS * 1000;
  let feeding = scenario === 'ahead';
  const feeder = (async () => {
    let next = Math.ceil((Date.now() + 600) / 1000) * 1000;
    while (feeding) {
      for (let i = 0; i < FIRE_JOBS; i++) await scheduler.enqueue('noop', {}, { runAt: next });
      next += 1000;
      while (feeding && Date.now() < next - 600) await sleep(10);
    }
  })();
  while (Date.now() < measureFrom) await sleep(50);
  const c0 = cpuMs();
  // How late the event loop itself runs (timers included): the floor under any fire's lateness.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  while (Date.now() < stopAt + 200) await sleep(50);
  loopDelay.disable();
  const cpu = cpuMs() - c0;
  feeding = false;
  await feeder;
  await scheduler.stop({ timeoutMs: 2000 });
  await store.close();
  const expected = FIRE_JOBS * SECONDS;
  return {
    [`${scenario}Fires`]: samples.length,
    [`${scenario}FiresExpected`]: expected,
    [`${scenario}LatenessP50Ms`]: percentile(samples, 50),
    [`${scenario}LatenessP99Ms`]: percentile(samples, 99),
    [`${scenario}LatenessMaxMs`]: percentile(samples, 100),
    [`${scenario}WarmupP99Ms`]: percentile(warmup, 99),
    // CPU the whole process spent per fire while measuring (less noisy than wall time on a shared machine).
    [`${scenario}CpuUsPerFire`]: round((cpu * 1000) / Math.max(1, samples.length), 1),
    [`${scenario}LoopDelayP50Ms`]: round(loopDelay.percentile(50) / 1e6, 1),
    [`${scenario}LoopDelayP99Ms`]: round(loopDelay.percentile(99) / 1e6, 1),
  };
}

async function measure(): Promise<CoreResult> {
  const metrics: Record<string, number | string> = {
    loader: BUILT ? 'node (esbuild bundle)' : 'tsx',
    loadAvg1Start: round(loadavg()[0]!, 2),
    ...(await registration()),
  };
  console.log(
    `  registered ${REGISTER_JOBS} cron jobs in ${metrics.registerMs} ms, RSS ${metrics.rssAfterRegisterMB} MB, ${metrics.rssIdleMB} MB once idle (${metrics.loader})`,
  );
  Object.assign(metrics, await lateness('burst'));
  console.log(`  burst: p50 ${metrics.burstLatenessP50Ms} ms, p99 ${metrics.burstLatenessP99Ms} ms`);
  Object.assign(metrics, await lateness('spread'));
  console.log(`  spread: p50 ${metrics.spreadLatenessP50Ms} ms, p99 ${metrics.spreadLatenessP99Ms} ms`);
  Object.assign(metrics, await lateness('ahead'));
  console.log(`  ahead: p50 ${metrics.aheadLatenessP50Ms} ms, p99 ${metrics.aheadLatenessP99Ms} ms`);
  metrics.seconds = SECONDS;
  metrics.loadAvg1End = round(loadavg()[0]!, 2);
  return { metrics };
}

/** Bundles this file with esbuild and runs the bundle under plain node; null when esbuild is missing. */
async function measureBuilt(): Promise<CoreResult | null> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    return null;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'oasis-bench-core-'));
  try {
    const outfile = join(dir, 'core.mjs');
    await esbuild.build({
      entryPoints: [fileURLToPath(import.meta.url)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      tsconfig: join(here, '..', '..', 'tsconfig.json'),
      outfile,
      // `esbuild` itself stays out: the child never builds.
      external: ['esbuild'],
      logLevel: 'warning',
    });
    return await new Promise((resolve, reject) => {
      const child = fork(outfile, ['--built', ...(quick ? ['--quick'] : [])], {
        // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the measured process there.
        execArgv: [
          '--expose-gc',
          ...(process.env.BENCH_CPU_PROF
            ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
            : []),
        ],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let result: CoreResult | null = null;
      child.on('message', (m: CoreResult) => {
        result = m;
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        result ? resolve(result) : reject(new Error(`bundled core benchmark exited with ${code}`)),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  let result: CoreResult | null = null;
  if (!BUILT && !TSX) {
    result = await measureBuilt();
    if (result === null) console.log('  esbuild not found: measuring under tsx');
  }
  result ??= await measure();
  if (process.send) process.send(result);
  else console.log(JSON.stringify(result, null, 2));
  // Leave once the message is out; nothing else keeps this process.
  process.disconnect?.();
}

const bound = setTimeout(() => {
  console.error('core benchmark: time bound reached');
  process.exit(2);
}, 600_000);
bound.unref();

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
