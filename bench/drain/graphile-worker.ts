import { Logger, makeWorkerUtils, type Runner, run, runMigrations } from 'graphile-worker';
import pg from 'pg';
import type { DrainContext, DrainParent, DrainSystemModule, DrainWorker } from './types';

/** graphile-worker 0.17 on PostgreSQL: its defaults, but concurrency 50 per process. */

function schemaOf(ctx: DrainContext): string {
  return `oasis_bench_gw_${ctx.runId}`;
}

/** A logger that keeps graphile-worker quiet except for errors. */
const quietLogFactory = (scope: unknown) => (level: string, message: string) => {
  if (level === 'error') console.error('[graphile-worker]', message, scope);
};

async function parent(ctx: DrainContext): Promise<DrainParent> {
  const schema = schemaOf(ctx);
  const pool = new pg.Pool({ connectionString: ctx.config.pgUrl, max: 2 });
  pool.on('error', (err) => console.error('[bench pool]', err));
  pool.on('connect', (client) => client.on('error', (err) => console.error('[bench pool client]', err)));
  const logger = new Logger(quietLogFactory);
  return {
    async setup() {
      await pool.query(`drop schema if exists ${schema} cascade`);
      await runMigrations({ pgPool: pool, schema, logger });
    },
    async enqueue(count) {
      // `addJobs` inserts the whole batch through `add_jobs` in one statement per call.
      const utils = await makeWorkerUtils({ pgPool: pool, schema, logger });
      try {
        const specs = Array.from({ length: count }, (_, i) => ({ identifier: 'noop', payload: { i } }));
        await utils.addJobs(specs);
      } finally {
        await utils.release();
      }
    },
    async enqueueDelayed(dueTimes) {
      const utils = await makeWorkerUtils({ pgPool: pool, schema, logger });
      try {
        await utils.addJobs(
          dueTimes.map((dueAt, i) => ({ identifier: 'noop', payload: { i, dueAt }, runAt: new Date(dueAt) })),
        );
      } finally {
        await utils.release();
      }
    },
    async remaining() {
      // Completed jobs are deleted: what is left is what is not done.
      const { rows } = await pool.query<{ n: string }>(`select count(*) as n from ${schema}._private_jobs`);
      return Number(rows[0]?.n ?? 0);
    },
    async teardown() {
      try {
        await pool.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await pool.end();
      }
    },
  };
}

async function worker(ctx: DrainContext): Promise<DrainWorker> {
  const schema = schemaOf(ctx);
  let runner: Runner | null = null;
  return {
    async start(hooks) {
      runner = await run({
        connectionString: ctx.config.pgUrl,
        schema,
        concurrency: ctx.concurrency,
        noHandleSignals: true,
        logger: new Logger(quietLogFactory),
        taskList: {
          noop: async (payload) => {
            hooks.started((payload as { dueAt?: number } | null)?.dueAt);
            hooks.done();
          },
        },
      });
    },
    async stop() {
      await runner?.stop();
    },
  };
}

/** The graphile-worker drain system. */
export const graphileWorker: DrainSystemModule = { parent, worker };
