/**
 * History retention: the leader deletes old final runs per the `retention` option, in batches,
 * never pending or running ones. On the TestClock, by counts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/index';
import { deferred, Harness } from './harness';

const HOUR = 3_600_000;

describe('retention', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  /** A started scheduler that has run `n` no-op tasks to the end, and holds one more running. */
  async function withHistory(options: Parameters<Harness['scheduler']>[0], n: number) {
    const s = h.scheduler({ concurrency: 5, ...options });
    const hold = deferred();
    s.handle('w', (ctx) => ((ctx.params as { hold?: boolean }).hold ? hold.promise : undefined));
    await s.start();
    for (let i = 0; i < n; i++) await s.enqueue('w', { i });
    await h.advance(2_000);
    await s.enqueue('w', { hold: true });
    await h.advance(1_000);
    expect((await h.runs({ states: ['succeeded'] })).length).toBe(n);
    return { s, hold };
  }

  it('the leader deletes final runs older than maxAge; running ones stay', async () => {
    h = new Harness();
    const { hold } = await withHistory({ retention: { maxAge: '1h' } }, 4);
    await h.advance(30 * 60_000);
    expect((await h.runs({ states: ['succeeded'] })).length).toBe(4);
    await h.advance(HOUR);
    expect((await h.runs({ states: ['succeeded'] })).length).toBe(0);
    expect((await h.runs({ states: ['running'] })).length).toBe(1);
    expect(h.eventsOf('history:pruned').reduce((n, e) => n + e.deleted, 0)).toBe(4);
    hold.resolve();
  });

  it('keepLast alone keeps the newest N final runs', async () => {
    h = new Harness();
    const { hold } = await withHistory({ retention: { keepLast: 3 } }, 7);
    await h.advance(2 * 60_000);
    expect((await h.runs({ states: ['succeeded'] })).length).toBe(3);
    hold.resolve();
  });

  it('false never prunes; the default prunes (by 30 days) on the leader once a minute', async () => {
    for (const retention of [false, undefined] as const) {
      h = new Harness();
      let prunes = 0;
      const store = new Proxy(h.store, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function') return value;
          if (prop === 'prune') {
            return (...args: unknown[]) => {
              prunes++;
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return value.bind(target);
        },
      });
      const { hold } = await withHistory(retention === false ? { store, retention } : { store }, 2);
      await h.advance(3 * 60_000);
      if (retention === false) expect(prunes).toBe(0);
      else expect(prunes).toBeGreaterThanOrEqual(3);
      expect((await h.runs({ states: ['succeeded'] })).length).toBe(2);
      hold.resolve();
      await h.stopAll();
    }
  });

  it('refuses a retention that says nothing or names an unknown key', () => {
    h = new Harness();
    expect(() => h.scheduler({ retention: {} })).toThrow(ValidationError);
    expect(() => h.scheduler({ retention: { maxAge: '1h', keep: 3 } as never })).toThrow(
      /options\.retention\.keep/,
    );
    expect(() => h.scheduler({ retention: { maxAge: '10ms' } })).toThrow(/at least 1 s/);
  });
});
