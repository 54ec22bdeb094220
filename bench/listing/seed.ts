/**
 * Seeds (once) a large, realistic run history for the listing and admin-HTTP benchmarks: by
 * default 1,000,000 runs spread over 30 days, over 200 jobs of 20 handlers, owned by 4 nodes,
 * mostly `succeeded` with some `failed` / `dead` / `timed_out` / `cancelled` / `skipped`, and a
 * few `pending` / `running` at the end, with the hourly stats that match them.
 *
 * - Redis: entirely through the store's own steps (`saveJob`, `registerNode`, `enqueueRuns`,
 *   `claimRuns`, `completeRun`), with the store's test clock offset moved per call (an
 *   `AsyncLocalStorage` holds each call's target time) so that every run is created, claimed and
 *   finished at its historical time: ids, indexes and hourly stats are the store's own.
 * - SQL (PostgreSQL, SQLite): jobs, nodes and runs through the store (`enqueueRuns` in batches of
 *   1,000), then, since the SQL store's clock offset is fixed per store and a million
 *   claim + complete transactions would take many minutes, one `UPDATE … FROM unnest(…)` per
 *   batch (SQLite: one prepared `UPDATE` per row in one transaction) back-dates each run and writes
 *   its outcome, and the hourly stats are rebuilt from the runs with one `INSERT … SELECT … GROUP BY`.
 *
 * A seed is recorded last (a `<prefix>seed` table, a `{<prefix>}:seed` hash), so an interrupted
 * seed is detected, wiped and redone; a complete one with the same count is reused.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type JobDraft,
  partitionOf,
  type RetryPolicy,
  type RunDraft,
  type RunRecord,
  type RunState,
  type Store,
} from '@oasis/core';
import { createRedisStore } from '@oasis/store-redis';
import { createSqlStore } from '@oasis/store-sql';
import type { BenchConfig } from '../lib/config';

/** The stores the listing benchmarks seed. */
export type SeedKind = 'postgres' | 'redis' | 'sqlite';

/** The app every seeded run belongs to. */
export const SEED_APP = 'bench1m';
/** Jobs, handlers and nodes of the seed. */
export const SEED_JOBS = 200;
const HANDLERS = 20;
/** The seeded nodes' ids. */
export const SEED_NODES = ['node-1', 'node-2', 'node-3', 'node-4'];
const DAY = 86_400_000;
const HOUR = 3_600_000;
const BATCH = 1000;
/** Runs left `pending` and `running` at the end of the history. */
const TAIL_PENDING = 200;
const TAIL_RUNNING = 20;
const TIMEOUT_MS = 60_000;
const LEASE_MS = 24 * HOUR;

/** Where a seed lives and how big it is. */
export interface SeedPlace {
  kind: SeedKind;
  config: BenchConfig;
  /** Runs to seed (default 1,000,000). */
  count: number;
  /** Days of history (default 30). */
  days: number;
  /** SQL table prefix / Redis key prefix / SQLite file stem (default `bench1m_` / `bench1m`). */
  prefix: string;
}

/** What a finished seed recorded. */
export interface SeedInfo {
  count: number;
  /** Runs really made (Redis: retries of failed runs are made by the store and may overshoot a little). */
  runs: number;
  /** Store time of the oldest and newest seeded run. */
  start: number;
  end: number;
  /** Wall time the seed took, ms (of the run that made it). */
  seedMs: number;
  /** Redis only: `used_memory` before and after, bytes. */
  memoryBefore?: number;
  memoryAfter?: number;
  seededAt: string;
}

/** The job key of job `j`. */
export function jobKeyOf(j: number): string {
  return `job-${String(j).padStart(3, '0')}`;
}

function handlerOf(j: number): string {
  return `handler-${String(j % HANDLERS).padStart(2, '0')}`;
}

/** Default place of a kind: the `bench1m` prefixes. */
export function defaultPlace(kind: SeedKind, config: BenchConfig, count = 1_000_000, days = 30): SeedPlace {
  return { kind, config, count, days, prefix: kind === 'redis' ? 'bench1m' : 'bench1m_' };
}

/** The SQLite file of a place. */
export function sqliteFileOf(place: SeedPlace): string {
  return join(tmpdir(), `oasis-${place.prefix.replace(/_+$/, '')}.db`);
}

