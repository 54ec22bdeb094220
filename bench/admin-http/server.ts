/**
 * The admin server of the HTTP benchmark, run as a child process (so the load generator does not
 * share its event loop): Express with `expressAdmin(scheduler, { auth: 'none' })` mounted at
 * `/admin` (or Fastify with `fastifyAdmin`, prefix `/admin`), over the seeded store. The
 * scheduler is not started: the admin API only reads through `scheduler.store` (the
 * runtime-guarded store), as on a node that also serves the panel. With `instances` above 1 it is
 * a `node:cluster` primary whose workers each serve the same port.
 *
 * argv[2]: JSON `ServerArgs`. Tells its parent `{ port }` over IPC when listening, answers
 * `{ cpu: true }` with `{ cpuMs }` (its user + system CPU time so far, its workers' included);
 * closes on `disconnect` or SIGTERM.
 */
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { Scheduler } from '@oasis/core';
import { expressAdmin } from '@oasis/http-admin/express';
import { fastifyAdmin } from '@oasis/http-admin/fastify';
import express from 'express';
import Fastify from 'fastify';
import type { BenchConfig } from '../lib/config';
import { pidsCpuMs } from '../lib/cpu';
import { openSeedStore, SEED_APP, type SeedKind } from '../listing/seed';
import { ADMIN_BENCH_APP_NAME } from './run';

/** What the parent passes to the server. */
export interface ServerArgs {
  kind: SeedKind;
  prefix: string;
  config: BenchConfig;
  /** The admin handler's `dashboardCacheMs` (its default when absent). */
  dashboardCacheMs?: number;
  /** The framework the admin API is mounted on (default `express`). */
  mount?: 'express' | 'fastify';
  /**
   * How many app instances serve the port (default 1): above 1, this process is a `node:cluster`
   * primary that forks that many workers, each with its own store (and pool), as a user running
   * several instances of the app would; its CPU time is then its own plus its workers'.
   */
  instances?: number;
  /** PostgreSQL's pool size per instance (the store's default, `defaultPoolSize()`, when absent). */
  pgPoolMax?: number;
}

/** Serves the admin API in this process; resolves with the port once listening, and the closer. */
async function serve(args: ServerArgs): Promise<{ port: number; close: () => void }> {
  // named, so the benchmark can find this server's PostgreSQL backends (their CPU time)
  const pgUrl = new URL(args.config.pgUrl);
  pgUrl.searchParams.set('application_name', ADMIN_BENCH_APP_NAME);
  const store = await openSeedStore(
    {
      kind: args.kind,
      prefix: args.prefix,
      config: { ...args.config, pgUrl: pgUrl.toString() },
      count: 0,
      days: 0,
    },
    undefined,
    args.pgPoolMax,
  );
  const scheduler = new Scheduler({ store, app: SEED_APP, nodeId: `admin-bench-${process.pid}` });
  const options = {
    auth: 'none' as const,
    ...(args.dashboardCacheMs === undefined ? {} : { dashboardCacheMs: args.dashboardCacheMs }),
  };
  // requests still in their handlers finish against the open store
  const closeStore = () =>
    setTimeout(() => void store.close().finally(() => process.exit(0)), 10_000).unref();
  if (args.mount === 'fastify') {
    const app = Fastify({ keepAliveTimeout: 60_000 });
    await app.register(fastifyAdmin, { prefix: '/admin', scheduler, ...options });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return {
      port,
      close: () => {
        app.server.closeAllConnections();
        void app.close();
        closeStore();
      },
    };
  }
  const app = express();
  app.disable('x-powered-by');
  app.use('/admin', expressAdmin(scheduler, options));
  const server = app.listen(0, '127.0.0.1');
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () => {
      server.close();
      server.closeAllConnections();
      closeStore();
    },
  };
}

/** The cluster primary: forks the workers, tells the parent the shared port, sums their CPU. */
async function primary(instances: number): Promise<void> {
  const workers = Array.from({ length: instances }, () => cluster.fork());
  const ports = await Promise.all(
    workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.once('exit', (code) => reject(new Error(`an admin server worker exited with ${code}`)));
          w.on('message', (m: { port?: number }) => {
            if (typeof m.port === 'number') resolve(m.port);
          });
        }),
    ),
  );
  process.send?.({ port: ports[0] });
  process.on('message', (m: { cpu?: boolean }) => {
    if (m.cpu) {
      const u = process.cpuUsage();
      const pids = workers.map((w) => w.process.pid).filter((pid): pid is number => pid !== undefined);
      process.send?.({ cpuMs: (u.user + u.system) / 1000 + pidsCpuMs(pids) });
    }
  });
  const close = () => {
    for (const w of workers) w.disconnect();
    setTimeout(() => process.exit(0), 11_000).unref();
  };
  process.on('disconnect', close);
  process.on('SIGTERM', close);
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ServerArgs;
  const instances = args.instances ?? 1;
  if (instances > 1 && cluster.isPrimary) return primary(instances);
  const { port, close } = await serve(args);
  // a worker tells its primary; a single server tells the benchmark
  process.send?.({ port });
  let closing = false;
  const closeOnce = () => {
    if (closing) return;
    closing = true;
    close();
  };
  // the parent asks for this process's CPU time around each route, to get CPU ms per request
  process.on('message', (m: { cpu?: boolean }) => {
    if (m.cpu) {
      const u = process.cpuUsage();
      process.send?.({ cpuMs: (u.user + u.system) / 1000 });
    }
  });
  process.on('disconnect', closeOnce);
  process.on('SIGTERM', closeOnce);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
