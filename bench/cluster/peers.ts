/**
 * Issue 5's comparison: how long each peer takes to run a job again after the worker process
 * running it is killed (kill -9), with two worker processes of the peer's defaults. Per
 * repetition: two fresh workers, one job, the job starts on one of them, 1 s later that process is
 * killed; the time until the other worker's handler starts the same job.
 *
 * - BullMQ 6: defaults (lockDuration 30 s, stalledInterval 30 s, maxStalledCount 1): the stalled
 *   check moves the job back to wait once its lock has expired.
 * - pg-boss 10: a killed worker's job stays `active` until its expiration (default 15 min), which
 *   the maintenance (default every 120 s) fails and retries (retryLimit 2, retryDelay 0 by
 *   default). Measured with `expireInSeconds: 5` and `maintenanceIntervalSeconds: 5`.
 * - graphile-worker 0.17: a killed worker's job stays locked for 4 hours (not configurable in the
 *   open-source edition); a sweep every 8–10 min unlocks jobs locked longer. Measured by ageing the
 *   job's `locked_at` by 4 hours right after the kill (simulating the 4 hours) and a sweep every
 *   1–2 s (`minResetLockedInterval` / `maxResetLockedInterval`).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Logger, makeWorkerUtils, runMigrations } from 'graphile-worker';
import { Redis } from 'ioredis';
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { BenchConfig } from '../lib/config';
import { BENCH_DIR } from '../lib/paths';
import { sleep } from '../lib/stats';
import type { PeerWorkerConfig } from './peer-worker';
import { Child } from './procs';

const PEER_SCRIPT = join(BENCH_DIR, 'cluster', 'peer-worker.ts');

export type PeerSystem = PeerWorkerConfig['system'];

export interface PeerSample {
  /** kill -9 → the survivor's handler starts the job again, ms. */
  recoverMs: number;
  loadAvg1: number;
}

export interface PeerResult {
  system: PeerSystem;
  /** The settings that differ from the peer's defaults in the measurement. */
  measuredWith: string;
  samples: PeerSample[];
  /** What the defaults give, derived from the mechanism and the peer's docs. */
  withDefaults: string;
}

interface PeerQueue {
  worker: Omit<PeerWorkerConfig, 'system' | 'config'>;
  enqueue(): Promise<string>;
  afterKill(jobId: string): Promise<void>;
  endRep(): Promise<void>;
  teardown(): Promise<void>;
}

