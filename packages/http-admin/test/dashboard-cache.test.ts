/**
 * The dashboard's shared reads: one read for concurrent requests, reused for `dashboardCacheMs`
 * on the handler's clock, never for the run list or run detail. Virtual time (core's `TestClock`),
 * deferred promises for "a read in progress": no sleeps.
 */
import { MemoryStore, Scheduler, type Store, TestClock } from '@oasis/core';
import { type AdminTextResponse, createAdminHandler } from '@oasis/http-admin';
import { afterEach, describe, expect, it } from 'vitest';
import { SingleFlightCache } from '../src/single-flight-cache';
import { deferred } from './support';

describe('SingleFlightCache', () => {
  it('shares one read among concurrent gets of a key', async () => {
    const clock = new TestClock();
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, clock });
    const gate = deferred<string>();
    let loads = 0;
    const load = () => {
      loads++;
      return gate.promise;
    };
    const answers = Array.from({ length: 50 }, () => cache.get('a', load));
    expect(loads).toBe(1);
    gate.resolve('value');
    expect(await Promise.all(answers)).toEqual(Array(50).fill('value'));
    expect(cache.reads).toBe(1);
  });

  it('reuses a value until ttlMs after its read started, then reads again', async () => {
    const clock = new TestClock();
    const cache = new SingleFlightCache<number>({ ttlMs: 1000, clock });
    let n = 0;
    const load = async () => ++n;
    expect(await cache.get('a', load)).toBe(1);
    await clock.advance(499);
    expect(await cache.get('a', load)).toBe(1);
    expect(cache.reads).toBe(1);
    // Nobody asked in the second half of its life: it expires, the next get reads (and waits).
    await clock.advance(501);
    expect(await cache.get('a', load)).toBe(2);
    expect(await cache.get('a', load)).toBe(2);
    expect(cache.reads).toBe(2);
  });

  it('refreshes ahead: past half its life a value is still served while its successor is read', async () => {
    const clock = new TestClock();
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, clock });
    expect(await cache.get('a', async () => 'first')).toBe('first');
    await clock.advance(500);
    const gate = deferred<string>();
    let loads = 0;
    const load = () => {
      loads++;
      return gate.promise;
    };
    expect(await cache.get('a', load)).toBe('first');
    await clock.advance(200);
    expect(await cache.get('a', load)).toBe('first');
    expect(loads).toBe(1);
    gate.resolve('second');
    await gate.promise;
    expect(await cache.get('a', load)).toBe('second');
    // The successor's age counts from when its read started (t = 500).
    await clock.advance(799);
    expect(await cache.get('a', async () => 'third')).toBe('second');
    expect(cache.reads).toBe(3);
  });

  it('never serves a value past ttlMs: a caller then joins the read ahead in progress', async () => {
    const clock = new TestClock();
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, clock });
    await cache.get('a', async () => 'old');
    await clock.advance(600);
    const gate = deferred<string>();
    expect(await cache.get('a', () => gate.promise)).toBe('old');
    await clock.advance(400);
    const late = cache.get('a', async () => 'not called');
    gate.resolve('new');
    expect(await late).toBe('new');
    expect(cache.reads).toBe(2);
  });

  it('keeps serving the current value when the read ahead fails, and reads again once it expires', async () => {
    const clock = new TestClock();
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, clock });
    await cache.get('a', async () => 'old');
    await clock.advance(500);
    const gate = deferred<string>();
    expect(await cache.get('a', () => gate.promise)).toBe('old');
    gate.reject(new Error('store down'));
    await gate.promise.catch(() => undefined);
    await clock.advance(100);
    expect(await cache.get('a', async () => 'not called')).toBe('old');
    expect(cache.reads).toBe(2);
    await clock.advance(400);
    expect(await cache.get('a', async () => 'back')).toBe('back');
    expect(cache.reads).toBe(3);
  });

  it('measures age from the start of the read, so a slow read is not kept longer', async () => {
    const clock = new TestClock();
    const cache = new SingleFlightCache<number>({ ttlMs: 1000, clock });
    const gate = deferred<number>();
    const first = cache.get('a', () => gate.promise);
    await clock.advance(1500);
    // Still in progress: joined, whatever its age.
    const joined = cache.get('a', async () => 99);
    gate.resolve(1);
    expect(await first).toBe(1);
    expect(await joined).toBe(1);
    // Settled, but started 1.5 s ago: read again.
    expect(await cache.get('a', async () => 2)).toBe(2);
  });

  it('keeps keys apart', async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, clock: new TestClock() });
    expect(await cache.get('a', async () => 'A')).toBe('A');
    expect(await cache.get('b', async () => 'B')).toBe('B');
    expect(await cache.get('a', async () => 'other')).toBe('A');
  });

  it('does not keep a failure: the joined callers get it, the next get reads again', async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, clock: new TestClock() });
    const gate = deferred<string>();
    const a = cache.get('k', () => gate.promise);
    const b = cache.get('k', async () => 'not called');
    gate.reject(new Error('store down'));
    await expect(a).rejects.toThrow('store down');
    await expect(b).rejects.toThrow('store down');
    expect(await cache.get('k', async () => 'back')).toBe('back');
    expect(cache.reads).toBe(2);
  });

  it('turns a load that throws synchronously into a rejected read', async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, clock: new TestClock() });
    await expect(
      cache.get('k', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(await cache.get('k', async () => 'ok')).toBe('ok');
  });

  it('with ttlMs 0 still shares a read in progress, but never reuses a settled one', async () => {
    const cache = new SingleFlightCache<number>({ ttlMs: 0, clock: new TestClock() });
    const gate = deferred<number>();
    const a = cache.get('k', () => gate.promise);
    const b = cache.get('k', async () => 99);
    gate.resolve(1);
    expect([await a, await b]).toEqual([1, 1]);
    expect(await cache.get('k', async () => 2)).toBe(2);
    expect(await cache.get('k', async () => 3)).toBe(3);
  });

  it('does not treat a clock that went back as fresh', async () => {
    let now = 10_000;
    const cache = new SingleFlightCache<number>({ ttlMs: 1000, clock: { now: () => now } });
    expect(await cache.get('k', async () => 1)).toBe(1);
    now = 5_000;
    expect(await cache.get('k', async () => 2)).toBe(2);
  });

  it('keeps at most maxEntries keys, dropping the oldest', async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, clock: new TestClock(), maxEntries: 2 });
    await cache.get('a', async () => 'a1');
    await cache.get('b', async () => 'b1');
    await cache.get('c', async () => 'c1');
    expect(await cache.get('b', async () => 'b2')).toBe('b1');
    expect(await cache.get('a', async () => 'a2')).toBe('a2');
  });
});

