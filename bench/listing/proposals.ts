/**
 * Measures, on the seeded PostgreSQL history, the two changes this benchmark proposes for
 * `@oasis/store-sql` (see README.md), next to the shapes the store runs today:
 *
 * 1. the filtered listing (job + states + time range) in two steps, the page's ids first from a
 *    covering index on `(app, job_key, state, created_at) include (id)`, then their rows; today
 *    the planner often walks the primary key backwards (`order by id desc limit 51`) through most
 *    of the table when the matching runs are old, or filters `created_at` on the heap;
 * 2. the dashboard's 24 h figures summed per hour in SQL, over an index on `(app, hour)`, instead
 *    of every (job, hour) bucket sent to the process (~4,500 rows for 200 jobs).
 *
 *   npx tsx --tsconfig tsconfig.json bench/listing/proposals.ts            # add indexes, measure
 *   npx tsx --tsconfig tsconfig.json bench/listing/proposals.ts --drop     # remove them again
 *
 * The indexes are created on the benchmark's own tables only (`bench1m_prop_*`).
 */
import { benchConfig } from '../lib/config';
import { table } from '../lib/report';
import { figures, type OpFigures, placeOf, randomFilter } from './run';
import { readSeed, rng, SEED_APP } from './seed';

const HOUR = 3_600_000;

/** The proposed indexes, as `CREATE INDEX` statements for a table prefix. */
export function proposedIndexes(prefix: string): string[] {
  return [
    `create index if not exists ${prefix}prop_runs_job_state_time on ${prefix}runs (app, job_key, state, created_at) include (id)`,
    `create index if not exists ${prefix}prop_stats_app_hour on ${prefix}stats_hourly (app, hour)`,
  ];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const tag = argv.includes('--tag') ? argv[argv.indexOf('--tag') + 1]! : 'bench1m';
  const iterations = argv.includes('--iterations') ? Number(argv[argv.indexOf('--iterations') + 1]) : 500;
  const place = placeOf('postgres', { count: 1_000_000, days: 30, tag });
  const prefix = place.prefix;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: benchConfig().pgUrl });
  await client.connect();
  try {
    if (argv.includes('--drop')) {
      await client.query(
        `drop index if exists ${prefix}prop_runs_job_state_time, ${prefix}prop_stats_app_hour`,
      );
      console.log('dropped the proposed indexes');
      return;
    }
    const seed = await readSeed(place);
    if (!seed) throw new Error(`no seed under ${prefix}: run bench/listing/run.ts first`);
    const random = rng(42);
    const now = Date.now();
    const to = Math.floor(now / HOUR) * HOUR + HOUR;
    const from = to - 24 * HOUR;
    const timeQuery = async (text: string, params: unknown[]) => {
      const t = performance.now();
      const r = await client.query(text, params);
      return { ms: performance.now() - t, rows: r.rowCount ?? 0 };
    };
    const listSql = `select * from ${prefix}runs where app = $1 and job_key = $2 and state = any($3::text[])
                       and created_at >= $4 and created_at < $5 order by id desc limit 51`;
    const listTwoStep = `select * from ${prefix}runs where id in (
                           select id from ${prefix}runs where app = $1 and job_key = $2 and state = any($3::text[])
                              and created_at >= $4 and created_at < $5 order by id desc limit 51)
                         order by id desc`;
    const statsNow = `select * from ${prefix}stats_hourly where hour >= $1 and hour < $2 and app = $3
                       order by hour, app, job_key`;
    const statsHourly = `select app, hour, sum(succeeded) as succeeded, sum(failed) as failed, sum(dead) as dead,
                                sum(timed_out) as timed_out, sum(cancelled) as cancelled, sum(lost) as lost,
                                sum(skipped) as skipped, sum(total_duration_ms) as total_duration_ms,
                                max(max_duration_ms) as max_duration_ms
                           from ${prefix}stats_hourly where app = $3 and hour >= $1 and hour < $2
                          group by app, hour order by hour`;
    const run = async (label: string): Promise<OpFigures[]> => {
      const s: Record<string, number[]> = { list: [], list2: [], statsNow: [], statsHourly: [] };
      const n: Record<string, number[]> = { list: [], list2: [], statsNow: [], statsHourly: [] };
      for (let i = 0; i < 20 + iterations; i++) {
        const f = randomFilter(random, seed);
        const a = await timeQuery(listSql, [SEED_APP, f.jobKey, f.states, f.from, f.to]);
        const a2 = await timeQuery(listTwoStep, [SEED_APP, f.jobKey, f.states, f.from, f.to]);
        const b = await timeQuery(statsNow, [from, to, SEED_APP]);
        const c = await timeQuery(statsHourly, [from, to, SEED_APP]);
        if (i < 20) continue;
        s.list!.push(a.ms);
        n.list!.push(a.rows);
        s.list2!.push(a2.ms);
        n.list2!.push(a2.rows);
        s.statsNow!.push(b.ms);
        n.statsNow!.push(b.rows);
        s.statsHourly!.push(c.ms);
        n.statsHourly!.push(c.rows);
      }
      return [
        figures(`${label}: filtered page SQL (job+state+time)`, s.list!, n.list!),
        figures(`${label}: filtered page SQL, ids first (two steps)`, s.list2!, n.list2!),
        figures(`${label}: stats 24 h, per job (today)`, s.statsNow!, n.statsNow!),
        figures(`${label}: stats 24 h, summed per hour`, s.statsHourly!, n.statsHourly!),
      ];
    };
    await client.query(
      `drop index if exists ${prefix}prop_runs_job_state_time, ${prefix}prop_stats_app_hour`,
    );
    await client.query(`analyze ${prefix}runs`);
    const before = await run('today');
    for (const stmt of proposedIndexes(prefix)) await client.query(stmt);
    await client.query(`analyze ${prefix}runs`);
    await client.query(`analyze ${prefix}stats_hourly`);
    const after = await run('with indexes');
    console.log(
      `\npostgres, raw SQL over pg, ${seed.runs} runs, ${new Date().toISOString()}, node ${process.version}`,
    );
    console.log(
      table(
        ['query', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'rows/call'],
        [...before, ...after].map((f) => [
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
    console.log(
      '\nthe proposed indexes stay until `--drop`; bench/listing/run.ts now measures the store with them',
    );
  } finally {
    await client.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
