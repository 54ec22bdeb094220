/**
 * The admin API under load (issue 6's benchmark): with the seeded history (1,000,000 runs by
 * default, see `bench/listing/seed.ts`), an Express server in a child process serves
 * `expressAdmin(scheduler, { auth: 'none' })`, and autocannon drives 50 connections for a fixed
 * duration per route over loopback: the runs list (filtered, one page, a different filter per
 * request), run detail (random ids), the dashboard.
 *
 *   npx tsx --tsconfig tsconfig.json bench/admin-http/run.ts                     # postgres, redis
 *   npx tsx --tsconfig tsconfig.json bench/admin-http/run.ts --stores postgres --duration 10
 *
 * Options: `--stores a,b` (postgres, redis, sqlite), `--duration S` (10), `--connections N` (50),
 * `--warmup S` (2), `--count N` and `--tag NAME` (the seed, as in bench/listing), `--routes a,b`
 * (list, detail, dashboard), `--dashboard-cache-ms N` (the handler's `dashboardCacheMs`; default
 * its own, 1000; 0: every dashboard request reads the store, concurrent ones still share a read),
 * `--mount express|fastify` (express), `--instances N` (1: one process; N > 1: a `node:cluster`
 * of N app instances on one port, each with its own store and pool), `--pool N` (PostgreSQL's pool
 * size per instance; the store's default, `defaultPoolSize()`, when absent).
 * A store that is not seeded yet is seeded first (slow).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { defaultPoolSize } from '@oasis/store-sql';
import autocannon, { type AutocannonResult } from 'autocannon';
import { idleFraction, machineBusyMs, pidsCpuMs, processesCpuMs } from '../lib/cpu';
import { table } from '../lib/report';
import { percentile, round, waitFor } from '../lib/stats';
import { placeOf, randomFilter } from '../listing/run';
import { ensureSeed, rng, SEED_APP, type SeedInfo, type SeedKind, type SeedPlace } from '../listing/seed';
import type { ServerArgs } from './server';

/** The `application_name` of the admin server's PostgreSQL connections (to find their CPU time). */
export const ADMIN_BENCH_APP_NAME = 'oasis-admin-bench';

/** The routes measured. */
export type RouteName = 'list' | 'detail' | 'dashboard';

/** Figures of one route on one store. */
export interface RouteFigures {
  route: RouteName;
  requests: number;
  /** Requests per second, over the measured duration. */
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** CPU time the server process spent per request (user + system), ms. */
  serverCpuMsPerRequest?: number;
  /** CPU time of the database server's processes (postgres / redis-server) per request, ms. */
  dbCpuMsPerRequest?: number;
  /** CPU time of the load generator (this process, autocannon) per request, ms. */
  loadCpuMsPerRequest?: number;
  /** Busy CPU time of the whole machine (every core, every process, others' too) per request, ms. */
  machineCpuMsPerRequest?: number;
}

/**
 * The CPU time so far of the database work the admin server causes, ms per process id: on
 * PostgreSQL its own backends (found by `application_name`), on Redis the whole server process
 * (shared with whatever else uses it meanwhile), on SQLite none (it runs inside the server).
 */
async function dbCpuMs(kind: SeedKind, pgUrl: string): Promise<Map<number, number>> {
  if (kind === 'redis') return new Map([[0, processesCpuMs(['redis-server'])]]);
  if (kind !== 'postgres') return new Map();
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    const r = await client.query<{ pid: number }>(
      'select pid from pg_stat_activity where application_name = $1',
      [ADMIN_BENCH_APP_NAME],
    );
    return new Map(r.rows.map((row) => [row.pid, pidsCpuMs([row.pid])]));
  } finally {
    await client.end();
  }
}

/**
 * The CPU time spent between two `dbCpuMs` readings, ms: a backend that the pool opened in
 * between counts whole, one it closed (idle for 10 s) counts nothing after the first reading.
 */
function dbCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, cpu] of after) ms += cpu - (before.get(pid) ?? 0);
  return ms;
}