/** A store whose dashboard reads are counted (by `getHourlyTotals`, which only the dashboard calls). */
function countingStore(inner: Store): { store: Store; statsReads: () => number } {
  let reads = 0;
  const store = new Proxy(inner, {
    get(target, key) {
      if (key === 'getHourlyTotals') {
        return (...args: Parameters<Store['getHourlyTotals']>) => {
          reads++;
          return target.getHourlyTotals(...args);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, statsReads: () => reads };
}

describe('the dashboard route behind the cache', () => {
  const schedulers: Scheduler[] = [];
  afterEach(async () => {
    for (const s of schedulers.splice(0)) await s.store.close();
  });

  const setup = (options: { dashboardCacheMs?: number } = {}) => {
    const clock = new TestClock();
    const { store, statsReads } = countingStore(new MemoryStore());
    const scheduler = new Scheduler({ store, app: 'dash', remoteHandlers: '*' });
    schedulers.push(scheduler);
    const admin = createAdminHandler(scheduler, { auth: 'none', clock, ...options });
    const get = async (path: string, query: Record<string, string> = {}) => {
      const res = (await admin.handle({ method: 'GET', path, query, headers: {} })) as AdminTextResponse;
      expect(res.status).toBe(200);
      return JSON.parse(res.body);
    };
    return { clock, scheduler, admin, get, statsReads };
  };

  it('answers 50 concurrent dashboard requests with one read', async () => {
    const { get, statsReads } = setup();
    const answers = await Promise.all(Array.from({ length: 50 }, () => get('/dashboard')));
    expect(statsReads()).toBe(1);
    for (const a of answers) expect(a).toEqual(answers[0]);
  });

  it('serves data up to dashboardCacheMs old (default 1 s), never older', async () => {
    const { clock, scheduler, get, statsReads } = setup();
    expect((await get('/dashboard')).jobs.total).toBe(0);
    await scheduler.jobs.create({ key: 'fresh', handler: 'h' });
    await clock.advance(499);
    expect((await get('/dashboard')).jobs.total).toBe(0);
    expect(statsReads()).toBe(1);
    // Past half its life: still served, and the read that replaces it starts.
    await clock.advance(1);
    expect((await get('/dashboard')).jobs.total).toBe(0);
    expect(statsReads()).toBe(2);
    // At 1 s the first read is never served: the read ahead (done or joined) answers; started at
    // 500 ms, it is itself half its life old, so the read after it starts (3 reads in 1 s at most).
    await clock.advance(500);
    expect((await get('/dashboard')).jobs.total).toBe(1);
    expect(statsReads()).toBe(3);
  });

  it('keeps apps apart', async () => {
    const { get, statsReads } = setup();
    expect((await get('/dashboard')).app).toBe('dash');
    expect((await get('/dashboard', { app: 'other' })).app).toBe('other');
    expect((await get('/dashboard')).app).toBe('dash');
    expect(statsReads()).toBe(2);
  });

  it('with dashboardCacheMs 0 reads on every request', async () => {
    const { scheduler, get, statsReads } = setup({ dashboardCacheMs: 0 });
    await get('/dashboard');
    await scheduler.jobs.create({ key: 'fresh', handler: 'h' });
    expect((await get('/dashboard')).jobs.total).toBe(1);
    expect(statsReads()).toBe(2);
  });

  it('never caches the run list or run detail', async () => {
    const { scheduler, get } = setup();
    await scheduler.jobs.create({ key: 'j', handler: 'h' });
    expect((await get('/runs')).items).toEqual([]);
    const [run] = await scheduler.jobs.trigger('j');
    expect((await get('/runs')).items.map((r: { id: string }) => r.id)).toEqual([run!.id]);
    expect((await get(`/runs/${run!.id}`)).run.state).toBe('pending');
    await scheduler.cancel(run!.id);
    expect((await get(`/runs/${run!.id}`)).run.state).toBe('cancelled');
    expect((await get('/runs')).items[0].state).toBe('cancelled');
  });
});
