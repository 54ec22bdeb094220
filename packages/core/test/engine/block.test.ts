import { afterEach, describe, expect, it } from 'vitest';
import { RunCancelledError, type RunContext } from '../../src/index';
import { Harness } from './harness';

/** A handler whose runs each wait for the test to release them (or for their signal). */
function gatedHandler(h: Harness) {
  const releases = new Map<string, () => void>();
  const reasons = new Map<string, unknown>();
  const live = new Set<string>();
  let maxLive = 0;
  const fn = (ctx: RunContext<unknown>) =>
    new Promise<void>((resolve) => {
      live.add(ctx.runId);
      maxLive = Math.max(maxLive, live.size);
      const done = () => {
        live.delete(ctx.runId);
        resolve();
      };
      releases.set(ctx.runId, done);
      ctx.signal.addEventListener('abort', () => {
        reasons.set(ctx.runId, ctx.signal.reason);
        done();
      });
    });
  return {
    fn,
    release: async (runId: string) => {
      releases.get(runId)!();
      await h.clock.flush();
    },
    reasons,
    get maxLive() {
      return maxLive;
    },
  };
}

describe('block strategies on the engine', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  it('serial: a second run waits until the first ends; they never overlap', async () => {
    h = new Harness();
    const s = h.scheduler();
    const g = gatedHandler(h);
    s.handle('job', g.fn);
    s.job({ key: 'serial', handler: 'job', block: 'serial' });
    await s.start();
    const [a] = await s.jobs.trigger('serial');
    const [b] = await s.jobs.trigger('serial');
    await h.advance(5_000);
    expect((await s.getRun(a!.id))?.state).toBe('running');
    expect((await s.getRun(b!.id))?.state).toBe('pending');
    await g.release(a!.id);
    expect((await s.getRun(a!.id))?.state).toBe('succeeded');
    expect((await s.getRun(b!.id))?.state).toBe('running');
    await g.release(b!.id);
    expect((await s.getRun(b!.id))?.state).toBe('succeeded');
    expect(g.maxLive).toBe(1);
  });

  it('skip: a run made while one is running is recorded skipped and never runs', async () => {
    h = new Harness();
    const s = h.scheduler();
    const g = gatedHandler(h);
    s.handle('job', g.fn);
    s.job({ key: 'skipper', handler: 'job', block: 'skip', schedule: { every: '10s' } });
    await s.start();
    await h.advance(10_000);
    const [first] = await h.runs();
    expect(first?.state).toBe('running');
    await h.advance(10_000); // the next fire finds the first still running
    const runs = await h.runs();
    expect(runs.map((r) => r.state)).toEqual(['running', 'skipped']);
    expect(runs[1]!.reason).toBeTruthy();
    expect(h.eventsOf('run:skipped').map((e) => e.run.id)).toEqual([runs[1]!.id]);
    await g.release(first!.id);
    await h.advance(10_000);
    expect((await h.runs()).map((r) => r.state)).toEqual(['succeeded', 'skipped', 'running']);
    expect(g.maxLive).toBe(1);
  });

  it('parallel: runs of one job overlap', async () => {
    h = new Harness();
    const s = h.scheduler();
    const g = gatedHandler(h);
    s.handle('job', g.fn);
    s.job({ key: 'par', handler: 'job', block: 'parallel' });
    await s.start();
    await s.jobs.trigger('par');
    await s.jobs.trigger('par');
    await s.jobs.trigger('par');
    await h.clock.flush();
    expect((await h.runs()).map((r) => r.state)).toEqual(['running', 'running', 'running']);
    expect(g.maxLive).toBe(3);
  });

  it('replace: a new run cancels the pending ones and stops the running one, then runs', async () => {
    h = new Harness();
    const s = h.scheduler();
    const g = gatedHandler(h);
    s.handle('job', g.fn);
    s.job({ key: 'rep', handler: 'job', block: 'replace' });
    await s.start();
    const [a] = await s.jobs.trigger('rep');
    await h.clock.flush();
    expect((await s.getRun(a!.id))?.state).toBe('running');
    const [b] = await s.jobs.trigger('rep');
    await h.clock.flush();
    expect(g.reasons.get(a!.id)).toBeInstanceOf(RunCancelledError);
    expect((await s.getRun(a!.id))?.state).toBe('cancelled');
    expect((await s.getRun(b!.id))?.state).toBe('running');
    expect(g.maxLive).toBe(1);
  });

  it('replace: pending runs of the job are cancelled by the newer one', async () => {
    h = new Harness();
    const s = h.scheduler();
    const g = gatedHandler(h);
    s.handle('job', g.fn);
    await s.jobs.create({ key: 'rep', handler: 'job', block: 'replace' });
    // Not started: runs stay pending, as on a busy cluster.
    const [a] = await s.jobs.trigger('rep');
    const [b] = await s.jobs.trigger('rep');
    expect((await s.getRun(a!.id))?.state).toBe('cancelled');
    expect((await s.getRun(b!.id))?.state).toBe('pending');
    await s.start();
    await h.clock.flush();
    expect((await s.getRun(b!.id))?.state).toBe('running');
  });
});
