import { afterEach, describe, expect, it } from 'vitest';
import type { RunContext } from '../../src/index';
import { Harness, T0 } from './harness';

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());

describe('firing schedules on virtual time', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  it('cron with seconds fires each time, exactly once, never early', async () => {
    h = new Harness();
    const s = h.scheduler();
    const starts: number[] = [];
    s.handle('tick', (ctx) => {
      starts.push(h.clock.now());
      expect(ctx.trigger).toBe('schedule');
      expect(ctx.jobKey).toBe('every-10s');
    });
    s.job({ key: 'every-10s', handler: 'tick', schedule: '*/10 * * * * *' });
    await s.start();
    await h.advance(9_999);
    expect(starts).toEqual([]);
    await h.advance(1);
    expect(starts).toEqual([T0 + 10_000]);
    await h.advance(50_000);
    expect(starts).toEqual([1, 2, 3, 4, 5, 6].map((i) => T0 + i * 10_000));
    const runs = await h.runs({ jobKey: 'every-10s' });
    expect(runs.map((r) => r.state)).toEqual(Array(6).fill('succeeded'));
    expect(runs.map((r) => r.scheduledFor)).toEqual(starts);
    expect(new Set(runs.map((r) => r.idempotencyKey)).size).toBe(6);
    expect(runs[0]!.idempotencyKey).toBe(`fire:every-10s:${T0 + 10_000}:0`);
    const job = await s.jobs.get('every-10s');
    expect(job?.nextFireAt).toBe(T0 + 70_000);
    expect(job?.lastFireAt).toBe(T0 + 60_000);
    expect(h.eventsOf('job:fired')).toHaveLength(6);
    expect(h.eventsOf('error')).toEqual([]);
  });

  it('every: fixed rate aligned on the first fire, even when a run takes longer than the period', async () => {
    h = new Harness();
    const s = h.scheduler();
    const starts: number[] = [];
    s.handle('slow', async (ctx: RunContext) => {
      starts.push(h.clock.now());
      // Runs until aborted: longer than the period.
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    });
    s.job({ key: 'rate', handler: 'slow', schedule: { every: '3s' }, block: 'parallel' });
    await s.start();
    await h.advance(12_000);
    expect(starts).toEqual([3_000, 6_000, 9_000, 12_000].map((d) => T0 + d));
  });

  it('delay-after: the next fire is the delay after the previous run ended', async () => {
    h = new Harness();
    const s = h.scheduler();
    const starts: number[] = [];
    let release: (() => void) | null = null;
    s.handle('work', async () => {
      starts.push(h.clock.now());
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    s.job({ key: 'after', handler: 'work', schedule: { delayAfter: '10s' } });
    await s.start();
    await h.advance(10_000);
    expect(starts).toEqual([T0 + 10_000]);
    expect((await s.jobs.get('after'))?.nextFireAt).toBeNull(); // waiting for its run to end
    await h.advance(7_000); // the run lasts 7 s
    release!();
    await h.clock.flush();
    expect((await s.jobs.get('after'))?.nextFireAt).toBe(T0 + 27_000);
    await h.advance(9_999);
    expect(starts).toHaveLength(1);
    await h.advance(1);
    expect(starts).toEqual([T0 + 10_000, T0 + 27_000]);
  });

  it('at: fires once, then has no next fire time', async () => {
    h = new Harness();
    const s = h.scheduler();
    const starts: number[] = [];
    s.handle('once', () => {
      starts.push(h.clock.now());
    });
    s.job({ key: 'launch', handler: 'once', schedule: { at: new Date(T0 + 90_000) } });
    await s.start();
    await h.advance(89_999);
    expect(starts).toEqual([]);
    await h.advance(60_001);
    expect(starts).toEqual([T0 + 90_000]);
    const job = await s.jobs.get('launch');
    expect(job?.nextFireAt).toBeNull();
    expect(job?.lastFireAt).toBe(T0 + 90_000);
  });

  it('manual: never fires by itself; trigger runs it with a params override', async () => {
    h = new Harness();
    const s = h.scheduler();
    const seen: unknown[] = [];
    s.handle('manual', (ctx) => {
      seen.push([ctx.trigger, ctx.params]);
    });
    s.job({ key: 'by-hand', handler: 'manual', params: { a: 1 } });
    await s.start();
    await h.advance(600_000);
    expect(seen).toEqual([]);
    expect((await s.jobs.get('by-hand'))?.nextFireAt).toBeNull();
    await s.jobs.trigger('by-hand');
    await s.jobs.trigger('by-hand', { params: { a: 2 } });
    await h.clock.flush();
    expect(seen).toEqual([
      ['manual', { a: 1 }],
      ['manual', { a: 2 }],
    ]);
  });

  it('DST spring forward (Europe/Paris): the missing 02:30 fires once, at 03:30 CEST', async () => {
    h = new Harness(Date.parse('2030-03-30T12:00:00Z'));
    const s = h.scheduler({
      heartbeatInterval: '1h',
      runLease: '2h',
      pollInterval: '1h',
      reapInterval: '1h',
    });
    const starts: string[] = [];
    s.handle('nightly', () => {
      starts.push(iso(h.clock.now())!);
    });
    s.job({ key: 'nightly', handler: 'nightly', schedule: { cron: '0 30 2 * * *', tz: 'Europe/Paris' } });
    await s.start();
    await h.advance(3 * 86_400_000);
    expect(starts).toEqual([
      '2030-03-31T01:30:00.000Z', // 03:30 CEST: 02:30 does not exist that night
      '2030-04-01T00:30:00.000Z', // 02:30 CEST
      '2030-04-02T00:30:00.000Z',
    ]);
    const runs = await h.runs();
    expect(runs.map((r) => r.trigger)).toEqual(['schedule', 'schedule', 'schedule']);
  });

  it('DST fall back (Europe/Paris): the 02:30 that happens twice fires once', async () => {
    h = new Harness(Date.parse('2030-10-26T12:00:00Z'));
    const s = h.scheduler({
      heartbeatInterval: '1h',
      runLease: '2h',
      pollInterval: '1h',
      reapInterval: '1h',
    });
    const starts: string[] = [];
    s.handle('nightly', () => {
      starts.push(iso(h.clock.now())!);
    });
    s.job({ key: 'nightly', handler: 'nightly', schedule: { cron: '0 30 2 * * *', tz: 'Europe/Paris' } });
    await s.start();
    await h.advance(2 * 86_400_000);
    expect(starts).toEqual([
      '2030-10-27T01:30:00.000Z', // 02:30 CET, the second 02:30; the first (00:30Z) does not fire
      '2030-10-28T01:30:00.000Z',
    ]);
  });

  it.each([
    ['spring forward', '2030-03-09T12:00:00Z', ['2030-03-10T07:30:00.000Z', '2030-03-11T06:30:00.000Z']],
    // Fall back on 2030-11-03: 02:30 EST once (07:30Z), not at 06:30Z (EDT) as well.
    ['fall back', '2030-11-02T12:00:00Z', ['2030-11-03T07:30:00.000Z', '2030-11-04T07:30:00.000Z']],
  ])('DST in America/New_York (%s): a 02:30 daily job fires once', async (_name, start, expected) => {
    h = new Harness(Date.parse(start));
    const s = h.scheduler({
      heartbeatInterval: '6h',
      runLease: '12h',
      pollInterval: '6h',
      reapInterval: '6h',
    });
    const starts: string[] = [];
    s.handle('nightly', () => {
      starts.push(iso(h.clock.now())!);
    });
    s.job({ key: 'nightly', handler: 'nightly', schedule: { cron: '30 2 * * *', tz: 'America/New_York' } });
    await s.start();
    await h.advance(2 * 86_400_000);
    expect(starts).toEqual(expected);
  });

  it('sharded jobs make one run per shard, with the shard in the context', async () => {
    h = new Harness();
    const s = h.scheduler();
    const shards: string[] = [];
    s.handle('part', (ctx) => {
      shards.push(`${ctx.shard.index}/${ctx.shard.total}`);
    });
    s.job({ key: 'split', handler: 'part', schedule: { every: '1m' }, shards: 3, block: 'parallel' });
    await s.start();
    await h.advance(60_000);
    expect(shards.sort()).toEqual(['0/3', '1/3', '2/3']);
  });

  it('a disabled job does not fire; enabling restarts its fire times from now', async () => {
    h = new Harness();
    const s = h.scheduler();
    let count = 0;
    s.handle('tick', () => {
      count++;
    });
    s.job({ key: 'tick', handler: 'tick', schedule: { every: '10s' } });
    await s.start();
    await s.jobs.disable('tick');
    await h.advance(60_000);
    expect(count).toBe(0);
    const enabled = await s.jobs.enable('tick');
    expect(enabled.nextFireAt).toBe(T0 + 70_000);
    await h.advance(10_000);
    expect(count).toBe(1);
    expect((await h.runs()).map((r) => r.trigger)).toEqual(['schedule']);
  });
});
