import { readdirSync, readFileSync } from 'node:fs';
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

/** CPU time the whole machine spent busy so far (all cores, every process), ms. */
export function machineBusyMs(): number {
  return busyMs();
}

/**
 * CPU time (user + system) so far of every process whose command name (`/proc/<pid>/comm`) is one
 * of `names`, ms (Linux only: 0 elsewhere). Processes that exit in between drop out of the sum, so
 * take it around a span in which the measured servers keep their processes (a connection pool).
 */
export function processesCpuMs(names: readonly string[]): number {
  let dir: string[];
  try {
    dir = readdirSync('/proc');
  } catch {
    return 0;
  }
  let ms = 0;
  for (const pid of dir) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = procStat(Number(pid));
    if (stat !== null && names.includes(stat.comm)) ms += stat.cpuMs;
  }
  return ms;
}

/** CPU time (user + system) so far of the given processes, ms (those gone count 0; Linux only). */
export function pidsCpuMs(pids: readonly number[]): number {
  let ms = 0;
  for (const pid of pids) ms += procStat(pid)?.cpuMs ?? 0;
  return ms;
}

/** A process's command name and CPU time so far, from `/proc/<pid>/stat`, or null when gone. */
function procStat(pid: number): { comm: string; cpuMs: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces; the fields after it are space-separated
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    // fields[0] is the state (field 3 of proc(5)): utime is field 14, stime field 15
    return {
      comm: stat.slice(stat.indexOf('(') + 1, close),
      cpuMs: (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS),
    };
  } catch {
    return null;
  }
}

/** The kernel's clock ticks per second (`getconf CLK_TCK`), 100 on every Linux we run on. */
const CLOCK_TICKS = 100;