/** Opens (and migrates) the store of a seed place; `clockOffsetMs` only for Redis seeding. */
export async function openSeedStore(
  place: SeedPlace,
  clockOffsetMs?: () => number,
  /** PostgreSQL's pool size (the store's default, 10, when absent). */
  pgPoolMax?: number,
): Promise<Store> {
  const store =
    place.kind === 'redis'
      ? createRedisStore({
          url: place.config.redisUrl,
          prefix: place.prefix,
          ...(clockOffsetMs ? { clockOffsetMs } : {}),
        })
      : place.kind === 'postgres'
        ? createSqlStore({
            dialect: 'postgres',
            connectionString: place.config.pgUrl,
            tablePrefix: place.prefix,
            migrate: true,
            ...(pgPoolMax === undefined ? {} : { pool: { max: pgPoolMax } }),
          })
        : createSqlStore({
            dialect: 'sqlite',
            filename: sqliteFileOf(place),
            tablePrefix: place.prefix,
            migrate: true,
          });
  await store.init();
  return store;
}

// ---- the plan: what each run becomes ------------------------------------------------------------

/** A small, fast, seeded PRNG (mulberry32), so every seed makes the same history. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Job popularity: job j has weight 1 / (1 + j / 10), so the busiest runs about 20× the quietest. */
const CUMULATIVE = (() => {
  const w = Array.from({ length: SEED_JOBS }, (_, j) => 1 / (1 + j / 10));
  const total = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  return w.map((x) => {
    acc += x / total;
    return acc;
  });
})();

