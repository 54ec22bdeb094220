/**
 * Store-level latency of the run listing on a seeded history (issue 3's "run listing" goal: with
 * 1,000,000 runs in PostgreSQL, a filtered page and the dashboard's 24 h stats under 50 ms at p95).
 *
 *   npx tsx --tsconfig tsconfig.json bench/listing/run.ts                      # postgres, redis
 *   npx tsx --tsconfig tsconfig.json bench/listing/run.ts --stores postgres,redis,sqlite
 *   npx tsx --tsconfig tsconfig.json bench/listing/run.ts --seed-only          # just seed
 *   npx tsx --tsconfig tsconfig.json bench/listing/run.ts --clean              # drop the seeds
 *
 * Options: `--stores a,b` (postgres, redis, sqlite), `--count N` (default 1,000,000), `--days N`
 * (30), `--tag NAME` (prefix stem, default `bench1m`), `--iterations N` (500), `--seed-only`,
 * `--clean`. One client, operations interleaved, 20 warm-up rounds not counted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunFilter, type RunState, type Store, wrapStore } from '@oasis/core';
import { benchConfig } from '../lib/config';
import { table } from '../lib/report';
import { percentile, round } from '../lib/stats';
import {
  cleanSeed,
  defaultPlace,
  ensureSeed,
  jobKeyOf,
  openSeedStore,
  rng,
  SEED_APP,
  SEED_JOBS,
  type SeedInfo,
  type SeedKind,
  type SeedPlace,
} from './seed';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WARMUP = 20;

/** Command-line options of the listing benchmark. */
export interface ListingArgs {
  stores: SeedKind[];
  count: number;
  days: number;
  tag: string;
  iterations: number;
  seedOnly: boolean;
  clean: boolean;
}

/** Parses `process.argv`-style arguments. */
export function parseArgs(argv: string[]): ListingArgs {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const stores = (value('--stores') ?? 'postgres,redis').split(',').map((s) => s.trim()) as SeedKind[];
  for (const s of stores) {
    if (!['postgres', 'redis', 'sqlite'].includes(s)) throw new Error(`unknown store '${s}'`);
  }
  return {
    stores,
    count: Number(value('--count') ?? 1_000_000),
    days: Number(value('--days') ?? 30),
    tag: value('--tag') ?? 'bench1m',
    iterations: Number(value('--iterations') ?? 500),
    seedOnly: argv.includes('--seed-only'),
    clean: argv.includes('--clean'),
  };
}

/** The seed place of a store for these arguments (`<tag>_` tables, `<tag>` keys, `<tag>.db`). */
export function placeOf(kind: SeedKind, args: Pick<ListingArgs, 'count' | 'days' | 'tag'>): SeedPlace {
  const place = defaultPlace(kind, benchConfig(), args.count, args.days);
  place.prefix = kind === 'redis' ? args.tag : `${args.tag}_`;
  return place;
}

/** Latency figures of one operation, ms. */
export interface OpFigures {
  op: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  /** Mean number of items a call returned (listings). */
  items: number;
}

/** Summarizes samples (ms) of one operation. */
export function figures(op: string, samples: number[], items: number[]): OpFigures {
  const mean = samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
  return {
    op,
    n: samples.length,
    p50: round(percentile(samples, 50), 2),
    p95: round(percentile(samples, 95), 2),
    p99: round(percentile(samples, 99), 2),
    max: round(Math.max(...samples), 2),
    mean: round(mean, 2),
    items: items.length > 0 ? round(items.reduce((a, b) => a + b, 0) / items.length, 1) : 0,
  };
}

const STATE_SETS: RunState[][] = [
  ['succeeded'],
  ['succeeded'],
  ['failed', 'dead', 'timed_out'],
  ['dead'],
  ['succeeded', 'failed', 'dead'],
  ['cancelled'],
];
const WINDOWS = [HOUR, 6 * HOUR, DAY, 7 * DAY];

/**
 * A random filter like an operator's: one of the 200 jobs (uniform, so quiet jobs weigh as much
 * as busy ones), a state set, and a time window of 1 h, 6 h, 24 h or 7 days inside the history.
 */
export function randomFilter(random: () => number, seed: SeedInfo, windows = WINDOWS): RunFilter {
  const len = windows[Math.floor(random() * windows.length)]!;
  const from = Math.floor(seed.start + random() * Math.max(0, seed.end - seed.start - len));
  return {
    app: SEED_APP,
    jobKey: jobKeyOf(Math.floor(random() * SEED_JOBS)),
    states: STATE_SETS[Math.floor(random() * STATE_SETS.length)]!,
    from,
    to: from + len,
  };
}

