/**
 * One node of the example: an Oasis scheduler on PostgreSQL and, on node 1, a Fastify app with the
 * admin API at `/admin/oasis` (`fastifyAdmin`, a plugin registered with a prefix) and the panel
 * page at `/`.
 *
 * Started by `launcher.ts`, one process per node, with these environment variables:
 * - `OASIS_PG_URL`, `OASIS_DEMO_PREFIX`: the database and table prefix (migrated by the launcher);
 * - `OASIS_DEMO_NODE`: this node's number, for its id `node-<n>`;
 * - `OASIS_DEMO_PORT`: serve HTTP on this port (node 1), or empty for no HTTP;
 * - `OASIS_DEMO_BOOT`: an id of this start (node 1 enqueues a delayed task once per start).
 * SIGINT / SIGTERM stop it cleanly: no new runs, running handlers get 3 s, then the pool closes.
 */
import { Scheduler } from '@oasis/core';
import { fastifyAdmin } from '@oasis/http-admin/fastify';
import { createSqlStore } from '@oasis/store-sql';
import Fastify, { type FastifyInstance } from 'fastify';
import { demoAuthorize } from './auth';
import { printRuns, setUpShop } from './jobs';
import { buildPanelPage } from './page';

const pgUrl = process.env.OASIS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const tablePrefix = process.env.OASIS_DEMO_PREFIX ?? 'demo_';
const nodeNumber = Number(process.env.OASIS_DEMO_NODE ?? '1');
const port = process.env.OASIS_DEMO_PORT ? Number(process.env.OASIS_DEMO_PORT) : null;
const boot = process.env.OASIS_DEMO_BOOT ?? String(Date.now());
const nodeId = `node-${nodeNumber}`;

// A small pool per node: the example runs several nodes against one server.
const store = createSqlStore({ dialect: 'postgres', connectionString: pgUrl, tablePrefix, pool: { max: 4 } });
const scheduler = new Scheduler({ store, app: 'shop', nodeId, concurrency: 4, shutdownTimeout: '3s' });
setUpShop(scheduler);
printRuns(scheduler, nodeId);
scheduler.on('error', ({ error, during }) => {
  console.error(`[${nodeId}] oasis error during ${during}:`, error instanceof Error ? error.message : error);
});

await scheduler.start();

if (nodeNumber === 1) {
  const run = await scheduler.enqueue(
    'send-receipt',
    { to: 'customer@example.com' },
    { delay: '20s', idempotencyKey: `receipt:${boot}` },
  );
  console.log(`[${nodeId}] enqueued a delayed task (send-receipt, run ${run.id}) due in 20 s`);
}

let app: FastifyInstance | null = null;
if (port !== null) {
  const page = await buildPanelPage('Oasis · Fastify + PostgreSQL');
  // forceCloseConnections: close() also ends open live log tails instead of waiting for them.
  app = Fastify({ forceCloseConnections: true });
  await app.register(fastifyAdmin, { prefix: '/admin/oasis', scheduler, authorize: demoAuthorize });
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page.html));
  app.get('/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(page.js));
  await app.listen({ port, host: '127.0.0.1' });
  console.log(`[${nodeId}] serving the panel at http://localhost:${port}`);
}
console.log(`[${nodeId}] ready (handlers: ${scheduler.handlers.join(', ')})`);

let stopping = false;
/** Stops HTTP (live log tails included), then the scheduler, then the store, and exits. */
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await app?.close();
  await scheduler.stop({ timeoutMs: 3_000 });
  await store.close();
  console.log(`[${nodeId}] stopped`);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
// Started by the launcher: stop when it goes away, even if it was killed without a signal to us.
if (process.send !== undefined) process.on('disconnect', () => void shutdown());
