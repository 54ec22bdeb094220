import { afterEach, describe, expect, it } from 'vitest';
import type { JobSpec, MisfirePolicy } from '../../src/index';
import { Harness, T0 } from './harness';

/**
 * A job every 10 s on scheduler A; A stops at T0+5s; 60 s pass with no node (fire times
 * T0+10s … T0+60s are missed: 6); scheduler B starts at T0+65s.
 */
async function missSixFires(policy: MisfirePolicy, extra: Partial<JobSpec> = {}, options = {}) {
  const h = new Harness();
  const starts: number[] = [];
  const declare = (s: ReturnType<Harness['scheduler']>) => {
    s.handle('tick', (ctx) => {
      starts.push(ctx.scheduledFor - T0);
    });
    s.job({ key: 'tick', handler: 'tick', schedule: { every: '10s' }, misfire: policy, ...extra });
  };
  const a = h.scheduler(options);
  declare(a);
  await a.start();
  await h.advance(5_000);
  await a.stop();
  await h.advance(60_000);
  const b = h.scheduler(options);
  declare(b);
  await b.start();
  await h.clock.flush();
  return { h, b, starts };
}

describe('misfire policies', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  it('skip: one skipped run says how many were missed; nothing runs; the next fire is the first after now', async () => {
    const r = await missSixFires('skip');
    h = r.h;
    const runs = await h.runs();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ state: 'skipped', trigger: 'misfire', scheduledFor: T0 + 10_000 });
    expect(runs[0]!.reason).toContain('6 fire time(s) missed');
    expect(r.starts).toEqual([]);
    expect((await r.b.jobs.get('tick'))?.nextFireAt).toBe(T0 + 70_000);
    expect(h.eventsOf('run:skipped')).toHaveLength(1);
    expect(h.eventsOf('job:fired').at(-1)).toMatchObject({ missed: 6, misfired: true });
    await h.advance(5_000);
    expect(r.starts).toEqual([70_000]); // back on schedule
  });

  it('fire-once (default): one run with trigger misfire for the whole gap', async () => {
    const r = await missSixFires('fire-once');
    h = r.h;
    const runs = await h.runs();
    expect(runs.map((x) => [x.trigger, x.state, x.scheduledFor - T0])).toEqual([
      ['misfire', 'succeeded', 60_000],
    ]);
    expect(r.starts).toEqual([60_000]);
    expect((await r.b.jobs.get('tick'))?.nextFireAt).toBe(T0 + 70_000);
  });

  it('fire-all: one run per missed time up to the bound; the rest recorded as skipped', async () => {
    const r = await missSixFires('fire-all', { block: 'parallel' }, { maxCatchUp: 4 });
    h = r.h;
    const runs = await h.runs();
    expect(runs.map((x) => [x.trigger, x.state, x.scheduledFor - T0])).toEqual([
      ['misfire', 'succeeded', 10_000],
      ['misfire', 'succeeded', 20_000],
      ['misfire', 'succeeded', 30_000],
      ['misfire', 'succeeded', 40_000],
      ['misfire', 'skipped', 50_000],
    ]);
    expect(runs[4]!.reason).toContain('2 fire time(s) beyond the catch-up bound of 4');
    expect(r.starts.sort((x, y) => x - y)).toEqual([10_000, 20_000, 30_000, 40_000]);
    expect((await r.b.jobs.get('tick'))?.nextFireAt).toBe(T0 + 70_000);
  });

  it('fire-all within the bound runs every missed time', async () => {
    const r = await missSixFires('fire-all', { block: 'parallel' });
    h = r.h;
    expect(r.starts.sort((x, y) => x - y)).toEqual([10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  });

  it('a fire late by less than the threshold is a normal fire', async () => {
    const r = await missSixFires('skip', {}, { misfireThreshold: '2m' });
    h = r.h;
    // Within 2 minutes: every missed time fires as a plain schedule fire, one after the other.
    const runs = await h.runs();
    expect(runs.map((x) => x.trigger)).toEqual(Array(6).fill('schedule'));
    expect(r.starts).toEqual([10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  });

  it('a cron misfire counts the cron times missed', async () => {
    h = new Harness();
    const a = h.scheduler();
    a.handle('c', () => {});
    a.job({ key: 'c', handler: 'c', schedule: '0 * * * * *', misfire: 'skip' });
    await a.start();
    await a.stop();
    await h.advance(10 * 60_000 + 30_000); // 10 minute marks missed
    const b = h.scheduler();
    b.handle('c', () => {});
    b.job({ key: 'c', handler: 'c', schedule: '0 * * * * *', misfire: 'skip' });
    await b.start();
    await h.clock.flush();
    const runs = await h.runs();
    expect(runs).toHaveLength(1);
    expect(runs[0]!.reason).toContain('10 fire time(s) missed');
    expect((await b.jobs.get('c'))?.nextFireAt).toBe(T0 + 11 * 60_000);
  });
});
