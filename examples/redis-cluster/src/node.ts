/**
 * One node of the example: an Oasis scheduler on Redis and, on node 1, an Express app with the
 * admin API at `/admin/oasis` (`expressAdmin`, behind a bearer token) and the panel page at `/`.
 *
 * Started by `launcher.ts`, one process per node, with these environment variables:
 * - `OASIS_REDIS_URL`, `OASIS_DEMO_PREFIX`: the Redis and the key prefix;
 * - `OASIS_DEMO_NODE`: this node's number, for its id `node-<n>`;
 * - `OASIS_DEMO_PORT`: serve HTTP on this port (node 1), or empty for no HTTP;
 * - `OASIS_DEMO_TOKEN`: the admin API's bearer token;
 * - `OASIS_DEMO_BOOT`: an id of this start (node 1 enqueues a delayed task once per start).
 * SIGINT / SIGTERM stop it cleanly: no new runs, running handlers get 3 s, then the store closes.
 */
import type { Server } from 'node:http';
import { Scheduler } from '@oasis/core';
import { expressAdmin } from '@oasis/http-admin/express';
import { createRedisStore } from '@oasis/store-redis';
import express from 'express';
import { bearerAuthorize } from './auth';
import { printRuns, setUpCluster } from './jobs';
import { buildPanelPage } from './page';

const redisUrl = process.env.OASIS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.OASIS_DEMO_PREFIX ?? 'oasis-demo';
const nodeNumber = Number(process.env.OASIS_DEMO_NODE ?? '1');
const port = process.env.OASIS_DEMO_PORT ? Number(process.env.OASIS_DEMO_PORT) : null;
const token = process.env.OASIS_DEMO_TOKEN ?? '';
const boot = process.env.OASIS_DEMO_BOOT ?? String(Date.now());
const nodeId = `node-${nodeNumber}`;

const store = createRedisStore({ url: redisUrl, prefix });
const scheduler = new Scheduler({
  store,
  app: 'cluster-demo',
  nodeId,
  concurrency: 4,
  shutdownTimeout: '3s',
});
setUpCluster(scheduler, nodeId);
printRuns(scheduler, nodeId);
scheduler.on('error', ({ error, during }) => {
  console.error(`[${nodeId}] oasis error during ${during}:`, error instanceof Error ? error.message : error);
});

await scheduler.start();

if (nodeNumber === 1) {
  const run = await scheduler.enqueue(
    'send-welcome',
    { to: 'new-user@example.com' },
    { delay: '20s', idempotencyKey: `welcome:${boot}` },
  );
  console.log(`[${nodeId}] enqueued a delayed task (send-welcome, run ${run.id}) due in 20 s`);
}

let server: Server | null = null;
if (port !== null) {
  if (token === '') throw new Error('OASIS_DEMO_TOKEN is empty: the launcher sets it');
  const page = await buildPanelPage('Oasis · Redis cluster');
  const app = express();
  app.disable('x-powered-by');
  app.use('/admin/oasis', expressAdmin(scheduler, { authorize: bearerAuthorize(token) }));
  app.get('/', (_req, res) => {
    res.type('html').send(page.html);
  });
  app.get('/app.js', (_req, res) => {
    res.type('js').send(page.js);
  });
  server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  console.log(`[${nodeId}] serving the panel at http://localhost:${port}`);
}
console.log(`[${nodeId}] ready (handlers: ${scheduler.handlers.join(', ')})`);

let stopping = false;
/** Stops HTTP (live log tails included), then the scheduler, then the store, and exits. */
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (server !== null) {
    const s = server;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await closed;
  }
  await scheduler.stop({ timeoutMs: 3_000 });
  await store.close();
  console.log(`[${nodeId}] stopped`);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
// Started by the launcher: stop when it goes away, even if it was killed without a signal to us.
if (process.send !== undefined) process.on('disconnect', () => void shutdown());
