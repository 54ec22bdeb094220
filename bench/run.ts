/**
 * `npm run bench --workspace bench [-- options]`: runs the selected benchmarks, prints tables and
 * writes the results as JSON to bench/results/ (git-ignored).
 *
 *   --only a,b     benchmark ids or prefixes (e.g. `drain:pg,delay:redis,core`); default all
 *   --quick        smoke check: 2,000 tasks (500 delayed), 1 repetition, a short core run
 *   --tasks N      tasks per drain run (default 20,000)
 *   --reps N       repetitions per drain/delay benchmark; the median is reported (default 3)
 *   --list         print the benchmark ids and exit
 *
 * Ids: `drain:<store>:<system>` (issues 3 and 4: bulk enqueue then drain), `delay:<store>:<system>`
 * (issue 4: delayed precision) and `core:memory` (issue 2). `<system>` is `oasis` (the engine),
 * `oasis-store` (the store ceiling, no engine) or a peer.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CoreResult } from './core/types';
import {
  type DelaySample,
  type DrainSample,
  interruptCleanup,
  runDelayOnce,
  runDrainOnce,
} from './drain/harness';
import { DRAIN_SYSTEMS } from './drain/systems';
import type { DrainContext } from './drain/types';
import { benchConfig } from './lib/config';
import { BENCH_DIR, REPO_DIR, repoHas } from './lib/paths';
import { fmt, table } from './lib/report';
import { checkServers, type ServerStatus } from './lib/servers';
import { median } from './lib/stats';

// Workers and children resolve `@oasis/*` to the sources through the root tsconfig's `paths`.
process.env.TSX_TSCONFIG_PATH ??= join(REPO_DIR, 'tsconfig.json');

interface QueueBench {
  kind: 'drain' | 'delay';
  id: string;
  group: string;
  system: string;
}
interface CoreBench {
  kind: 'core';
  id: string;
}
type Bench = QueueBench | CoreBench;

/** Each store's group: Oasis (engine, then store ceiling) and the peers measured beside it. */
const GROUPS: Array<[group: string, systems: Array<[suffix: string, system: string]>]> = [
  [
    'redis',
    [
      ['oasis', 'oasis-redis'],
      ['oasis-store', 'oasis-redis-store'],
      ['bullmq', 'bullmq'],
    ],
  ],
  [
    'pg',
    [
      ['oasis', 'oasis-pg'],
      ['oasis-store', 'oasis-pg-store'],
      ['graphile-worker', 'graphile-worker'],
      ['pg-boss', 'pg-boss'],
    ],
  ],
  [
    'sqlite',
    [
      ['oasis', 'oasis-sqlite'],
      ['oasis-store', 'oasis-sqlite-store'],
    ],
  ],
  [
    'mariadb',
    [
      ['oasis', 'oasis-mariadb'],
      ['oasis-store', 'oasis-mariadb-store'],
    ],
  ],
];

const BENCHES: Bench[] = [
  ...(['drain', 'delay'] as const).flatMap((kind) =>
    GROUPS.flatMap(([group, systems]) =>
      systems.map(([suffix, system]): Bench => ({ kind, id: `${kind}:${group}:${suffix}`, group, system })),
    ),
  ),
  { kind: 'core', id: 'core:memory' },
];

/** Issue 4's delayed-precision workload: 2,000 tasks due evenly over a 5 s window. */
const DELAY_TASKS = 2000;
const DELAY_WINDOW_MS = 5000;

/** Results of one drain benchmark: its samples and their medians. */
interface DrainResult {
  id: string;
  label: string;
  group: string;
  oasis: boolean;
  tasks: number;
  processes: number;
  concurrency: number;
  samples: DrainSample[];
  median: { enqueueMs: number; drainMs: number; throughput: number; redisUsPerTask?: number };
}

/** Results of one delayed-precision benchmark: its samples and the medians of their percentiles. */
interface DelayResult {
  id: string;
  label: string;
  group: string;
  oasis: boolean;
  samples: DelaySample[];
  median: { latenessP50Ms: number; latenessP99Ms: number; latenessMaxMs: number };
}

function selected(only: string[] | null, id: string): boolean {
  if (!only) return true;
  return only.some((s) => id === s || id.startsWith(`${s}:`));
}

function whyUnavailable(bench: Bench, servers: ServerStatus): string | null {
  if (bench.kind === 'core') {
    return repoHas('packages/core/src/scheduler.ts')
      ? null
      : 'not landed yet: packages/core/src/scheduler.ts';
  }
  const info = DRAIN_SYSTEMS[bench.system];
  if (!info) return `unknown system ${bench.system}`;
  return (info.server ? servers[info.server] : null) ?? info.unavailable();
}