/** Starts the admin server for a seeded place in a child process; resolves with it and its port. */
export async function startServer(
  place: SeedPlace,
  dashboardCacheMs?: number,
  mount: 'express' | 'fastify' = 'express',
  instances = 1,
  pgPoolMax?: number,
): Promise<{ child: ChildProcess; port: number }> {
  const args: ServerArgs = {
    kind: place.kind,
    prefix: place.prefix,
    config: place.config,
    mount,
    instances,
    ...(pgPoolMax === undefined ? {} : { pgPoolMax }),
    ...(dashboardCacheMs === undefined ? {} : { dashboardCacheMs }),
  };
  const child = fork(join(import.meta.dirname, 'server.ts'), [JSON.stringify(args)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let port = 0;
  let exited: number | null = null;
  child.on('message', (m: { port?: number }) => {
    if (typeof m.port === 'number') port = m.port;
  });
  child.on('exit', (code) => {
    exited = code ?? -1;
  });
  await waitFor(
    'the admin server to listen',
    () => {
      if (exited !== null) throw new Error(`the admin server exited with ${exited}`);
      return port !== 0;
    },
    60_000,
  );
  return { child, port };
}

/** The server child's CPU time so far (user + system), ms. */
export function serverCpuMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (m: { cpuMs?: number }) => {
      if (typeof m.cpuMs === 'number') {
        child.off('message', onMessage);
        resolve(m.cpuMs);
      }
    };
    child.on('message', onMessage);
    child.send({ cpu: true });
  });
}

/** Stops the admin server child, killing it if it has not left within 5 s. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.disconnect();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

/** Path generators per route: each call gives the next request's path. */
export function routePaths(
  seed: SeedInfo,
  ids: string[],
  random: () => number,
  listView: 'summary' | 'full' = 'summary',
): Record<RouteName, () => string> {
  return {
    list: () => {
      const f = randomFilter(random, seed);
      const q = new URLSearchParams({
        jobKey: f.jobKey!,
        state: f.states!.join(','),
        from: String(f.from),
        to: String(f.to),
        limit: '50',
        // the default (summary) is what the panel asks for; `full` is the whole records
        ...(listView === 'full' ? { view: 'full' } : {}),
      });
      return `/admin/runs?${q}`;
    },
    detail: () => `/admin/runs/${encodeURIComponent(ids[Math.floor(random() * ids.length)]!)}`,
    dashboard: () => '/admin/dashboard',
  };
}

/** Collects run ids to ask for: the runs of many random filtered pages, plus the newest. */
export async function collectIds(port: number, seed: SeedInfo, want = 2000): Promise<string[]> {
  const random = rng(7);
  const paths = routePaths(seed, [], random);
  const ids = new Set<string>();
  for (let i = 0; i < 400 && ids.size < want; i++) {
    const res = await fetch(`http://127.0.0.1:${port}${paths.list()}`);
    if (!res.ok) throw new Error(`GET runs: ${res.status} ${await res.text()}`);
    for (const r of ((await res.json()) as { items: Array<{ id: string }> }).items) ids.add(r.id);
  }
  const newest = await fetch(`http://127.0.0.1:${port}/admin/runs?limit=200&app=${SEED_APP}`);
  for (const r of ((await newest.json()) as { items: Array<{ id: string }> }).items) ids.add(r.id);
  return [...ids];
}

