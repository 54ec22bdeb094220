import { afterEach, describe, expect, it } from 'vitest';
import { type RunContext, ValidationError } from '../../src/index';
import { Harness, T0 } from './harness';

/**
 * Fire ahead (`fireAhead`): fires are materialized up to the window before their time, with
 * `dueAt` = the fire time, and their handlers still start at that time, never before.
 */
describe('fire ahead on virtual time', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  /** A scheduler with a cron job every 10 s; records when each fire was made and each run started. */
  async function cronEvery10s(options: { fireAhead?: string | number } = {}, block = 'serial' as const) {
    h = new Harness();
    const s = h.scheduler(options);
    const starts: number[] = [];
    const fired: Array<{ at: number; scheduledFor: number }> = [];
    s.on('job:fired', (e) => fired.push({ at: h.clock.now(), scheduledFor: e.scheduledFor }));
    s.handle('tick', (ctx) => {
      starts.push(h.clock.now());
      expect(ctx.scheduledFor).toBe(h.clock.now());
    });
    s.job({ key: 'tick', handler: 'tick', schedule: '*/10 * * * * *', block });
    await s.start();
    return { s, starts, fired };
  }

  it('with 500 ms: the run is inserted before its time and its handler starts exactly at it', async () => {
    const { s, starts, fired } = await cronEvery10s({ fireAhead: '500ms' });
    // The loop wakes when the fire is half the window away (and reads the whole window).
    await h.advance(9_749);
    expect(await h.runs()).toEqual([]);
    await h.advance(1);
    const [run] = await h.runs();
    expect(run).toMatchObject({ state: 'pending', scheduledFor: T0 + 10_000, dueAt: T0 + 10_000 });
    expect(fired).toEqual([{ at: T0 + 9_750, scheduledFor: T0 + 10_000 }]);
    expect((await s.jobs.get('tick'))?.nextFireAt).toBe(T0 + 20_000);
    await h.advance(249);
    expect(starts).toEqual([]);
    expect((await h.store.getRun(run!.id))?.state).toBe('pending');
    await h.advance(1);
    expect(starts).toEqual([T0 + 10_000]);
    await h.advance(30_000);
    expect(starts).toEqual([1, 2, 3, 4].map((i) => T0 + i * 10_000));
    expect(fired.map((f) => f.scheduledFor - f.at)).toEqual([250, 250, 250, 250]);
    expect((await h.runs()).map((r) => r.state)).toEqual(Array(4).fill('succeeded'));
    await h.advance(9_750);
    expect(fired.at(-1)).toEqual({ at: T0 + 49_750, scheduledFor: T0 + 50_000 });
    expect((await h.runs()).map((r) => r.state)).toEqual([...Array(4).fill('succeeded'), 'pending']);
    expect(h.eventsOf('error')).toEqual([]);
  });

  it('the default window is 500 ms', async () => {
    const { fired } = await cronEvery10s();
    await h.advance(10_000);
    expect(fired).toEqual([{ at: T0 + 9_750, scheduledFor: T0 + 10_000 }]);
  });

  it('with 0: the run is inserted at its time, as before', async () => {
    const { starts, fired } = await cronEvery10s({ fireAhead: 0 });
    await h.advance(9_999);
    expect(await h.runs()).toEqual([]);
    expect(fired).toEqual([]);
    await h.advance(1);
    expect(fired).toEqual([{ at: T0 + 10_000, scheduledFor: T0 + 10_000 }]);
    expect(starts).toEqual([T0 + 10_000]);
    await h.advance(20_000);
    expect(starts).toEqual([1, 2, 3].map((i) => T0 + i * 10_000));
  });

  it('a job whose next fire is still inside the window fires that one too, bounded by the window', async () => {
    h = new Harness();
    const s = h.scheduler({ fireAhead: '500ms' });
    const starts: number[] = [];
    s.handle('fast', (ctx) => {
      expect(ctx.scheduledFor).toBe(h.clock.now());
      starts.push(h.clock.now() - T0);
    });
    s.job({ key: 'fast', handler: 'fast', schedule: { every: '200ms' }, block: 'parallel' });
    await s.start();
    await h.clock.flush();
    const scheduled = async () => (await h.runs()).map((r) => r.scheduledFor - T0);
    // Fires at 200, 400, 600 (…) ms: at start the window [0, 500] holds 200 and 400.
    expect(await scheduled()).toEqual([200, 400]);
    expect((await s.jobs.get('fast'))?.nextFireAt).toBe(T0 + 600);
    // The loop wakes when 600 is half the window away (at 350) and reads up to 850.
    await h.advance(349);
    expect(await scheduled()).toEqual([200, 400]);
    await h.advance(1);
    expect(await scheduled()).toEqual([200, 400, 600, 800]);
    expect(starts).toEqual([200]);
    await h.advance(650);
    expect(starts).toEqual([200, 400, 600, 800, 1_000]);
    // At 750 (1,000 half the window away) it read up to 1,250.
    expect(await scheduled()).toEqual([200, 400, 600, 800, 1_000, 1_200]);
  });

  it('misfire: a late job applies its policy, and its next fire, inside the window, is fired ahead', async () => {
    h = new Harness();
    const starts: number[] = [];
    const declare = (s: ReturnType<Harness['scheduler']>) => {
      s.handle('tick', (ctx) => {
        starts.push(ctx.scheduledFor - T0);
        expect(ctx.scheduledFor).toBeLessThanOrEqual(h.clock.now());
      });
      s.job({ key: 'tick', handler: 'tick', schedule: { every: '10s' } });
    };
    const a = h.scheduler({ fireAhead: '500ms' });
    declare(a);
    await a.start();
    await h.advance(5_000);
    await a.stop();
    // No node from T0+5s to T0+69.7s: 10s … 60s are missed; 70s is 300 ms away.
    await h.advance(64_700);
    const b = h.scheduler({ fireAhead: '500ms' });
    declare(b);
    await b.start();
    await h.clock.flush();
    const runs = await h.runs();
    expect(runs.map((r) => [r.trigger, r.state, r.scheduledFor - T0])).toEqual([
      ['misfire', 'succeeded', 60_000],
      ['schedule', 'pending', 70_000],
    ]);
    expect(h.eventsOf('job:fired').map((e) => [e.missed, e.misfired])).toEqual([
      [6, true],
      [1, false],
    ]);
    expect(starts).toEqual([60_000]);
    await h.advance(299);
    expect(starts).toEqual([60_000]);
    await h.advance(1);
    expect(starts).toEqual([60_000, 70_000]);
  });

  it('skip and replace jobs are fired at their time, not ahead (their block strategy is decided at insert)', async () => {
    h = new Harness();
    const s = h.scheduler({ fireAhead: '500ms' });
    const starts: number[] = [];
    const fired: Array<[string, number]> = [];
    s.on('job:fired', (e) => fired.push([e.jobKey, h.clock.now() - e.scheduledFor]));
    // Each run takes 800 ms, less than the 1 s period: fired 500 ms early, a `skip` fire would
    // find the previous run still running and be skipped.
    s.handle('slow', async (ctx: RunContext) => {
      starts.push(h.clock.now() - T0);
      await new Promise<void>((resolve) => {
        const timer = h.clock.setTimer(resolve, 800);
        ctx.signal.addEventListener('abort', () => {
          h.clock.clearTimer(timer);
          resolve();
        });
      });
    });
    s.job({ key: 'skip', handler: 'slow', schedule: { every: '1s' }, block: 'skip' });
    s.job({ key: 'replace', handler: 'slow', schedule: { every: '1s' }, block: 'replace' });
    await s.start();
    await h.advance(3_900);
    expect(fired).toEqual([
      ['replace', 0],
      ['skip', 0],
      ['replace', 0],
      ['skip', 0],
      ['replace', 0],
      ['skip', 0],
    ]);
    const runs = await h.runs();
    expect(runs.filter((r) => r.state !== 'succeeded')).toEqual([]);
    expect(starts).toEqual([1_000, 1_000, 2_000, 2_000, 3_000, 3_000]);
  });

  it('deleting a job inside the window cancels the run already materialized; it never starts', async () => {
    const { s, starts } = await cronEvery10s({ fireAhead: '500ms' });
    await h.advance(9_800);
    const [run] = await h.runs();
    expect(run?.state).toBe('pending');
    await s.jobs.delete('tick');
    await h.advance(1_000);
    expect(starts).toEqual([]);
    expect(await h.store.getRun(run!.id)).toMatchObject({ state: 'cancelled', reason: 'job deleted' });
  });

  it('disabling a job inside the window leaves the run already materialized: it runs at its time', async () => {
    const { s, starts } = await cronEvery10s({ fireAhead: '500ms' });
    await h.advance(9_800);
    await s.jobs.disable('tick');
    await h.advance(30_000);
    expect(starts).toEqual([T0 + 10_000]);
  });

  it('fireAhead is a duration of at most 60 s', () => {
    h = new Harness();
    expect(() => h.scheduler({ fireAhead: '61s' })).toThrow(ValidationError);
    expect(() => h.scheduler({ fireAhead: -1 })).toThrow(ValidationError);
    expect(() => h.scheduler({ fireAhead: 'soon' })).toThrow(/options\.fireAhead/);
    expect(h.scheduler({ fireAhead: '60s' })).toBeDefined();
  });
});