function runCore(quick: boolean): Promise<CoreResult> {
  // A process of its own, with --expose-gc, so that RSS is the core's and not the harness's.
  return new Promise((resolve, reject) => {
    const child = fork(join(BENCH_DIR, 'core', 'core.ts'), quick ? ['--quick'] : [], {
      execArgv: [...process.execArgv, '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: CoreResult | null = null;
    child.on('message', (m: CoreResult) => {
      result = m;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`core benchmark exited with ${code}`)),
    );
  });
}

/**
 * Runs one kind of queue benchmark over the groups. Repetitions are interleaved within each group
 * (A B C, A B C, …) so that drift in the machine's load spreads over every system.
 */
async function runQueueBenches<S>(
  benches: QueueBench[],
  reps: number,
  runOnce: (b: QueueBench, rep: number) => Promise<S>,
  describe: (s: S) => string,
  failures: Array<{ id: string; error: string }>,
): Promise<Map<string, S[]>> {
  const samples = new Map<string, S[]>(benches.map((b) => [b.id, []]));
  for (const [group] of GROUPS) {
    const inGroup = benches.filter((b) => b.group === group);
    for (let rep = 0; rep < reps; rep++) {
      for (const b of inGroup) {
        if (failures.some((f) => f.id === b.id)) continue;
        process.stdout.write(`${b.id} run ${rep + 1}/${reps} … `);
        try {
          const s = await runOnce(b, rep);
          samples.get(b.id)?.push(s);
          console.log(describe(s));
        } catch (err) {
          console.log('FAILED');
          console.error(err);
          failures.push({ id: b.id, error: String((err as Error)?.message ?? err) });
        }
      }
    }
  }
  return samples;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      tasks: { type: 'string' },
      reps: { type: 'string' },
      processes: { type: 'string' },
      concurrency: { type: 'string' },
      list: { type: 'boolean', default: false },
    },
  });
  if (values.list) {
    for (const b of BENCHES) console.log(b.id);
    return;
  }
  const quick = values.quick ?? false;
  const tasks = Number(values.tasks ?? (quick ? 2000 : 20_000));
  const delayTasks = quick ? 500 : DELAY_TASKS;
  const reps = Number(values.reps ?? (quick ? 1 : 3));
  const processes = Number(values.processes ?? 2);
  const concurrency = Number(values.concurrency ?? 50);
  const only = values.only
    ? values.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : null;
  for (const n of [tasks, reps, processes, concurrency]) {
    if (!Number.isInteger(n) || n < 1) {
      throw new Error('--tasks, --reps, --processes and --concurrency take positive integers');
    }
  }

  const config = benchConfig();
  const servers = await checkServers(config);
  const chosen = BENCHES.filter((b) => selected(only, b.id));
  if (chosen.length === 0) throw new Error(`--only ${values.only} matches no benchmark (see --list)`);
  const skipped: Array<{ id: string; reason: string }> = [];
  const toRun: Bench[] = [];
  for (const b of chosen) {
    const reason = whyUnavailable(b, servers);
    if (reason) skipped.push({ id: b.id, reason });
    else toRun.push(b);
  }
  for (const s of skipped) console.log(`SKIPPED ${s.id}: ${s.reason}`);

  const startedAt = new Date();
  const failures: Array<{ id: string; error: string }> = [];
  const ctxOf = (b: QueueBench, rep: number, n: number): DrainContext => ({
    system: b.system,
    runId: `${Date.now().toString(36)}${rep}`,
    tasks: n,
    concurrency,
    config,
  });
  const labelOf = (b: QueueBench) => DRAIN_SYSTEMS[b.system]?.label ?? b.system;
  const isOasis = (b: QueueBench) => DRAIN_SYSTEMS[b.system]?.oasis ?? false;

  // ---- drain ----
  const drainBenches = toRun.filter((b): b is QueueBench => b.kind === 'drain');
  const timeoutMs = Math.max(60_000, tasks * 40);
  if (drainBenches.length > 0) console.log(`\nDrain: ${fmt(tasks)} tasks per run`);
  const drainSamples = await runQueueBenches(
    drainBenches,
    reps,
    (b, rep) => runDrainOnce(ctxOf(b, rep, tasks), processes, timeoutMs),
    (s: DrainSample) =>
      `enqueue ${fmt(s.enqueueMs)} ms, drain ${fmt(s.drainMs)} ms = ${fmt(s.throughput)} tasks/s ` +
      `(per process ${s.perProcess.join('/')}, idle before ${Math.round(s.idleBefore * 100)} %` +
      `${s.redisUsPerTask === undefined ? '' : `, Redis ${s.redisUsPerTask.toFixed(1)} µs/task`}` +
      `${s.executions > tasks ? `, ${s.executions - tasks} EXTRA executions` : ''})`,
    failures,
  );
  const drainResults: DrainResult[] = drainBenches.flatMap((b) => {
    const ss = drainSamples.get(b.id) ?? [];
    if (ss.length === 0) return [];
    return [
      {
        id: b.id,
        label: labelOf(b),
        group: b.group,
        oasis: isOasis(b),
        tasks,
        processes,
        concurrency,
        samples: ss,
        median: {
          enqueueMs: median(ss.map((s) => s.enqueueMs)),
          drainMs: median(ss.map((s) => s.drainMs)),
          throughput: median(ss.map((s) => s.throughput)),
          ...(ss.every((s) => s.redisUsPerTask !== undefined)
            ? { redisUsPerTask: median(ss.map((s) => s.redisUsPerTask!)) }
            : {}),
        },
      },
    ];
  });

  // ---- delayed precision ----
  const delayBenches = toRun.filter((b): b is QueueBench => b.kind === 'delay');
  if (delayBenches.length > 0) {
    console.log(`\nDelayed precision: ${fmt(delayTasks)} tasks due over ${DELAY_WINDOW_MS / 1000} s per run`);
  }
  const delaySamples = await runQueueBenches(
    delayBenches,
    reps,
    (b, rep) => runDelayOnce(ctxOf(b, rep, delayTasks), processes, DELAY_WINDOW_MS, 60_000),
    (s: DelaySample) =>
      `lateness p50 ${fmt(s.latenessP50Ms)} ms, p99 ${fmt(s.latenessP99Ms)} ms, max ${fmt(s.latenessMaxMs)} ms` +
      `${s.early > 0 ? `, ${s.early} EARLY` : ''}${s.executions !== s.tasks ? `, ${s.executions} executions` : ''}`,
    failures,
  );
  const delayResults: DelayResult[] = delayBenches.flatMap((b) => {
    const ss = delaySamples.get(b.id) ?? [];
    if (ss.length === 0) return [];
    return [
      {
        id: b.id,
        label: labelOf(b),
        group: b.group,
        oasis: isOasis(b),
        samples: ss,
        median: {
          latenessP50Ms: median(ss.map((s) => s.latenessP50Ms)),
          latenessP99Ms: median(ss.map((s) => s.latenessP99Ms)),
          latenessMaxMs: median(ss.map((s) => s.latenessMaxMs)),
        },
      },
    ];
  });

  // ---- core ----
  let core: CoreResult | null = null;
  if (toRun.some((b) => b.kind === 'core')) {
    console.log('\ncore:memory …');
    try {
      core = await runCore(quick);
    } catch (err) {
      console.error(err);
      failures.push({ id: 'core:memory', error: String((err as Error)?.message ?? err) });
    }
  }

  // Ratios: each Oasis system over each peer of its group, from the medians of this run.
  const ratios: Array<{ group: string; oasis: string; peer: string; throughputRatio: number }> = [];
  for (const o of drainResults.filter((r) => r.oasis)) {
    for (const p of drainResults.filter((r) => !r.oasis && r.group === o.group)) {
      ratios.push({
        group: o.group,
        oasis: o.id,
        peer: p.id,
        throughputRatio: o.median.throughput / p.median.throughput,
      });
    }
  }

  console.log('');
  if (drainResults.length > 0) {
    console.log(
      `Drain: ${fmt(tasks)} no-op tasks enqueued in bulk, then drained by ${processes} processes × concurrency ${concurrency}; median of ${reps}`,
    );
    console.log(
      table(
        ['benchmark', 'system', 'enqueue ms', 'drain tasks/s', 'Redis µs/task', 'each run (tasks/s)'],
        drainResults.map((r) => [
          r.id,
          r.label,
          fmt(r.median.enqueueMs),
          fmt(r.median.throughput),
          r.median.redisUsPerTask === undefined ? '' : r.median.redisUsPerTask.toFixed(1),
          r.samples.map((s) => fmt(s.throughput)).join(', '),
        ]),
      ),
    );
  }
  if (ratios.length > 0) {
    console.log('\nRatios (drain throughput, Oasis ÷ peer, same run):');
    console.log(
      table(
        ['oasis', 'peer', 'ratio'],
        ratios.map((r) => [r.oasis, r.peer, `${r.throughputRatio.toFixed(2)}×`]),
      ),
    );
  }
  if (delayResults.length > 0) {
    console.log(
      `\nDelayed precision: ${fmt(delayTasks)} tasks due evenly over ${DELAY_WINDOW_MS / 1000} s; lateness = handler start − due time; median of ${reps}`,
    );
    console.log(
      table(
        ['benchmark', 'system', 'p50 ms', 'p99 ms', 'max ms'],
        delayResults.map((r) => [
          r.id,
          r.label,
          fmt(r.median.latenessP50Ms),
          fmt(r.median.latenessP99Ms),
          fmt(r.median.latenessMaxMs),
        ]),
      ),
    );
  }
  if (core) {
    console.log('\nCore on the memory store:');
    console.log(
      table(
        ['measure', 'value'],
        Object.entries(core.metrics).map(([k, v]) => [
          k,
          typeof v === 'number' ? fmt(v, Number.isInteger(v) ? 0 : 1) : String(v),
        ]),
      ),
    );
  }
  for (const s of skipped) console.log(`SKIPPED ${s.id}: ${s.reason}`);
  for (const f of failures) console.log(`FAILED ${f.id}: ${f.error}`);

  const out = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench --workspace bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      memMB: Math.round(totalmem() / 2 ** 20),
    },
    settings: { tasks, delayTasks, delayWindowMs: DELAY_WINDOW_MS, reps, processes, concurrency, quick },
    drain: drainResults,
    ratios,
    delay: delayResults,
    core,
    skipped,
    failures,
  };
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
  if (failures.length > 0) process.exitCode = 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the workers and removing this run's queue…`);
    interruptCleanup().finally(() => process.exit(130));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
