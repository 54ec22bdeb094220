/**
 * Where the admin API's CPU goes, per route: calls the handler core in-process (no HTTP) N times
 * one after another over the seeded store, under the V8 sampling profiler (`node:inspector`), and
 * prints the functions with the most self time plus the CPU ms per request.
 *
 *   npx tsx --tsconfig tsconfig.json bench/admin-http/profile.ts --store postgres --route list --n 300
 *
 * Options: `--store` (postgres, redis, sqlite), `--route` (list, detail, dashboard), `--n` calls
 * (300), `--view summary|full` (the list's items; default summary), `--dashboard-cache-ms` (0:
 * every dashboard call reads the store), `--tag` (the seed, `bench1m`).
 */
import { Session } from 'node:inspector/promises';
import { Scheduler } from '@oasis/core';
import { createAdminHandler } from '@oasis/http-admin';
import { table } from '../lib/report';
import { placeOf } from '../listing/run';
import { openSeedStore, readSeed, rng, SEED_APP, type SeedKind } from '../listing/seed';
import { type RouteName, routePaths } from './run';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Self time per function (ms) from a V8 CPU profile, largest first. */
export function selfTimes(profile: {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}): Array<{ name: string; ms: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^.*\/(node_modules|packages)\//, '$1/');
    const name = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals.entries()].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
  const kind = value('--store', 'postgres') as SeedKind;
  const route = value('--route', 'list') as RouteName;
  const n = Number(value('--n', '300'));
  const listView = value('--view', 'summary') as 'summary' | 'full';
  // 0 by default: every dashboard call reads the store (the cost of one read, not of a cache hit)
  const dashboardCacheMs = Number(value('--dashboard-cache-ms', '0'));
  const place = placeOf(kind, { count: 1_000_000, days: 30, tag: value('--tag', 'bench1m') });
  const seed = await readSeed(place);
  if (!seed) throw new Error(`no seed under ${place.prefix}: run bench/listing/run.ts first`);
  const store = await openSeedStore(place);
  const scheduler = new Scheduler({ store, app: SEED_APP, nodeId: `profile-${process.pid}` });
  const handler = createAdminHandler(scheduler, { auth: 'none', dashboardCacheMs });
  const ids = (await store.listRuns({ app: SEED_APP }, { limit: 500 })).items.map((r) => r.id);
  const paths = routePaths(seed, ids, rng(5), listView);
  const call = async () => {
    const url = new URL(paths[route]().replace(/^\/admin/, ''), 'http://x');
    const res = await handler.handle({
      method: 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: {},
    });
    if (res.status !== 200) throw new Error(`${route}: ${res.status}`);
  };
  for (let i = 0; i < 20; i++) await call();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const top = selfTimes(profile as never)
    .filter((x) => !x.name.startsWith('(idle)') && !x.name.startsWith('(program)'))
    .slice(0, 25);
  console.log(
    `${kind} ${route}: ${n} calls, ${(wall / n).toFixed(2)} ms wall and ${((cpu.user + cpu.system) / 1000 / n).toFixed(2)} ms CPU per call`,
  );
  console.log(
    table(
      ['self ms per call', 'function'],
      top.map((x) => [(x.ms / n).toFixed(3), x.name]),
    ),
  );
  await store.close();
}

// only when run, not when `selfTimes` is imported
if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
