/**
 * A real PostgreSQL restart under a live store: the test runs its OWN server (initdb on a spare
 * loopback port, as the `postgres` OS user when run as root), never the shared one. While the
 * server is down every call fails with `StoreUnavailableError`; when it is back the same store
 * works again, its data intact, and its LISTEN connection has reconnected by itself (waking its
 * subscribers) and hears NOTIFYs again.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOasisError, type StoreEvent, StoreUnavailableError } from '@oasis/core';
import { nodeInfo, runDraft } from '@oasis/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqlStore, type SqlStore } from '../src/index';

const BIN = process.env.OASIS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const haveBinaries = existsSync(join(BIN, 'initdb')) && existsSync(join(BIN, 'pg_ctl'));
if (!haveBinaries) {
  if (process.env.CI === 'true')
    throw new Error(`PostgreSQL binaries not found in ${BIN}: CI=true requires them`);
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPING the PostgreSQL restart test: no initdb/pg_ctl in ${BIN} (set OASIS_PG_BIN).\n${'!'.repeat(78)}\n`,
  );
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary, as the `postgres` user when we are root (PostgreSQL refuses root). */
function pgBin(name: string, args: string[]): string {
  const cmd = join(BIN, name);
  const out = asRoot
    ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8', stdio: 'pipe' })
    : execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' });
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Skipped only without initdb/pg_ctl: warned loudly above, and a failure under CI=true.
describe.skipIf(!haveBinaries)('postgres restart (own server)', () => {
  let dir = '';
  let data = '';
  let port = 0;
  let store: SqlStore | null = null;

  const start = () =>
    pgBin('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      '-w',
      '-t',
      '30',
      'start',
    ]);
  const stop = (mode: 'fast' | 'immediate') => pgBin('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oasis-pg-restart-'));
    data = join(dir, 'data');
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    pgBin('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    port = await freePort();
    start();
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    if (data && existsSync(join(data, 'postmaster.pid'))) {
      try {
        stop('immediate');
      } catch {
        // already down
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('surfaces StoreUnavailableError while the server is down and recovers when it is back', async () => {
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    store = createSqlStore({ dialect: 'postgres', connectionString: url, migrate: true, tablePrefix: 'rs_' });
    await store.init();
    const app = 'restart_app';
    const node = await store.registerNode(nodeInfo(app, 'n1'));
    const [first] = await store.enqueueRuns([runDraft(app, { idempotencyKey: 'before-restart' })]);
    const events: StoreEvent[] = [];
    store.subscribe(app, (e) => events.push(e));

    stop('fast');

    // every kind of call fails typed: a read, a write, the clock
    for (const call of [
      () => store!.now(),
      () => store!.getRun(first!.run.id),
      () => store!.enqueueRuns([runDraft(app)]),
      () =>
        store!.claimRuns({
          app,
          nodeId: 'n1',
          incarnation: node.incarnation,
          handlers: ['h'],
          limit: 5,
          leaseMs: 60_000,
        }),
    ]) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(isOasisError(err, 'STORE_UNAVAILABLE')).toBe(true);
      expect((err as Error).cause).toBeDefined();
    }

    events.length = 0;
    start();

    // the LISTEN connection comes back by itself and wakes subscribers (notifications sent while
    // it was down are lost, so they must look for work)
    await waitFor('a wake-up after the LISTEN connection came back', async () =>
      events.some((e) => e.type === 'runs' && e.app === app),
    );

    // the same store instance works again once the server accepts connections
    await waitFor('the store to work again', async () => (await store!.now()) > 0);
    const again = await store.getRun(first!.run.id);
    expect(again?.idempotencyKey).toBe('before-restart');
    const [dup] = await store.enqueueRuns([runDraft(app, { idempotencyKey: 'before-restart' })]);
    expect(dup!.created).toBe(false);
    const claimed = await store.claimRuns({
      app,
      nodeId: 'n1',
      incarnation: node.incarnation,
      handlers: ['h'],
      limit: 5,
      leaseMs: 60_000,
    });
    expect(claimed.map((r) => r.id)).toEqual([first!.run.id]);

    // and it listens again: a NOTIFY from another process reaches us
    events.length = 0;
    const pg = (await import('pg')).default;
    const other = new pg.Client({ connectionString: url });
    other.on('error', () => undefined);
    await other.connect();
    try {
      await waitFor(
        'a notification after the restart',
        async () => {
          await other.query('select pg_notify($1, $2)', [
            'rs_events',
            JSON.stringify({ type: 'jobs', app, source: 'another-process' }),
          ]);
          await new Promise((r) => setTimeout(r, 100));
          return events.some((e) => e.type === 'jobs' && e.app === app);
        },
        30_000,
      );
    } finally {
      await other.end();
    }

    // an immediate stop (a crash) is unavailability too
    stop('immediate');
    await expect(store.now()).rejects.toBeInstanceOf(StoreUnavailableError);
    start();
    await waitFor('the store to work after the crash', async () => (await store!.now()) > 0);
    expect((await store.getRun(first!.run.id))?.state).toBe('running');
  }, 120_000);
});
