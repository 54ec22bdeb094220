/**
 * Where the list route's CPU goes, layer by layer, in-process and one call after another (no HTTP,
 * no concurrency): the store alone, the store behind core's runtime guard, the admin handler over
 * the real store, the admin handler over a stub store that answers a captured page at no cost, and
 * JSON serialization of that page (whole records and summaries). CPU ms per call
 * (`process.cpuUsage`), each layer measured in alternating rounds so that a change in the
 * machine's load hits all of them alike.
 *
 *   npx tsx --tsconfig tsconfig.json bench/admin-http/overhead.ts --store postgres --n 200 --rounds 3
 */
import { MemoryStore, type Page, type RunRecord, Scheduler, type Store, wrapStore } from '@oasis/core';
import { createAdminHandler, summarizeRun } from '@oasis/http-admin';
import { table } from '../lib/report';
import { placeOf, randomFilter } from '../listing/run';
import { openSeedStore, readSeed, rng, SEED_APP, type SeedKind } from '../listing/seed';

/** A store that answers `listRuns` with a fixed page at (almost) no cost: the handler's share alone. */
function stubStore(page: Page<RunRecord>): Store {
  const inner = new MemoryStore();
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'listRuns') return async () => ({ items: page.items.slice(), nextCursor: page.nextCursor });
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
  const kind = value('--store', 'postgres') as SeedKind;
  const n = Number(value('--n', '200'));
  const rounds = Number(value('--rounds', '3'));
  const place = placeOf(kind, { count: 1_000_000, days: 30, tag: value('--tag', 'bench1m') });
  const seed = await readSeed(place);
  if (!seed) throw new Error(`no seed under ${place.prefix}: run bench/listing/run.ts first`);
  const raw = await openSeedStore(place);
  const guarded = wrapStore(raw);
  const scheduler = new Scheduler({ store: raw, app: SEED_APP, nodeId: `overhead-${process.pid}` });
  const admin = createAdminHandler(scheduler, { auth: 'none' });
  const random = rng(11);
  const filters = Array.from({ length: 500 }, () => randomFilter(random, seed));
  // a full page to stub with: the first filter that fills one
  let page: Page<RunRecord> = { items: [], nextCursor: null };
  for (const f of filters) {
    page = await raw.listRuns(f, { limit: 50 });
    if (page.items.length === 50) break;
  }
  const stubScheduler = new Scheduler({ store: stubStore(page), app: SEED_APP, nodeId: 'overhead-stub' });
  const stubAdmin = createAdminHandler(stubScheduler, { auth: 'none' });
  let i = 0;
  const nextFilter = () => filters[i++ % filters.length]!;
  const query = (f: ReturnType<typeof nextFilter>, view?: string) => ({
    jobKey: f.jobKey!,
    state: f.states!.join(','),
    from: String(f.from),
    to: String(f.to),
    limit: '50',
    ...(view === undefined ? {} : { view }),
  });
  const ok = (status: number) => {
    if (status !== 200) throw new Error(`status ${status}`);
  };
  const layers: Array<[string, () => Promise<unknown>]> = [
    ['store.listRuns (the store alone)', () => raw.listRuns(nextFilter(), { limit: 50 })],
    ['guarded store.listRuns (core runtime guard)', () => guarded.listRuns(nextFilter(), { limit: 50 })],
    [
      'admin handler, GET /runs (summaries), real store',
      async () =>
        ok(
          (await admin.handle({ method: 'GET', path: '/runs', query: query(nextFilter()), headers: {} }))
            .status,
        ),
    ],
    [
      'admin handler, GET /runs?view=full, real store',
      async () =>
        ok(
          (
            await admin.handle({
              method: 'GET',
              path: '/runs',
              query: query(nextFilter(), 'full'),
              headers: {},
            })
          ).status,
        ),
    ],
    [
      'admin handler, GET /runs (summaries), stub store',
      async () =>
        ok(
          (await stubAdmin.handle({ method: 'GET', path: '/runs', query: query(nextFilter()), headers: {} }))
            .status,
        ),
    ],
    ['JSON.stringify of a page of 50 whole runs', async () => JSON.stringify(page)],
    [
      'summaries + JSON.stringify of a page of 50 runs',
      async () => JSON.stringify({ items: page.items.map(summarizeRun), nextCursor: page.nextCursor }),
    ],
  ];
  for (const [, call] of layers) for (let w = 0; w < 20; w++) await call();
  const cpu = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const [name, call] of layers) {
      i = 0; // every layer asks for the same filters, in the same order
      const c0 = process.cpuUsage();
      for (let k = 0; k < n; k++) await call();
      const c = process.cpuUsage(c0);
      cpu.set(name, [...(cpu.get(name) ?? []), (c.user + c.system) / 1000 / n]);
    }
  }
  console.log(
    `${kind}: ${n} calls × ${rounds} rounds per layer, ${new Date().toISOString()}, load average ${(
      await import('node:os')
    )
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    table(
      ['layer', 'CPU ms per call (median of rounds)', 'rounds'],
      layers.map(([name]) => {
        const xs = [...cpu.get(name)!].sort((a, b) => a - b);
        return [name, xs[Math.floor(xs.length / 2)]!.toFixed(3), xs.map((x) => x.toFixed(2)).join(' ')];
      }),
    ),
  );
  admin.close();
  stubAdmin.close();
  await raw.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