/** Measures the listing operations on one seeded store; returns one figure per operation. */
export async function measure(
  store: Store,
  seed: SeedInfo,
  iterations: number,
  /** A store's hourly totals over every job, when it has them (store-sql's `getHourlyTotals`). */
  hourlyTotals?: (query: { app: string; from: number; to: number }) => Promise<unknown[]>,
): Promise<OpFigures[]> {
  const random = rng(42);
  const samples = new Map<string, number[]>();
  const items = new Map<string, number[]>();
  const ids: string[] = [];
  const time = async <T>(op: string, record: boolean, fn: () => Promise<T>, count?: (r: T) => number) => {
    const t = performance.now();
    const r = await fn();
    const ms = performance.now() - t;
    if (record) {
      (samples.get(op) ?? samples.set(op, []).get(op)!).push(ms);
      if (count) (items.get(op) ?? items.set(op, []).get(op)!).push(count(r));
    }
    return r;
  };
  const now = await store.now();
  const statsTo = Math.floor(now / HOUR) * HOUR + HOUR;
  for (let it = 0; it < WARMUP + iterations; it++) {
    const rec = it >= WARMUP;
    // 1. filtered first page: job + states + time window
    const page = await time(
      'filtered page (job+state+time, 50)',
      rec,
      () => store.listRuns(randomFilter(random, seed), { limit: 50 }),
      (p) => p.items.length,
    );
    for (const r of page.items.slice(0, 3)) ids.push(r.id);
    // 2. a deeper page: job + 7 days, pages 1..10 through the cursor; the 10th page is timed
    if (it % 2 === 0) {
      const f = randomFilter(random, seed, [7 * DAY]);
      delete f.states;
      let cursor: string | null = null;
      for (let p = 1; p <= 10; p++) {
        const res = await time(
          p === 10 ? 'page 10 via cursor (job+7d, 50)' : 'pages 1-9 via cursor',
          rec && p === 10,
          () => store.listRuns(f, { limit: 50, cursor }),
          (x) => x.items.length,
        );
        cursor = res.nextCursor;
        if (cursor === null) break;
      }
    }
    // 3. run detail
    if (ids.length > 0) {
      const id = ids[Math.floor(random() * ids.length)]!;
      await time('getRun', rec, () => store.getRun(id));
    }
    // 4. the dashboard's reads: 24 h stats, queue counts, newest runs, newest failures
    await time(
      'getStats 24 h (dashboard)',
      rec,
      () => store.getStats({ app: SEED_APP, from: statsTo - DAY, to: statsTo }),
      (b) => b.length,
    );
    if (hourlyTotals) {
      await time(
        'hourly totals 24 h (proposed dashboard read)',
        rec,
        () => hourlyTotals({ app: SEED_APP, from: statsTo - DAY, to: statsTo }),
        (b) => b.length,
      );
    }
    await time('countRuns pending+running', rec, () => store.countRuns(SEED_APP, ['pending', 'running']));
    await time(
      'newest page, no filter (50)',
      rec,
      () => store.listRuns({ app: SEED_APP }, { limit: 50 }),
      (p) => p.items.length,
    );
    await time(
      'newest failures (dashboard, 10)',
      rec,
      () => store.listRuns({ app: SEED_APP, states: ['failed', 'dead', 'timed_out', 'lost'] }, { limit: 10 }),
      (p) => p.items.length,
    );
  }
  return [...samples.entries()].map(([op, s]) => figures(op, s, items.get(op) ?? []));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.clean) {
    for (const kind of args.stores) {
      await cleanSeed(placeOf(kind, args));
      console.log(`${kind}: removed the seed '${placeOf(kind, args).prefix}'`);
    }
    return;
  }
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    args,
    stores: {},
  };
  for (const kind of args.stores) {
    const place = placeOf(kind, args);
    const seed = await ensureSeed(place);
    if (args.seedOnly) continue;
    const raw = await openSeedStore(place);
    const store = wrapStore(raw);
    const totals = (
      raw as { getHourlyTotals?: (q: { app: string; from: number; to: number }) => Promise<unknown[]> }
    ).getHourlyTotals;
    try {
      console.log(`${kind}: measuring ${args.iterations} iterations`);
      const figs = await measure(store, seed, args.iterations, totals?.bind(raw));
      (report.stores as Record<string, unknown>)[kind] = { seed, figures: figs };
      console.log(
        `\n${kind} — ${seed.runs} runs, ${args.days} days, ${new Date().toISOString()}, node ${process.version}`,
      );
      console.log(
        table(
          ['operation', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'items/call'],
          figs.map((f) => [
            f.op,
            String(f.n),
            String(f.p50),
            String(f.p95),
            String(f.p99),
            String(f.max),
            String(f.items),
          ]),
        ),
      );
      if (seed.memoryAfter !== undefined && seed.memoryBefore !== undefined) {
        console.log(
          `redis used_memory: ${(seed.memoryBefore / 2 ** 20).toFixed(1)} MiB before the seed, ${(seed.memoryAfter / 2 ** 20).toFixed(1)} MiB after`,
        );
      }
    } finally {
      await store.close();
    }
  }
  if (!args.seedOnly) {
    const dir = join(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `listing-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${file}`);
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
