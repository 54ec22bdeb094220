/**
 * Redis CPU per listing call on the Redis seed of this benchmark (`run.ts --seed-only` makes it):
 * the difference in `INFO commandstats` (`cmdstat_evalsha`) around a series of filtered pages
 * (job + states + time window, 50, the filters `run.ts` draws), so the figure is the script's time
 * in Redis, without round trips or decoding. The server is shared: when other clients ran scripts
 * in the window, the call count says so and the figure is flagged.
 * A refused `EVALSHA` (the script not cached yet) and its `EVAL` count as two calls.
 *
 *   npx tsx --tsconfig tsconfig.json bench/listing/redis-cpu.ts                  # measure
 *   npx tsx --tsconfig tsconfig.json bench/listing/redis-cpu.ts --build-index    # build it first
 *
 * Options: `--iterations N` (300), `--tag NAME` (bench1m), `--count N` (1,000,000), `--days N`
 * (30), `--build-index` (first build the store's per-(state, job) run index, one bounded step per
 * call, and report the calls, their wall time and their Redis time). Never seeds: without a seed
 * it stops.
 */
import { createRedisStore } from '@oasis/store-redis';
import { Redis } from 'ioredis';
import { benchConfig } from '../lib/config';
import { percentile, round } from '../lib/stats';
import { parseArgs, placeOf, randomFilter } from './run';
import { readSeed, rng, SEED_APP } from './seed';

/** Script calls (`EVALSHA`, and `EVAL` after a cache miss) and their µs so far. */
async function evalshaStats(client: Redis): Promise<{ calls: number; usec: number }> {
  const info = await client.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+),usec=(\d+)/g)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { calls, usec };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(['--stores', 'redis', ...argv]);
  const place = placeOf('redis', args);
  const seed = await readSeed(place);
  if (!seed) throw new Error(`no Redis seed under '${place.prefix}': make it with run.ts --seed-only`);
  const config = benchConfig();
  const raw = new Redis(config.redisUrl);
  const store = createRedisStore({ url: config.redisUrl, prefix: place.prefix, buildRunIndexOnInit: false });
  await store.init();
  try {
    if (argv.includes('--build-index')) {
      const before = await evalshaStats(raw);
      const walls: number[] = [];
      let runs = 0;
      const t0 = performance.now();
      for (;;) {
        const t = performance.now();
        const step = await store.indexRunsStep(SEED_APP);
        walls.push(performance.now() - t);
        runs += step.runs;
        if (step.done) break;
      }
      const total = performance.now() - t0;
      const after = await evalshaStats(raw);
      const calls = after.calls - before.calls;
      console.log(
        `index built: ${walls.length} calls, ${runs} runs, ${round(total / 1000, 2)} s wall; per call wall p50 ${round(percentile(walls, 50), 2)} ms, p99 ${round(percentile(walls, 99), 2)} ms, max ${round(Math.max(...walls), 2)} ms; Redis ${round((after.usec - before.usec) / Math.max(1, calls), 0)} µs per script call over ${calls} calls${calls === walls.length ? '' : ' (other clients ran scripts meanwhile)'}`,
      );
    }
    const random = rng(42);
    const filters = Array.from({ length: args.iterations }, () => randomFilter(random, seed));
    const before = await evalshaStats(raw);
    let items = 0;
    const walls: number[] = [];
    for (const f of filters) {
      const t = performance.now();
      items += (await store.listRuns(f, { limit: 50 })).items.length;
      walls.push(performance.now() - t);
    }
    const after = await evalshaStats(raw);
    const calls = after.calls - before.calls;
    console.log(
      `filtered pages (job+states+time, 50): ${filters.length} calls, ${round(items / filters.length, 1)} items per call, wall p50 ${round(percentile(walls, 50), 2)} ms, p95 ${round(percentile(walls, 95), 2)} ms; Redis ${round((after.usec - before.usec) / Math.max(1, calls), 0)} µs per call over ${calls} script calls${calls === filters.length ? '' : ' (other clients ran scripts meanwhile: the figure includes theirs)'}`,
    );
  } finally {
    await store.close();
    raw.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
