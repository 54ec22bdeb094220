/**
 * Issue 5's cluster benchmarks, a standalone script (not part of `bench/run.ts`):
 *
 *   npx tsx --tsconfig ../tsconfig.json cluster/run.ts [options]      (from bench/)
 *
 *   --only a,b        failover, leader, idle, scale, peers, leader-victim (default all but leader-victim;
 *                     `leader` runs with `failover`)
 *   --stores a,b      redis, postgres (default both)
 *   --reps N          repetitions of each failover measure (default 5; the median is reported)
 *   --idle-seconds N  the idle window (default 20)
 *   --scale-nodes N   nodes of the scale run (default 100: N − 10 in this process, 10 in a child)
 *   --scale-seconds N the scale run's steady window (default 60)
 *   --peer-reps N     repetitions of each peer (default 3)
 *   --no-snapshot     load the engine from the working tree as it changes, not from a snapshot
 *
 * The engine is measured as it stands in the working tree when the run starts: this launcher
 * copies the sources of `@oasis/core`, `@oasis/store-sql` and `@oasis/store-redis` into
 * `bench/results/snapshot-<time>/` and runs `bench.ts` (and every node process it forks) with a
 * tsconfig whose `paths` point there, so that edits made to `packages/` during a 20-minute run
 * (a new migration, a half-saved file) cannot mix two engines in one run. The snapshot is
 * removed at the end. Nothing here imports `@oasis/*`.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, REPO_DIR } from '../lib/paths';

const PACKAGES = {
  '@oasis/core': 'core',
  '@oasis/store-sql': 'store-sql',
  '@oasis/store-redis': 'store-redis',
};

function snapshot(): string {
  const dir = join(BENCH_DIR, 'results', `snapshot-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const paths: Record<string, string[]> = {};
  for (const [name, folder] of Object.entries(PACKAGES)) {
    cpSync(join(REPO_DIR, 'packages', folder, 'src'), join(dir, 'packages', folder, 'src'), {
      recursive: true,
    });
    paths[name] = [`packages/${folder}/src/index.ts`];
  }
  // Under bench/, so that the copies resolve kysely, ioredis, croner… from the repository's node_modules.
  writeFileSync(
    join(dir, 'tsconfig.json'),
    `${JSON.stringify({ extends: join(REPO_DIR, 'tsconfig.json'), compilerOptions: { baseUrl: '.', paths } }, null, 2)}\n`,
  );
  return dir;
}

const args = process.argv.slice(2);
const useSnapshot = !args.includes('--no-snapshot');
const dir = useSnapshot ? snapshot() : null;
if (dir) mkdirSync(dir, { recursive: true });
const env = { ...process.env };
env.TSX_TSCONFIG_PATH = dir ? join(dir, 'tsconfig.json') : join(REPO_DIR, 'tsconfig.json');
if (dir) env.OASIS_BENCH_SNAPSHOT = dir;
const child = spawn(
  process.execPath,
  [...process.execArgv, join(BENCH_DIR, 'cluster', 'bench.ts'), ...args],
  {
    env,
    stdio: 'inherit',
  },
);
const cleanup = () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  cleanup();
  process.exit(code ?? (signal ? 130 : 1));
});
