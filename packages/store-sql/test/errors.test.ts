/**
 * Error typing: driver errors of a server that cannot be reached become StoreUnavailableError
 * (safe to retry), everything else StoreError with the driver's error as cause; a real refused
 * connection on each server dialect; SQLite contention after the busy timeout is not
 * unavailability.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FencedError, StoreError, StoreUnavailableError } from '@oasis/core';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqlStore } from '../src/index';
import { isUnavailable, toOasisError } from '../src/map-error';
import { tempDir } from './helpers';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function coded(code: string, message = 'boom', extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

describe('driver error mapping', () => {
  it.each([
    ['refused', coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['reset', coded('ECONNRESET')],
    ['pg admin shutdown', coded('57P01', 'terminating connection due to administrator command')],
    ['pg cannot connect now', coded('57P03', 'the database system is starting up')],
    ['pg connection exception class 08', coded('08006')],
    ['pg terminated, no code', new Error('Connection terminated unexpectedly')],
    ['mysql lost', coded('PROTOCOL_CONNECTION_LOST')],
    ['mysql shutdown', coded('ER_SERVER_SHUTDOWN')],
    ['aggregate of refusals', Object.assign(new AggregateError([coded('ECONNREFUSED')]), {})],
    ['wrapped cause', new Error('outer', { cause: coded('ECONNRESET') })],
  ])('%s becomes StoreUnavailableError with the cause kept', (_, err) => {
    expect(isUnavailable(err)).toBe(true);
    const mapped = toOasisError(err, 'postgres', 'claimRuns');
    expect(mapped).toBeInstanceOf(StoreUnavailableError);
    expect(mapped.code).toBe('STORE_UNAVAILABLE');
    expect(mapped.cause).toBe(err);
    expect(mapped.message).toContain('claimRuns');
  });

  it.each([
    ['sqlite busy', coded('SQLITE_BUSY', 'database is locked')],
    ['syntax', coded('42601', 'syntax error')],
    ['unique', coded('23505', 'duplicate key')],
    ['mysql dup', coded('ER_DUP_ENTRY')],
    ['plain', new Error('something else')],
    ['not an error', 'a string'],
  ])('%s becomes StoreError', (_, err) => {
    const mapped = toOasisError(err, 'sqlite', 'saveJob');
    expect(mapped).toBeInstanceOf(StoreError);
    expect(mapped.cause).toBe(err);
  });

  it('Oasis errors pass through unchanged', () => {
    const fenced = new FencedError('node', 'stale');
    expect(toOasisError(fenced, 'mysql', 'heartbeat')).toBe(fenced);
  });
});

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('a database that is not there', () => {
  it('postgres: init on a refused port throws StoreUnavailableError', async () => {
    const port = await closedPort();
    const store = createSqlStore({
      dialect: 'postgres',
      connectionString: `postgres://postgres@127.0.0.1:${port}/x`,
    });
    await expect(store.init()).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.close();
  });

  it('mysql: init on a refused port throws StoreUnavailableError', async () => {
    const port = await closedPort();
    const store = createSqlStore({ dialect: 'mysql', uri: `mysql://root@127.0.0.1:${port}/x` });
    await expect(store.init()).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.close();
  });

  it('sqlite: a write lock held past the busy timeout is a StoreError, not unavailability', async () => {
    const file = join(tmp.dir, 'busy.db');
    const store = createSqlStore({ dialect: 'sqlite', filename: file, migrate: true, busyTimeoutMs: 50 });
    await store.init();
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      const err = await store
        .appendAudit({
          app: 'a',
          actor: 'x',
          action: 'y',
          targetType: 'app',
          targetId: 'a',
          before: null,
          after: null,
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(StoreError);
      expect(err).not.toBeInstanceOf(StoreUnavailableError);
      expect(String((err as Error).message)).toMatch(/locked|busy/i);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    // and the store goes on once the lock is gone
    expect((await store.listAudit({ app: 'a' })).items).toEqual([]);
    await store.close();
  });

  it('a closed store refuses calls with StoreClosedError', async () => {
    const store = createSqlStore({ dialect: 'sqlite', filename: ':memory:', migrate: true });
    await store.init();
    await store.close();
    await store.close();
    await expect(store.now()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    await expect(store.init()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });
});
