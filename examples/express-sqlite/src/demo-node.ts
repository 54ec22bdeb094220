/**
 * One node of the demo: an Oasis scheduler on the shared SQLite file and, when given a port, an
 * Express app serving the admin API at `/admin/oasis` and the panel page at `/`.
 *
 * Started by `launcher.ts` (one process per node) with these environment variables:
 * - `OASIS_DEMO_DB`: the SQLite file (already migrated by the launcher);
 * - `OASIS_DEMO_NODE`: this node's number (1, 2, 3), used for its id `node-<n>`;
 * - `OASIS_DEMO_PORT`: serve HTTP on this port (node 1), or empty for no HTTP;
 * - `OASIS_DEMO_PUBLIC`: the directory of the panel page (built by the launcher);
 * - `OASIS_DEMO_BOOT`: an id of this demo start (node 1 enqueues a delayed task once per start).
 * SIGINT / SIGTERM stop it cleanly: no new runs, running handlers get 3 s, then the store closes.
 */
import type { Server } from 'node:http';
import { Scheduler } from '@oasis/core';
import { expressAdmin } from '@oasis/http-admin/express';
import { createSqlStore } from '@oasis/store-sql';
import express from 'express';
import { demoAuthorize } from './demo-auth';
import { setUpDemo } from './demo-jobs';

const dbFile = process.env.OASIS_DEMO_DB ?? '.oasis/demo.db';
const nodeNumber = Number(process.env.OASIS_DEMO_NODE ?? '1');
const port = process.env.OASIS_DEMO_PORT ? Number(process.env.OASIS_DEMO_PORT) : null;
const publicDir = process.env.OASIS_DEMO_PUBLIC ?? null;
const boot = process.env.OASIS_DEMO_BOOT ?? String(Date.now());
const nodeId = `node-${nodeNumber}`;

const store = createSqlStore({ dialect: 'sqlite', filename: dbFile });
const scheduler = new Scheduler({ store, app: 'demo', nodeId, concurrency: 4, shutdownTimeout: '3s' });
setUpDemo(scheduler);
scheduler.on('error', ({ error, during }) => {
  console.error(`[${nodeId}] oasis error during ${during}:`, error instanceof Error ? error.message : error);
});

await scheduler.start();

if (nodeNumber === 1) {
  const run = await scheduler.enqueue(
    'send-email',
    { to: 'new-user@example.com' },
    { delay: '30s', idempotencyKey: `welcome-email:${boot}` },
  );
  console.log(`[${nodeId}] enqueued a delayed task (send-email, run ${run.id}) due in 30 s`);
}

let server: Server | null = null;
if (port !== null) {
  const app = express();
  app.disable('x-powered-by');
  app.use('/admin/oasis', expressAdmin(scheduler, { authorize: demoAuthorize }));
  if (publicDir !== null) app.use(express.static(publicDir, { index: 'index.html' }));
  server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  console.log(`[${nodeId}] serving the panel at http://localhost:${port}`);
}
console.log(`[${nodeId}] ready (handlers: ${scheduler.handlers.join(', ')})`);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (server !== null) {
    const s = server;
    // Live log tails keep connections open: close them so the server can stop.
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
