/**
 * The runs list's cost at the store level with many concurrent callers, for a few PostgreSQL pool
 * sizes: `listRuns` over the 1M-run seed (the admin benchmark's random filters), `--concurrency`
 * calls in flight at once, and per call the Node CPU of this process and the CPU of the store's
 * own PostgreSQL backends (found by `application_name`), plus calls per second. Pool sizes are
 * measured in alternating rounds, so a change in the machine's load hits all of them alike.
 *
 *   npx tsx --tsconfig tsconfig.json bench/admin-http/pool.ts --pools 10,4 --concurrency 50 --calls 2000 --rounds 2
 */
import { createSqlStore } from '@oasis/store-sql';
import pg from 'pg';
import { benchConfig } from '../lib/config';
import { pidsCpuMs } from '../lib/cpu';
import { table } from '../lib/report';
import { round } from '../lib/stats';
import { placeOf, randomFilter } from '../listing/run';
import { readSeed, rng } from '../listing/seed';

const APP_NAME = 'oasis-pool-bench';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
  const pools = value('--pools', '10,4').split(',').map(Number);
  const concurrency = Number(value('--concurrency', '50'));
  const calls = Number(value('--calls', '2000'));
  const rounds = Number(value('--rounds', '2'));
  const place = placeOf('postgres', { count: 1_000_000, days: 30, tag: value('--tag', 'bench1m') });
  const seed = await readSeed(place);
  if (!seed) throw new Error(`no seed under ${place.prefix}: run bench/listing/run.ts first`);
  const url = new URL(benchConfig().pgUrl);
  url.searchParams.set('application_name', APP_NAME);
  const random = rng(99);
  const filters = Array.from({ length: 5000 }, () => randomFilter(random, seed));
  const admin = new pg.Client({ connectionString: benchConfig().pgUrl });
  await admin.connect();
  const rows: string[][] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const pool of pools) {
        const store = createSqlStore({
          dialect: 'postgres',
          connectionString: url.toString(),
          tablePrefix: place.prefix,
          pool: { max: pool },
        });
        await store.init();
        try {
          // open every connection (and prepare its statements) before measuring
          await Promise.all(filters.slice(0, pool * 6).map((f) => store.listRuns(f, { limit: 50 })));
          const found = await admin.query<{ pid: number }>(
            'select pid from pg_stat_activity where application_name = $1',
            [APP_NAME],
          );
          const pids = found.rows.map((row) => row.pid);
          const db0 = pidsCpuMs(pids);
          const own0 = process.cpuUsage();
          const t0 = performance.now();
          let next = 0;
          await Promise.all(
            Array.from({ length: concurrency }, async () => {
              while (next < calls) {
                const i = next++;
                await store.listRuns(filters[(r * calls + i) % filters.length]!, { limit: 50 });
              }
            }),
          );
          const wall = performance.now() - t0;
          const own = process.cpuUsage(own0);
          rows.push([
            String(pool),
            String(r + 1),
            String(round((own.user + own.system) / 1000 / calls, 3)),
            String(round((pidsCpuMs(pids) - db0) / calls, 3)),
            String(round((calls / wall) * 1000, 0)),
            String(pids.length),
          ]);
        } finally {
          await store.close();
        }
      }
    }
  } finally {
    await admin.end();
  }
  console.log(
    `listRuns, ${concurrency} calls in flight, ${calls} calls per round, ${new Date().toISOString()}`,
  );
  console.log(
    table(['pool', 'round', 'node CPU ms/call', 'PostgreSQL CPU ms/call', 'calls/s', 'backends'], rows),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