function pickJob(u: number): number {
  let lo = 0;
  let hi = SEED_JOBS - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CUMULATIVE[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One planned run: its job, its fate and its timings. */
interface Planned {
  job: number;
  state: RunState;
  /** ms from creation to claim. */
  startDelay: number;
  durationMs: number;
  node: number;
}

function plan(random: () => number, tail: 'pending' | 'running' | null): Planned {
  const job = pickJob(random());
  const u = random();
  const startDelay = 5 + Math.floor(random() * 200);
  let durationMs = 20 + Math.floor(random() ** 4 * 30_000);
  const node = Math.floor(random() * SEED_NODES.length);
  let state: RunState;
  if (tail !== null) state = tail;
  else if (u < 0.91) state = 'succeeded';
  else if (u < 0.94) state = 'dead';
  else if (u < 0.955) state = 'failed';
  else if (u < 0.975) state = 'timed_out';
  else if (u < 0.99) state = 'cancelled';
  else state = 'skipped';
  if (state === 'timed_out') durationMs = TIMEOUT_MS;
  return { job, state, startDelay, durationMs, node };
}

const RETRY: RetryPolicy = { maxAttempts: 2, backoff: 'fixed', delayMs: 1000, maxDelayMs: 1000, jitter: 0 };

function draftOf(i: number, p: Planned, at: number): RunDraft {
  return {
    app: SEED_APP,
    jobKey: jobKeyOf(p.job),
    handler: handlerOf(p.job),
    params: { i, batch: 'nightly', region: ['eu', 'us', 'ap'][i % 3]! },
    trigger: i % 25 === 0 ? 'manual' : 'schedule',
    scheduledFor: at,
    attempt: 1,
    retry: RETRY,
    timeoutMs: TIMEOUT_MS,
    shardIndex: 0,
    shardTotal: 1,
    priority: 0,
    block: 'parallel',
    routing: 'any',
    targetNode: null,
    idempotencyKey: null,
    parentRunId: null,
    ...(p.state === 'skipped'
      ? { state: 'skipped' as const, reason: 'misfire: missed while no node ran' }
      : {}),
  };
}

function jobDraft(j: number): JobDraft {
  const key = jobKeyOf(j);
  return {
    app: SEED_APP,
    key,
    handler: handlerOf(j),
    schedule: { kind: 'cron', cron: `${j % 60} * * * *` },
    params: { batch: 'nightly' },
    enabled: j % 10 !== 9,
    routing: { strategy: 'any' },
    block: 'parallel',
    misfire: 'fire-once',
    retry: RETRY,
    timeoutMs: TIMEOUT_MS,
    shards: 1,
    priority: 0,
    owner: 'bench',
    alertContacts: [],
    tags: [`team-${j % 5}`],
    description: `benchmark job ${j}`,
    source: 'admin',
    partition: partitionOf(key),
    nextFireAt: null,
    lastFireAt: null,
  };
}

const ERROR_JSON = JSON.stringify({
  name: 'Error',
  message: 'upstream returned 503',
  stack: 'Error: upstream returned 503\n    at handler',
});
const TIMEOUT_JSON = JSON.stringify({ name: 'TimeoutError', message: `timed out after ${TIMEOUT_MS} ms` });

// ---- seed state: read, write, clean -------------------------------------------------------------

function seedTable(place: SeedPlace): string {
  return `${place.prefix}seed`;
}

function seedKey(place: SeedPlace): string {
  return `{${place.prefix}}:seed`;
}

/** The recorded seed of a place, or null when none was completed. */
export async function readSeed(place: SeedPlace): Promise<SeedInfo | null> {
  if (place.kind === 'redis') {
    const { Redis } = await import('ioredis');
    const client = new Redis(place.config.redisUrl);
    try {
      const json = await client.hget(seedKey(place), 'info');
      return json ? (JSON.parse(json) as SeedInfo) : null;
    } finally {
      client.disconnect();
    }
  }
  return withSql(place, async (q) => {
    const exists = await q(
      place.kind === 'postgres'
        ? `select 1 from information_schema.tables where table_schema = current_schema() and table_name = '${seedTable(place)}'`
        : `select 1 from sqlite_master where type = 'table' and name = '${seedTable(place)}'`,
    );
    if (exists.length === 0) return null;
    const rows = await q(`select info from ${seedTable(place)}`);
    return rows.length > 0 ? (JSON.parse(String(rows[0]!.info)) as SeedInfo) : null;
  });
}

type Query = (text: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/** Runs `fn` with a plain SQL connection to the place's database (pg or better-sqlite3). */
async function withSql<T>(place: SeedPlace, fn: (q: Query) => Promise<T>): Promise<T> {
  if (place.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: place.config.pgUrl });
    await client.connect();
    try {
      return await fn(async (text, params) => (await client.query(text, params)).rows);
    } finally {
      await client.end();
    }
  }
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(sqliteFileOf(place));
  db.pragma('busy_timeout = 5000');
  try {
    return await fn(async (text, params) => {
      const st = db.prepare(text);
      if (st.reader) return st.all(...(params ?? [])) as Array<Record<string, unknown>>;
      st.run(...(params ?? []));
      return [];
    });
  } finally {
    db.close();
  }
}

/**
 * Removes everything of a place: its prefixed tables (PostgreSQL), its file (SQLite), or every
 * key under its prefix found by `SCAN` (Redis). Never anything else.
 */
export async function cleanSeed(place: SeedPlace): Promise<void> {
  if (place.kind === 'sqlite') {
    const file = sqliteFileOf(place);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    return;
  }
  if (place.kind === 'postgres') {
    await withSql(place, async (q) => {
      const like = `${place.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const rows = await q(
        `select quote_ident(table_name) as t from information_schema.tables
          where table_schema = current_schema() and table_name like $1`,
        [like],
      );
      if (rows.length > 0) await q(`drop table if exists ${rows.map((r) => String(r.t)).join(', ')} cascade`);
    });
    return;
  }
  const { Redis } = await import('ioredis');
  const client = new Redis(place.config.redisUrl);
  try {
    // `{<prefix>:<app>}:…` and `{<prefix>}:…`: the store's own scan pattern for a prefix
    const pattern = `{${place.prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}[:}]*`;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

async function redisUsedMemory(url: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url);
  try {
    const info = await client.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  } finally {
    client.disconnect();
  }
}

/**
 * Makes sure the place holds a complete seed of `place.count` runs: reuses a recorded one with
 * the same count, else wipes the place and seeds it. Returns the seed's record.
 */
export async function ensureSeed(
  place: SeedPlace,
  log: (line: string) => void = console.log,
): Promise<SeedInfo> {
  const existing = await readSeed(place);
  if (existing && existing.count === place.count) {
    log(
      `${place.kind}: reusing the seed of ${existing.count} runs made ${existing.seededAt} (prefix ${place.prefix})`,
    );
    return existing;
  }
  log(
    `${place.kind}: seeding ${place.count} runs over ${place.days} days (prefix ${place.prefix}); this takes a while`,
  );
  await cleanSeed(place);
  const t0 = Date.now();
  const info =
    place.kind === 'redis'
      ? await seedRedis(place, log)
      : place.kind === 'postgres'
        ? await seedPostgres(place, log)
        : await seedSql(place, log);
  info.seedMs = Date.now() - t0;
  await writeSeed(place, info);
  log(`${place.kind}: seeded in ${(info.seedMs / 1000).toFixed(1)} s`);
  return info;
}

async function writeSeed(place: SeedPlace, info: SeedInfo): Promise<void> {
  if (place.kind === 'redis') {
    const { Redis } = await import('ioredis');
    const client = new Redis(place.config.redisUrl);
    try {
      await client.hset(seedKey(place), 'info', JSON.stringify(info));
    } finally {
      client.disconnect();
    }
    return;
  }
  await withSql(place, async (q) => {
    await q(`create table if not exists ${seedTable(place)} (info text not null)`);
    await q(`delete from ${seedTable(place)}`);
    await q(`insert into ${seedTable(place)} (info) values (${place.kind === 'postgres' ? '$1' : '?'})`, [
      JSON.stringify(info),
    ]);
  });
}

function progress(log: (line: string) => void, kind: string, done: number, total: number, t0: number): void {
  const s = (Date.now() - t0) / 1000;
  log(`${kind}: ${done}/${total} runs (${(done / s).toFixed(0)}/s, ${s.toFixed(0)} s)`);
}

// ---- SQL ----------------------------------------------------------------------------------------

/** One run's back-dated outcome, as the SQL `UPDATE` writes it. */
interface Outcome {
  id: number;
  created: number;
  state: RunState;
  started: number | null;
  finished: number | null;
  duration: number | null;
  node: string | null;
  incarnation: number | null;
  lease: number | null;
  result: string | null;
  error: string | null;
  reason: string | null;
}

function outcomeOf(run: RunRecord, p: Planned, created: number, incarnations: number[]): Outcome {
  const started = p.state === 'skipped' || p.state === 'pending' ? null : created + p.startDelay;
  const finished =
    started === null
      ? p.state === 'skipped'
        ? created
        : null
      : p.state === 'running'
        ? null
        : started + p.durationMs;
  const ran = started !== null;
  return {
    id: Number(run.id),
    created,
    state: p.state,
    started,
    finished,
    duration: ran && p.state !== 'running' ? p.durationMs : null,
    node: ran ? SEED_NODES[p.node]! : null,
    incarnation: ran ? incarnations[p.node]! : null,
    lease: p.state === 'running' ? created + LEASE_MS : null,
    result:
      p.state === 'succeeded'
        ? JSON.stringify({ processed: p.durationMs % 500 })
        : p.state === 'pending' || p.state === 'running' || p.state === 'skipped'
          ? null
          : 'null',
    error:
      p.state === 'failed' || p.state === 'dead' ? ERROR_JSON : p.state === 'timed_out' ? TIMEOUT_JSON : null,
    reason:
      p.state === 'cancelled'
        ? 'cancelled by operator'
        : p.state === 'skipped'
          ? 'misfire: missed while no node ran'
          : null,
  };
}

async function seedSql(place: SeedPlace, log: (line: string) => void): Promise<SeedInfo> {
  const store = await openSeedStore(place);
  const runs = `${place.prefix}runs`;
  const stats = `${place.prefix}stats_hourly`;
  try {
    for (let j = 0; j < SEED_JOBS; j++) await store.saveJob(jobDraft(j), 'any');
    const incarnations: number[] = [];
    for (const nodeId of SEED_NODES) {
      const node = await store.registerNode({
        nodeId,
        app: SEED_APP,
        host: `host-${nodeId}`,
        pid: 1000 + incarnations.length,
        version: 'bench',
        handlers: Array.from({ length: HANDLERS }, (_, h) => handlerOf(h)),
        weight: 1,
        concurrency: 50,
      });
      incarnations.push(node.incarnation);
    }
    const end = await store.now();
    const span = place.days * DAY;
    const start = end - span;
    const random = rng(0x0a515);
    const t0 = Date.now();
    const phase = { enqueue: 0, update: 0 };
    await withSql(place, async (q) => {
      const pg = place.kind === 'postgres';
      for (let from = 0; from < place.count; from += BATCH) {
        const n = Math.min(BATCH, place.count - from);
        const planned: Planned[] = [];
        const times: number[] = [];
        for (let k = 0; k < n; k++) {
          const i = from + k;
          const tail =
            i >= place.count - TAIL_PENDING
              ? 'pending'
              : i >= place.count - TAIL_PENDING - TAIL_RUNNING
                ? 'running'
                : null;
          planned.push(plan(random, tail));
          // creation times rise with the index (ids rise with time), a little jitter between runs
          times.push(Math.floor(start + (i / place.count) * span));
        }
        let tp = Date.now();
        const results = await store.enqueueRuns(planned.map((p, k) => draftOf(from + k, p, times[k]!)));
        phase.enqueue += Date.now() - tp;
        tp = Date.now();
        const outcomes = results.map((r, k) => outcomeOf(r.run, planned[k]!, times[k]!, incarnations));
        if (pg) {
          const col = <K extends keyof Outcome>(key: K) => outcomes.map((o) => o[key]);
          await q(
            `update ${runs} as r set created_at = v.c, scheduled_for = v.c, due_at = v.c, state = v.s,
                started_at = v.st, finished_at = v.f, duration_ms = v.d, owner_node = v.n,
                owner_incarnation = v.inc, lease_expires_at = v.l, result = v.res, error = v.err, reason = v.rsn
               from unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
                           $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[])
                 as v(id, c, s, st, f, d, n, inc, l, res, err, rsn)
              where r.id = v.id`,
            [
              col('id'),
              col('created'),
              col('state'),
              col('started'),
              col('finished'),
              col('duration'),
              col('node'),
              col('incarnation'),
              col('lease'),
              col('result'),
              col('error'),
              col('reason'),
            ],
          );
        } else {
          await q('begin');
          for (const o of outcomes) {
            await q(
              `update ${runs} set created_at = ?, scheduled_for = ?, due_at = ?, state = ?, started_at = ?,
                  finished_at = ?, duration_ms = ?, owner_node = ?, owner_incarnation = ?, lease_expires_at = ?,
                  result = ?, error = ?, reason = ? where id = ?`,
              [
                o.created,
                o.created,
                o.created,
                o.state,
                o.started,
                o.finished,
                o.duration,
                o.node,
                o.incarnation,
                o.lease,
                o.result,
                o.error,
                o.reason,
                o.id,
              ],
            );
          }
          await q('commit');
        }
        phase.update += Date.now() - tp;
        if ((from / BATCH) % 50 === 49) {
          progress(log, place.kind, from + n, place.count, t0);
          log(`  phases ms: ${JSON.stringify(phase)}`);
        }
      }
      log(`${place.kind}: rebuilding the hourly stats from the runs`);
      const final = `('succeeded','failed','dead','timed_out','cancelled','lost','skipped')`;
      const count = (s: string) =>
        pg ? `count(*) filter (where state = '${s}')` : `sum(case when state = '${s}' then 1 else 0 end)`;
      await q(`delete from ${stats} where app = '${SEED_APP}'`);
      await q(
        `insert into ${stats} (app, job_key, hour, succeeded, failed, dead, timed_out, cancelled, lost, skipped,
                               total_duration_ms, max_duration_ms)
         select app, coalesce(job_key, ''), finished_at - (finished_at % ${HOUR}),
                ${['succeeded', 'failed', 'dead', 'timed_out', 'cancelled', 'lost', 'skipped'].map(count).join(', ')},
                coalesce(sum(duration_ms), 0), coalesce(max(duration_ms), 0)
           from ${runs}
          where app = '${SEED_APP}' and state in ${final} and finished_at is not null
          group by app, coalesce(job_key, ''), finished_at - (finished_at % ${HOUR})`,
      );
      await q(totalsSql(stats));
      log(`${place.kind}: vacuum / analyze`);
      await q(pg ? `vacuum analyze ${runs}` : 'analyze');
      if (pg) await q(`vacuum analyze ${stats}`);
    });
    return {
      count: place.count,
      runs: place.count,
      start,
      end,
      seedMs: 0,
      seededAt: new Date().toISOString(),
    };
  } finally {
    await store.close();
  }
}

/**
 * PostgreSQL at scale: the store writes the jobs, the nodes and one template run per job
 * (`enqueueRuns`), then one `INSERT … SELECT … FROM generate_series` per 100,000 runs clones the
 * templates into the history (every column the store wrote, with per-run time, state, node,
 * duration, params, result and error), oldest first so ids rise with time; the templates are
 * deleted, and the hourly stats rebuilt from the runs.
 */
async function seedPostgres(place: SeedPlace, log: (line: string) => void): Promise<SeedInfo> {
  const store = await openSeedStore(place);
  const runs = `${place.prefix}runs`;
  try {
    for (let j = 0; j < SEED_JOBS; j++) await store.saveJob(jobDraft(j), 'any');
    const incarnations: number[] = [];
    for (const nodeId of SEED_NODES) {
      const node = await store.registerNode({
        nodeId,
        app: SEED_APP,
        host: `host-${nodeId}`,
        pid: 1000 + incarnations.length,
        version: 'bench',
        handlers: Array.from({ length: HANDLERS }, (_, h) => handlerOf(h)),
        weight: 1,
        concurrency: 50,
      });
      incarnations.push(node.incarnation);
    }
    const end = await store.now();
    const span = place.days * DAY;
    const start = end - span;
    const templates = await store.enqueueRuns(
      Array.from({ length: SEED_JOBS }, (_, j) =>
        draftOf(-1, { job: j, state: 'pending', startDelay: 0, durationMs: 0, node: 0 }, start),
      ),
    );
    const templateIds = templates.map((t) => Number(t.run.id));
    // 10,000 slots, each a job index by the popularity weights
    const slots: number[] = [];
    for (let k = 0; k < 10_000; k++) slots.push(pickJob((k + 0.5) / 10_000));
    const n = place.count;
    const u = (k: number) => `((hashint8(g.i * 8 + ${k})::bigint & 2147483647) / 2147483648.0)`;
    const t0 = Date.now();
    await withSql(place, async (q) => {
      const CHUNK_ROWS = 100_000;
      for (let from = 0; from < n; from += CHUNK_ROWS) {
        const to = Math.min(n, from + CHUNK_ROWS) - 1;
        await q(
          `insert into ${runs} (app, job_key, handler, params, trig, scheduled_for, due_at, attempt, retry,
              timeout_ms, shard_index, shard_total, priority, block, routing, target_node, owner_node,
              owner_incarnation, lease_expires_at, state, reason, cancel_requested, progress, created_at,
              started_at, finished_at, duration_ms, result, error, idempotency_key, parent_run_id, log_lines)
           select t.app, t.job_key, t.handler,
                  '{"i":' || g.i || ',"batch":"nightly","region":"' || (array['eu','us','ap'])[g.i % 3 + 1] || '"}',
                  case when g.i % 25 = 0 then 'manual' else 'schedule' end,
                  g.created, g.created, 1, t.retry, t.timeout_ms, 0, 1, 0, t.block, t.routing, null,
                  case when g.ran then ($4::text[])[g.node + 1] end,
                  case when g.ran then ($5::bigint[])[g.node + 1] end,
                  case when g.state = 'running' then g.created + ${LEASE_MS} end,
                  g.state,
                  case g.state when 'cancelled' then 'cancelled by operator'
                               when 'skipped' then 'misfire: missed while no node ran' end,
                  0, null, g.created,
                  case when g.ran then g.created + g.delay end,
                  case when g.state = 'skipped' then g.created
                       when g.ran and g.state <> 'running' then g.created + g.delay + g.dur end,
                  case when g.ran and g.state <> 'running' then g.dur end,
                  case when g.state = 'succeeded' then '{"processed":' || (g.dur % 500) || '}'
                       when g.state in ('failed', 'dead', 'timed_out', 'cancelled') then 'null' end,
                  case when g.state in ('failed', 'dead') then $6 when g.state = 'timed_out' then $7 end,
                  null, null, 0
             from (
               select s.*, s.state not in ('pending', 'skipped') as ran,
                      case when s.state = 'timed_out' then ${TIMEOUT_MS} else s.dur0 end as dur
                 from (
                   select g.i,
                          ($3::bigint + floor(g.i::float8 * ${span} / ${n}))::bigint as created,
                          ($2::int[])[floor(${u(0)} * 10000)::int + 1] as job,
                          case when g.i >= ${n - TAIL_PENDING} then 'pending'
                               when g.i >= ${n - TAIL_PENDING - TAIL_RUNNING} then 'running'
                               when ${u(1)} < 0.91 then 'succeeded'
                               when ${u(1)} < 0.94 then 'dead'
                               when ${u(1)} < 0.955 then 'failed'
                               when ${u(1)} < 0.975 then 'timed_out'
                               when ${u(1)} < 0.99 then 'cancelled'
                               else 'skipped' end as state,
                          5 + floor(${u(2)} * 200)::bigint as delay,
                          20 + floor(power(${u(3)}, 4) * 30000)::bigint as dur0,
                          floor(${u(4)} * ${SEED_NODES.length})::int as node
                     from generate_series($8::bigint, $9::bigint) as g(i)
                 ) s
             ) g
             join ${runs} t on t.id = ($1::bigint[])[g.job + 1]
            order by g.i`,
          [templateIds, slots, start, SEED_NODES, incarnations, ERROR_JSON, TIMEOUT_JSON, from, to],
        );
        progress(log, place.kind, to + 1, n, t0);
      }
      await q(`delete from ${runs} where id = any($1::bigint[])`, [templateIds]);
      log(`${place.kind}: rebuilding the hourly stats from the runs`);
      await rebuildStats(place, q);
      log(`${place.kind}: vacuum / analyze`);
      await q(`vacuum analyze ${runs}`);
      await q(`vacuum analyze ${place.prefix}stats_hourly`);
    });
    return {
      count: place.count,
      runs: place.count,
      start,
      end,
      seedMs: 0,
      seededAt: new Date().toISOString(),
    };
  } finally {
    await store.close();
  }
}

/** Rebuilds the app's hourly stats from its final runs, as the store's completions count them. */
async function rebuildStats(place: SeedPlace, q: Query): Promise<void> {
  const runs = `${place.prefix}runs`;
  const stats = `${place.prefix}stats_hourly`;
  const pg = place.kind === 'postgres';
  const final = `('succeeded','failed','dead','timed_out','cancelled','lost','skipped')`;
  const count = (s: string) =>
    pg ? `count(*) filter (where state = '${s}')` : `sum(case when state = '${s}' then 1 else 0 end)`;
  await q(`delete from ${stats} where app = '${SEED_APP}'`);
  await q(
    `insert into ${stats} (app, job_key, hour, succeeded, failed, dead, timed_out, cancelled, lost, skipped,
                           total_duration_ms, max_duration_ms)
     select app, coalesce(job_key, ''), finished_at - (finished_at % ${HOUR}),
            ${['succeeded', 'failed', 'dead', 'timed_out', 'cancelled', 'lost', 'skipped'].map(count).join(', ')},
            coalesce(sum(duration_ms), 0), coalesce(max(duration_ms), 0)
       from ${runs}
      where app = '${SEED_APP}' and state in ${final} and finished_at is not null
      group by app, coalesce(job_key, ''), finished_at - (finished_at % ${HOUR})`,
  );
  await q(totalsSql(stats));
}

/**
 * The app's hourly totals over every job (store-sql migration 0006: rows under the reserved job
 * key U+0001 "all"), summed from the per-job buckets just rebuilt, as the store's upsert keeps them.
 */
function totalsSql(stats: string): string {
  return `insert into ${stats} (app, job_key, hour, succeeded, failed, dead, timed_out, cancelled, lost, skipped,
                               total_duration_ms, max_duration_ms)
          select app, '\u0001all', hour, sum(succeeded), sum(failed), sum(dead), sum(timed_out), sum(cancelled),
                 sum(lost), sum(skipped), sum(total_duration_ms), max(max_duration_ms)
            from ${stats}
           where app = '${SEED_APP}' and job_key <> '\u0001all'
           group by app, hour`;
}

// ---- Redis --------------------------------------------------------------------------------------

async function seedRedis(place: SeedPlace, log: (line: string) => void): Promise<SeedInfo> {
  const memoryBefore = await redisUsedMemory(place.config.redisUrl);
  // each call's target store time; the offset moves the store's clock there for that call only
  const at = new AsyncLocalStorage<number>();
  const store = await openSeedStore(place, () => {
    const target = at.getStore();
    return target === undefined ? 0 : target - Date.now();
  });
  const when = <T>(t: number, fn: () => Promise<T>) => at.run(t, fn);
  try {
    const end = await store.now();
    const span = place.days * DAY;
    const start = end - span;
    for (let j = 0; j < SEED_JOBS; j++) await when(start, () => store.saveJob(jobDraft(j), 'any'));
    const nodes: Array<{ id: string; incarnation: number }> = [];
    for (const nodeId of SEED_NODES) {
      const node = await when(start, () =>
        store.registerNode({
          nodeId,
          app: SEED_APP,
          host: `host-${nodeId}`,
          pid: 1000 + nodes.length,
          version: 'bench',
          handlers: Array.from({ length: HANDLERS }, (_, h) => handlerOf(h)),
          weight: 1,
          concurrency: 50,
        }),
      );
      nodes.push({ id: nodeId, incarnation: node.incarnation });
    }
    const handlers = Array.from({ length: HANDLERS }, (_, h) => handlerOf(h));
    const random = rng(0x0a515);
    const body = place.count - TAIL_PENDING - TAIL_RUNNING;
    const batch = 500;
    const batches = Math.ceil(body / batch);
    const step = span / (batches + 1);
    let created = 0;
    const t0 = Date.now();
    const plans = new Map<number, Planned>();
    const phase = { enqueue: 0, claim: 0, complete: 0 };
    // claims every due pending run (new ones and earlier retries), spread over the nodes
    const claimAll = async (t: number, perNode: number): Promise<Array<{ run: RunRecord; node: number }>> => {
      const out: Array<{ run: RunRecord; node: number }> = [];
      for (let round = 0; ; round++) {
        const node = round % nodes.length;
        const got = await when(t, () =>
          store.claimRuns({
            app: SEED_APP,
            nodeId: nodes[node]!.id,
            incarnation: nodes[node]!.incarnation,
            handlers,
            limit: perNode,
            leaseMs: LEASE_MS,
          }),
        );
        for (const run of got) out.push({ run, node });
        if (got.length === 0 && round >= nodes.length - 1) return out;
      }
    };
    for (let b = 0; created < body && b < batches * 2; b++) {
      const t = Math.floor(start + b * step);
      const n = Math.min(batch, body - created);
      const drafts: RunDraft[] = [];
      for (let k = 0; k < n; k++) {
        const i = created + k;
        const p = plan(random, null);
        if (p.state !== 'skipped') plans.set(i, p);
        drafts.push(draftOf(i, p, t));
      }
      let tp = Date.now();
      const results = await when(t, () => store.enqueueRuns(drafts));
      created += results.filter((r) => r.created).length;
      phase.enqueue += Date.now() - tp;
      tp = Date.now();
      const claimed = await claimAll(t + 10, Math.ceil(n / nodes.length) + 10);
      phase.claim += Date.now() - tp;
      tp = Date.now();
      const retries = await Promise.all(
        claimed.map(async ({ run, node }) => {
          const i = (run.params as { i: number }).i;
          const p = plans.get(i);
          plans.delete(i);
          // a retry (attempt 2) succeeds; its plan was spent by the first attempt
          const outcome = run.attempt > 1 || !p ? 'succeeded' : p.state;
          const duration = p?.durationMs ?? 200;
          const res = await when(run.startedAt! + duration, () =>
            store.completeRun({
              runId: run.id,
              nodeId: nodes[node]!.id,
              incarnation: nodes[node]!.incarnation,
              outcome:
                outcome === 'dead'
                  ? 'failed'
                  : (outcome as 'succeeded' | 'failed' | 'timed_out' | 'cancelled'),
              result: outcome === 'succeeded' ? { processed: duration % 500 } : null,
              error:
                outcome === 'failed' || outcome === 'dead'
                  ? {
                      name: 'Error',
                      message: 'upstream returned 503',
                      stack: 'Error: upstream returned 503\n    at handler',
                    }
                  : outcome === 'timed_out'
                    ? { name: 'TimeoutError', message: `timed out after ${TIMEOUT_MS} ms` }
                    : null,
              durationMs: duration,
              retry:
                outcome === 'failed'
                  ? {
                      ...draftOf(i, { ...p!, state: 'pending' }, run.scheduledFor),
                      trigger: 'retry',
                      attempt: 2,
                      parentRunId: run.id,
                      delayMs: 1000,
                    }
                  : null,
            }),
          );
          return res.retry ? 1 : 0;
        }),
      );
      created += retries.reduce<number>((a, x) => a + x, 0);
      phase.complete += Date.now() - tp;
      if (b % 100 === 99) {
        progress(log, 'redis', created, place.count, t0);
        log(`  phases ms: ${JSON.stringify(phase)}`);
      }
    }
    // the tail: a few running (claimed, never completed) and pending runs at the end
    const tailAt = end - 60_000;
    const tail: RunDraft[] = [];
    for (let k = 0; k < TAIL_RUNNING; k++) tail.push(draftOf(created + k, plan(random, 'running'), tailAt));
    await when(tailAt, () => store.enqueueRuns(tail));
    await claimAll(tailAt + 10, TAIL_RUNNING);
    const pending: RunDraft[] = [];
    for (let k = 0; k < TAIL_PENDING; k++)
      pending.push(draftOf(created + TAIL_RUNNING + k, plan(random, 'pending'), end - 30_000));
    // due in a day, so a claim in the tail above or any stray claimer leaves them pending
    await when(end - 30_000, () => store.enqueueRuns(pending.map((d) => ({ ...d, delayMs: DAY }))));
    created += TAIL_RUNNING + TAIL_PENDING;
    const memoryAfter = await redisUsedMemory(place.config.redisUrl);
    log(
      `redis: used_memory ${(memoryBefore / 2 ** 20).toFixed(1)} MiB -> ${(memoryAfter / 2 ** 20).toFixed(1)} MiB`,
    );
    return {
      count: place.count,
      runs: created,
      start,
      end,
      seedMs: 0,
      memoryBefore,
      memoryAfter,
      seededAt: new Date().toISOString(),
    };
  } finally {
    await store.close();
  }
}