function redisConnection(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

async function bullmqQueue(config: BenchConfig, runId: string, rep: number): Promise<PeerQueue> {
  const prefix = `oasis-bench-bullmq-${runId}`;
  const name = `long${rep}`;
  const queue = new Queue(name, { connection: redisConnection(config.redisUrl), prefix });
  await queue.waitUntilReady();
  return {
    worker: { namespace: prefix, queue: name },
    async enqueue() {
      const job = await queue.add('long', {});
      return String(job.id);
    },
    async afterKill() {},
    async endRep() {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    },
    async teardown() {
      const client = new Redis(config.redisUrl);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await client.del(...keys);
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    },
  };
}

async function pgBossQueue(
  config: BenchConfig,
  runId: string,
  rep: number,
  pool: pg.Pool,
): Promise<PeerQueue> {
  const schema = `oasis_bench_pgboss_${runId}`;
  const name = `long${rep}`;
  const boss = new PgBoss({ connectionString: config.pgUrl, schema, supervise: false, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue(name);
  return {
    worker: { namespace: schema, queue: name, pgBossMaintenanceSeconds: 5 },
    async enqueue() {
      const id = await boss.send(name, {}, { expireInSeconds: 5 });
      if (id === null) throw new Error('pg-boss did not create the job');
      return id;
    },
    async afterKill() {},
    async endRep() {
      await boss.stop({ graceful: false, wait: true });
    },
    async teardown() {
      await pool.query(`drop schema if exists ${schema} cascade`);
    },
  };
}

async function graphileQueue(runId: string, pool: pg.Pool): Promise<PeerQueue> {
  const schema = `oasis_bench_gw_${runId}`;
  const logger = new Logger(() => () => {});
  await runMigrations({ pgPool: pool, schema, logger });
  return {
    worker: { namespace: schema, queue: 'long', graphileResetLockedMs: [1_000, 2_000] },
    async enqueue() {
      const utils = await makeWorkerUtils({ pgPool: pool, schema, logger });
      try {
        return String((await utils.addJob('long', {})).id);
      } finally {
        await utils.release();
      }
    },
    async afterKill(jobId) {
      // Four hours pass: the lock the killed worker holds is now as old as the one it would leave.
      await pool.query(
        `update ${schema}._private_jobs set locked_at = locked_at - interval '4 hours' where id = $1`,
        [jobId],
      );
    },
    async endRep() {
      await pool.query(`delete from ${schema}._private_jobs`);
    },
    async teardown() {
      await pool.query(`drop schema if exists ${schema} cascade`);
    },
  };
}

const DESCRIPTIONS: Record<PeerSystem, Pick<PeerResult, 'measuredWith' | 'withDefaults'>> = {
  bullmq: {
    measuredWith: 'defaults (lockDuration 30 s, stalledInterval 30 s)',
    withDefaults: 'as measured: lock expiry (30 s) + up to one stalled check (30 s), so 30–60 s',
  },
  'pg-boss': {
    measuredWith: 'expireInSeconds 5, maintenanceIntervalSeconds 5',
    withDefaults: 'expiration 15 min + up to one maintenance (120 s) + up to one poll (2 s): about 15–17 min',
  },
  'graphile-worker': {
    measuredWith: 'lock aged 4 h at the kill; sweep every 1–2 s',
    withDefaults:
      'lock held at least 4 h, then up to one sweep (8–10 min) + one poll (2 s): about 4 h 00 – 4 h 10',
  },
};

/** Measures one peer `reps` times. */
export async function runPeer(
  system: PeerSystem,
  config: BenchConfig,
  reps: number,
  log: (line: string) => void,
): Promise<PeerResult> {
  const runId = `fo${Date.now().toString(36)}`;
  const pool = new pg.Pool({ connectionString: config.pgUrl, max: 2 });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const result: PeerResult = { system, ...DESCRIPTIONS[system], samples: [] };
  const graphile = system === 'graphile-worker' ? await graphileQueue(runId, pool) : null;
  let last: PeerQueue | null = graphile;
  try {
    for (let rep = 0; rep < reps; rep++) {
      const q =
        graphile ??
        (system === 'bullmq'
          ? await bullmqQueue(config, runId, rep)
          : await pgBossQueue(config, runId, rep, pool));
      last = q;
      const workerConfig: PeerWorkerConfig = { system, config, ...q.worker };
      const workers = [0, 1].map((i) => new Child(`${system}-${rep}-${i}`, PEER_SCRIPT, workerConfig));
      try {
        await Promise.all(workers.map((w) => w.waitFor('ready', () => true, 60_000)));
        const jobId = await q.enqueue();
        let victim: Child | undefined;
        const startedDeadline = Date.now() + 30_000;
        while (!victim) {
          victim = workers.find((w) => w.find('started', (m) => m.jobId === jobId));
          if (Date.now() > startedDeadline) throw new Error(`${system}: the job did not start`);
          await sleep(5);
        }
        const survivor = workers.find((w) => w !== victim) as Child;
        await sleep(1_000);
        const loadAvg1 = loadavg()[0] ?? 0;
        const killAt = Date.now();
        await victim.kill();
        await q.afterKill(jobId);
        const again = await survivor.waitFor(
          'started',
          (m) => m.jobId === jobId && (m.at as number) >= killAt,
          180_000,
        );
        const sample = { recoverMs: (again.at as number) - killAt, loadAvg1 };
        result.samples.push(sample);
        log(`  ${system} ${rep + 1}/${reps}: ${sample.recoverMs} ms`);
      } finally {
        await Promise.all(workers.map((w) => w.kill()));
        await q.endRep().catch(() => {});
      }
      if (!graphile && rep < reps - 1) await q.teardown().catch(() => {});
    }
  } finally {
    await last?.teardown().catch((err: unknown) => console.error('cleanup:', err));
    await pool.end();
  }
  return result;
}