/** Drives one route with autocannon; exact percentiles come from every response's time. */
export async function load(
  port: number,
  route: RouteName,
  next: () => string,
  connections: number,
  durationS: number,
): Promise<RouteFigures> {
  const times: number[] = [];
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections,
        duration: durationS,
        timeout: 10,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: next() }) }],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
      times.push(ms);
    });
  });
  return {
    route,
    requests: times.length,
    rps: round(times.length / durationS, 0),
    p50: round(percentile(times, 50), 1),
    p95: round(percentile(times, 95), 1),
    p99: round(percentile(times, 99), 1),
    // a loop, not Math.max(...times): a fast route answers more requests than call arguments fit
    max: round(
      times.reduce((m, t) => Math.max(m, t), 0),
      1,
    ),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

function parseArgs(argv: string[]) {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    stores: (value('--stores') ?? 'postgres,redis').split(',') as SeedKind[],
    routes: (value('--routes') ?? 'list,detail,dashboard').split(',') as RouteName[],
    duration: Number(value('--duration') ?? 10),
    warmup: Number(value('--warmup') ?? 2),
    connections: Number(value('--connections') ?? 50),
    count: Number(value('--count') ?? 1_000_000),
    days: Number(value('--days') ?? 30),
    tag: value('--tag') ?? 'bench1m',
    dashboardCacheMs:
      value('--dashboard-cache-ms') === undefined ? undefined : Number(value('--dashboard-cache-ms')),
    mount: (value('--mount') ?? 'express') as 'express' | 'fastify',
    instances: Number(value('--instances') ?? 1),
    pgPoolMax: value('--pool') === undefined ? undefined : Number(value('--pool')),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    args,
    stores: {},
  };
  for (const kind of args.stores) {
    const place = placeOf(kind, args);
    const seed = await ensureSeed(place);
    const { child, port } = await startServer(
      place,
      args.dashboardCacheMs,
      args.mount,
      args.instances,
      args.pgPoolMax,
    );
    try {
      const ids = await collectIds(port, seed);
      console.log(`${kind}: server on port ${port}, ${ids.length} run ids to ask for`);
      const paths = routePaths(seed, ids, rng(99));
      const figs: Array<RouteFigures & { cpuIdleBefore: number; loadAvg1m: number }> = [];
      for (const route of args.routes) {
        if (args.warmup > 0) await load(port, route, paths[route], args.connections, args.warmup);
        const cpuIdleBefore = round(await idleFraction(500), 2);
        // the machine is shared: the 1-minute load average goes with every figure
        const loadAvg1m = round(loadavg()[0]!, 1);
        const cpu0 = await serverCpuMs(child);
        const db0 = await dbCpuMs(kind, place.config.pgUrl);
        const own0 = process.cpuUsage();
        const busy0 = machineBusyMs();
        const f = await load(port, route, paths[route], args.connections, args.duration);
        const busy1 = machineBusyMs();
        const own1 = process.cpuUsage(own0);
        const db1 = await dbCpuMs(kind, place.config.pgUrl);
        const cpu1 = await serverCpuMs(child);
        const per = (ms: number) => round(ms / Math.max(1, f.requests), 2);
        f.serverCpuMsPerRequest = per(cpu1 - cpu0);
        f.dbCpuMsPerRequest = per(dbCpuDelta(db0, db1));
        f.loadCpuMsPerRequest = per((own1.user + own1.system) / 1000);
        f.machineCpuMsPerRequest = per(busy1 - busy0);
        figs.push({ ...f, cpuIdleBefore, loadAvg1m });
        console.log(
          `${kind} ${route}: ${f.rps} req/s, p50 ${f.p50} ms, p95 ${f.p95} ms, p99 ${f.p99} ms, CPU ms/request: server ${f.serverCpuMsPerRequest}, db ${f.dbCpuMsPerRequest}, load generator ${f.loadCpuMsPerRequest}, machine ${f.machineCpuMsPerRequest}; load average ${loadAvg1m}`,
        );
      }
      (report.stores as Record<string, unknown>)[kind] = { seed, figures: figs };
      console.log(
        `\n${kind} — ${seed.runs} runs, ${args.mount} × ${args.instances} instance(s), PostgreSQL pool ${args.pgPoolMax ?? `default (${defaultPoolSize()})`} per instance, ${args.connections} connections × ${args.duration} s per route, ${new Date().toISOString()}, node ${process.version}`,
      );
      console.log(
        table(
          [
            'route',
            'req/s',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'max ms',
            'requests',
            'non-2xx',
            'errors',
            'server CPU ms/req',
            'db CPU ms/req',
            'autocannon CPU ms/req',
            'machine CPU ms/req',
            'cpu idle before',
            'load avg 1m',
          ],
          figs.map((f) => [
            f.route,
            String(f.rps),
            String(f.p50),
            String(f.p95),
            String(f.p99),
            String(f.max),
            String(f.requests),
            String(f.non2xx),
            String(f.errors + f.timeouts),
            String(f.serverCpuMsPerRequest),
            String(f.dbCpuMsPerRequest),
            String(f.loadCpuMsPerRequest),
            String(f.machineCpuMsPerRequest),
            String(f.cpuIdleBefore),
            String(f.loadAvg1m),
          ]),
        ),
      );
    } finally {
      await stopServer(child);
    }
  }
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `admin-http-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
