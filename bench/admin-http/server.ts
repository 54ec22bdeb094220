/**
 * The admin server of the HTTP benchmark, run as a child process (so the load generator does not
 * share its event loop): Express with `expressAdmin(scheduler, { auth: 'none' })` mounted at
 * `/admin`, over the seeded store. The scheduler is not started: the admin API only reads
 * through `scheduler.store` (the runtime-guarded store), as on a node that also serves the panel.
 *
 * argv[2]: JSON `{ kind, prefix, config }`. Tells its parent `{ port }` over IPC when listening,
 * answers `{ cpu: true }` with `{ cpuMs }` (its user + system CPU time so far); closes on
 * `disconnect` or SIGTERM.
 */
import type { AddressInfo } from 'node:net';
import { Scheduler } from '@oasis/core';
import { expressAdmin } from '@oasis/http-admin/express';
import express from 'express';
import type { BenchConfig } from '../lib/config';
import { openSeedStore, SEED_APP, type SeedKind } from '../listing/seed';

/** What the parent passes to the server. */
export interface ServerArgs {
  kind: SeedKind;
  prefix: string;
  config: BenchConfig;
  /** The admin handler's `dashboardCacheMs` (its default when absent). */
  dashboardCacheMs?: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ServerArgs;
  const store = await openSeedStore({
    kind: args.kind,
    prefix: args.prefix,
    config: args.config,
    count: 0,
    days: 0,
  });
  const scheduler = new Scheduler({ store, app: SEED_APP, nodeId: `admin-bench-${process.pid}` });
  const app = express();
  app.disable('x-powered-by');
  app.use(
    '/admin',
    expressAdmin(scheduler, {
      auth: 'none',
      ...(args.dashboardCacheMs === undefined ? {} : { dashboardCacheMs: args.dashboardCacheMs }),
    }),
  );
  const server = app.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.send?.({ port });
  });
  server.keepAliveTimeout = 60_000;
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    server.close();
    server.closeAllConnections();
    // requests still in their handlers finish against the open store
    setTimeout(() => void store.close().finally(() => process.exit(0)), 10_000).unref();
  };
  // the parent asks for this process's CPU time around each route, to get CPU ms per request
  process.on('message', (m: { cpu?: boolean }) => {
    if (m.cpu) {
      const u = process.cpuUsage();
      process.send?.({ cpuMs: (u.user + u.system) / 1000 });
    }
  });
  process.on('disconnect', close);
  process.on('SIGTERM', close);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
