/**
 * Issue 5's cluster benchmarks, started by `run.ts` (which snapshots the engine's sources first).
 * The options are described in `run.ts`. Prints each figure as it comes and writes every sample
 * as JSON to bench/results/cluster-*.json.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { OasisStoreKind } from '../drain/oasis-stores';
import { benchConfig } from '../lib/config';
import { BENCH_DIR, REPO_DIR } from '../lib/paths';
import { fmt, table } from '../lib/report';
import { checkServers } from '../lib/servers';
import { median } from '../lib/stats';
import {
  type FailoverResult,
  type LeaderVictimSample,
  runFailover,
  runLeaderVictimFailover,
} from './failover';
import { type IdleKind, type IdleResult, runIdle } from './idle';
import { type PeerResult, type PeerSystem, runPeer } from './peers';
import { killAll } from './procs';
import { runScale, type ScaleResult } from './scale';

process.env.TSX_TSCONFIG_PATH ??= join(REPO_DIR, 'tsconfig.json');

const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      stores: { type: 'string' },
      reps: { type: 'string' },
      'idle-seconds': { type: 'string' },
      'scale-nodes': { type: 'string' },
      'scale-seconds': { type: 'string' },
      'peer-reps': { type: 'string' },
      'no-snapshot': { type: 'boolean' },
    },
  });
  const only = new Set((values.only ?? 'failover,idle,scale,peers').split(',').map((s) => s.trim()));
  if (only.has('leader')) only.add('failover');
  const stores = (values.stores ?? 'redis,postgres').split(',').map((s) => s.trim()) as OasisStoreKind[];
  const reps = Number(values.reps ?? 5);
  const config = benchConfig();
  const servers = await checkServers(config);
  for (const s of stores) {
    const down = s === 'redis' ? servers.redis : servers.pg;
    if (down) throw new Error(down);
  }
  const startedAt = new Date();
  const commit = execSync('git log --oneline -1', { cwd: REPO_DIR }).toString().trim();
  const dirty = execSync('git status --short packages', { cwd: REPO_DIR }).toString().trim();
  // What is measured is the engine in the working tree: its last commit and what is uncommitted.
  const packagesCommit = execSync('git log --oneline -1 -- packages', { cwd: REPO_DIR }).toString().trim();
  const packagesDiffStat = execSync('git diff --stat packages', { cwd: REPO_DIR }).toString().trim();
  log(`HEAD ${commit}; packages/ last changed in ${packagesCommit}`);
  if (dirty) log(`uncommitted in packages/:\n${dirty}`);
  log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const out: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    command: `npx tsx --tsconfig ../tsconfig.json cluster/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    snapshot: process.env.OASIS_BENCH_SNAPSHOT ?? null,
    commit,
    packagesCommit,
    packagesDirty: dirty.split('\n').filter(Boolean),
    packagesDiffStat,
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      memMB: Math.round(totalmem() / 2 ** 20),
    },
    loadAvgStart: loadavg(),
  };

  if (only.has('failover')) {
    const results: FailoverResult[] = [];
    for (const kind of stores) {
      log(`\nFailover and leader failover on ${kind} (${reps} each)`);
      results.push(await runFailover(kind, config, reps, log));
    }
    out.failover = results;
    log('');
    log(
      table(
        [
          'store',
          'failover ms (median)',
          'each run',
          'lost after ms (median)',
          'leader failover ms (median)',
          'each run',
        ],
        results.map((r) => [
          r.kind,
          fmt(median(r.failover.map((s) => s.failoverMs))),
          r.failover.map((s) => fmt(s.failoverMs)).join(', '),
          fmt(median(r.failover.flatMap((s) => (s.lostAfterMs === null ? [] : [s.lostAfterMs])))),
          fmt(median(r.leader.map((s) => s.leaderFailoverMs))),
          r.leader.map((s) => fmt(s.leaderFailoverMs)).join(', '),
        ]),
      ),
    );
    for (const r of results)
      if (r.engineErrors.length > 0)
        log(`${r.kind} engine errors: ${r.engineErrors.slice(0, 5).join(' | ')}`);
  }

  if (only.has('leader-victim')) {
    const results: Array<{ kind: OasisStoreKind; samples: LeaderVictimSample[] }> = [];
    for (const kind of stores) {
      log(`\nFailover when the node running the task is the leader, on ${kind} (${reps})`);
      results.push({ kind, samples: await runLeaderVictimFailover(kind, config, reps, log) });
    }
    out.leaderVictim = results;
    log('');
    log(
      table(
        [
          'store',
          'failover ms (median)',
          'each run',
          'new leader after ms (median)',
          'lost after ms (median)',
        ],
        results.map((r) => [
          r.kind,
          fmt(median(r.samples.map((s) => s.failoverMs))),
          r.samples.map((s) => fmt(s.failoverMs)).join(', '),
          fmt(median(r.samples.flatMap((s) => (s.leaderMs === null ? [] : [s.leaderMs])))),
          fmt(median(r.samples.flatMap((s) => (s.lostAfterMs === null ? [] : [s.lostAfterMs])))),
        ]),
      ),
    );
  }

  if (only.has('idle')) {
    const idleMs = Number(values['idle-seconds'] ?? 20) * 1000;
    const results: IdleResult[] = [];
    for (const kind of ['memory', ...stores] as IdleKind[]) {
      log(`\nIdle store operations on ${kind} (${idleMs / 1000} s window)`);
      results.push(await runIdle(kind, config, idleMs));
    }
    out.idle = results;
    const perMethod = (m: Record<string, number>) =>
      Object.entries(m)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ');
    log('');
    log(
      table(
        ['store', 'node', 'store calls/s', 'per method (calls/s)', 'beneath (per s)'],
        results.flatMap((r) =>
          r.nodes.map((n) => [
            r.kind,
            n.leader ? 'leader' : 'follower',
            n.opsPerSecond.toFixed(2),
            perMethod(n.perMethod),
            n.redisCommandsPerSecond !== undefined
              ? `Redis cmds ${n.redisCommandsPerSecond.toFixed(2)} (${perMethod(n.redisPerCommand ?? {})})`
              : r.pgStatementsPerSecond !== undefined
                ? `SQL stmts, both nodes ${r.pgStatementsPerSecond.toFixed(2)}`
                : '',
          ]),
        ),
      ),
    );
  }

  if (only.has('scale')) {
    const nodes = Number(values['scale-nodes'] ?? 100);
    const steadyMs = Number(values['scale-seconds'] ?? 60) * 1000;
    const results: ScaleResult[] = [];
    for (const kind of stores) {
      log(`\nScale run on ${kind}: ${nodes} nodes, ${steadyMs / 1000} s steady`);
      results.push(await runScale(kind, config, nodes, steadyMs, log));
    }
    out.scale = results;
    log('');
    log(
      table(
        [
          'store',
          'nodes',
          'store calls/s',
          'heartbeats held',
          'max hb gap ms',
          'hb p99 ms',
          'not active / rejoined',
          '10 stop(): settled / applied ms',
          '10 kill -9: settled / applied ms',
          'load',
        ],
        results.map((r) => [
          r.kind,
          String(r.nodes),
          fmt(r.storeOpsPerSecond),
          `${fmt(r.heartbeats.counted)}/${fmt(r.heartbeats.expected)}, ${r.heartbeats.failed} failed`,
          fmt(r.heartbeats.maxGapMs),
          fmt(r.heartbeats.latencyP99Ms),
          `${r.notActive.length} / ${r.rejoined.length}`,
          `${fmt(r.cleanLeave.settledMs ?? Number.NaN)} / ${fmt(r.cleanLeave.appliedMs ?? Number.NaN)}`,
          `${fmt(r.hardKill.settledMs ?? Number.NaN)} / ${fmt(r.hardKill.appliedMs ?? Number.NaN)}`,
          r.loadAvg1.toFixed(1),
        ]),
      ),
    );
  }

  if (only.has('peers')) {
    const peerReps = Number(values['peer-reps'] ?? 3);
    const results: PeerResult[] = [];
    for (const system of ['bullmq', 'pg-boss', 'graphile-worker'] as PeerSystem[]) {
      log(`\nPeer ${system}: kill -9 of the worker running a job (${peerReps} runs)`);
      results.push(await runPeer(system, config, peerReps, log));
    }
    out.peers = results;
    log('');
    log(
      table(
        ['peer', 'measured with', 're-run after kill -9, ms (median)', 'each run', 'with its defaults'],
        results.map((r) => [
          r.system,
          r.measuredWith,
          fmt(median(r.samples.map((s) => s.recoverMs))),
          r.samples.map((s) => fmt(s.recoverMs)).join(', '),
          r.withDefaults,
        ]),
      ),
    );
  }

  out.finishedAt = new Date().toISOString();
  out.loadAvgEnd = loadavg();
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `cluster-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`\nresults: ${file}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(err);
    killAll();
    process.exit(1);
  });
