import { cpus } from 'node:os';
import { sleep } from './stats';

/** CPU time spent busy (user, nice, sys, irq) over all cores, ms. */
function busyMs(): number {
  let busy = 0;
  for (const c of cpus()) busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  return busy;
}

/**
 * The machine's idle CPU fraction (0..1) over the next `ms` milliseconds, from busy time against
 * wall time × cores (some VMs never advance the kernel's idle counter, so it is not read).
 */
export async function idleFraction(ms = 500): Promise<number> {
  const n = cpus().length;
  const b0 = busyMs();
  const t0 = performance.now();
  await sleep(ms);
  const busy = busyMs() - b0;
  const wall = (performance.now() - t0) * n;
  return wall > 0 ? Math.min(1, Math.max(0, 1 - busy / wall)) : 1;
}

/**
 * Waits (at most `maxWaitMs`, default 5 s) until the machine is at least `minIdle` idle, so that a
 * run does not start while the previous one's database work is still winding down. Returns the
 * idle fraction measured last: it is recorded with the run, since others share the machine.
 */
export async function waitForQuiet(minIdle = 0.6, maxWaitMs = 5_000): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const idle = await idleFraction(500);
    if (idle >= minIdle || Date.now() >= deadline) return idle;
  }
}
