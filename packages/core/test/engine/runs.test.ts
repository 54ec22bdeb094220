import { afterEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  NotFoundError,
  RunCancelledError,
  type RunContext,
  type RunRecord,
  TimeoutError,
} from '../../src/index';
import { deferred, Harness, T0 } from './harness';

/** Resolves when the handler's signal aborts, with its reason. */
const untilAborted = (ctx: RunContext<unknown>) =>
  new Promise<unknown>((resolve) => ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason)));

describe('runs on virtual time', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  it('gives the handler its context and records result, logs and progress', async () => {
    h = new Harness();
    const s = h.scheduler();
    const gate = deferred();
    let seen: Record<string, unknown> = {};
    s.handle('ctx', async (ctx) => {
      seen = {
        params: ctx.params,
        attempt: ctx.attempt,
        maxAttempts: ctx.maxAttempts,
        jobKey: ctx.jobKey,
        trigger: ctx.trigger,
        shard: ctx.shard,
        aborted: ctx.signal.aborted,
      };
      ctx.log('starting', { n: 1 });
      ctx.log('careful', null, 'warn');
      await ctx.progress(50);
      await gate.promise;
      return { ok: true };
    });
    await s.start();
    const run = await s.enqueue('ctx', { orderId: 'o-1' }, { retry: { maxAttempts: 3 } });
    await h.clock.flush();
    expect(seen).toEqual({
      params: { orderId: 'o-1' },
      attempt: 1,
      maxAttempts: 3,
      jobKey: null,
      trigger: 'api',
      shard: { index: 0, total: 1 },
      aborted: false,
    });
    await h.advance(1_000); // a heartbeat carries the progress and flushes the logs
    expect((await s.getRun(run.id))?.progress).toBe(50);
    expect((await s.readLogs(run.id)).map((l) => [l.seq, l.level, l.message, l.fields])).toEqual([
      [1, 'info', 'starting', { n: 1 }],
      [2, 'warn', 'careful', null],
    ]);
    gate.resolve();
    await h.clock.flush();
    const done = await s.getRun(run.id);
    expect(done?.state).toBe('succeeded');
    expect(done?.result).toEqual({ ok: true });
    expect(done?.durationMs).toBe(1_000);
    expect(h.eventsOf('run:started').map((e) => e.run.id)).toEqual([run.id]);
    expect(h.eventsOf('run:succeeded').map((e) => [e.run.id, e.durationMs])).toEqual([[run.id, 1_000]]);
  });

  it('retries with exact exponential delays, then the run is dead and can be re-triggered', async () => {
    h = new Harness();
    const s = h.scheduler();
    const starts: number[] = [];
    let fail = true;
    s.handle('flaky', (ctx) => {
      starts.push(h.clock.now() - T0);
      if (fail) throw new Error(`boom ${ctx.attempt}`);
      return 'fine';
    });
    await s.start();
    const first = await s.enqueue('flaky', null, {
      retry: { maxAttempts: 4, backoff: 'exponential', delay: '1s', maxDelay: '1m', jitter: 0 },
    });
    await h.clock.flush();
    expect(starts).toEqual([0]);
    await h.advance(999);
    expect(starts).toEqual([0]); // not early
    await h.advance(1);
    expect(starts).toEqual([0, 1_000]);
    await h.advance(2_000);
    expect(starts).toEqual([0, 1_000, 3_000]);
    await h.advance(4_000);
    expect(starts).toEqual([0, 1_000, 3_000, 7_000]);
    await h.advance(60_000);
    expect(starts).toHaveLength(4);

    const runs = await h.runs();
    expect(runs.map((r) => [r.attempt, r.state, r.trigger, r.error?.message])).toEqual([
      [1, 'failed', 'api', 'boom 1'],
      [2, 'failed', 'retry', 'boom 2'],
      [3, 'failed', 'retry', 'boom 3'],
      [4, 'dead', 'retry', 'boom 4'],
    ]);
    expect(runs[1]!.parentRunId).toBe(first.id);
    expect(runs[2]!.parentRunId).toBe(runs[1]!.id);
    expect(runs.map((r) => r.dueAt - T0)).toEqual([0, 1_000, 3_000, 7_000]);
    expect(h.eventsOf('run:retried').map((e) => e.delayMs)).toEqual([1_000, 2_000, 4_000]);
    expect(h.eventsOf('run:dead').map((e) => e.run.id)).toEqual([runs[3]!.id]);
    expect(h.eventsOf('run:failed')).toHaveLength(4);

    fail = false;
    const again = await s.retrigger(runs[3]!.id);
    expect(again).toMatchObject({
      attempt: 1,
      trigger: 'manual',
      parentRunId: runs[3]!.id,
      state: 'pending',
    });
    await h.clock.flush();
    expect((await s.getRun(again.id))?.state).toBe('succeeded');
    await expect(s.retrigger('nope')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('fixed and linear backoff give their delays on the engine', async () => {
    h = new Harness();
    const s = h.scheduler();
    const starts: Record<string, number[]> = { fixed: [], linear: [] };
    s.handle('fail', (ctx: RunContext<{ kind: string }>) => {
      starts[ctx.params.kind]!.push(h.clock.now() - T0);
      throw new Error('no');
    });
    await s.start();
    for (const kind of ['fixed', 'linear'] as const) {
      await s.enqueue('fail', { kind }, { retry: { maxAttempts: 4, backoff: kind, delay: '2s', jitter: 0 } });
    }
    await h.advance(20_000);
    expect(starts.fixed).toEqual([0, 2_000, 4_000, 6_000]);
    expect(starts.linear).toEqual([0, 2_000, 6_000, 12_000]);
  });

  it('a timeout aborts the signal with TimeoutError, ends the run timed_out and retries it', async () => {
    h = new Harness();
    const s = h.scheduler();
    const reasons: unknown[] = [];
    s.handle('slow', async (ctx) => {
      reasons.push(await untilAborted(ctx));
    });
    await s.start();
    const run = await s.enqueue(
      'slow',
      {},
      { timeout: '30s', retry: { maxAttempts: 2, delay: '5s', jitter: 0 } },
    );
    await h.advance(29_999);
    expect((await s.getRun(run.id))?.state).toBe('running');
    await h.advance(1);
    expect(reasons[0]).toBeInstanceOf(TimeoutError);
    const ended = await s.getRun(run.id);
    expect(ended).toMatchObject({ state: 'timed_out', durationMs: 30_000 });
    expect(ended?.error?.name).toBe('TimeoutError');
    expect(h.eventsOf('run:timed_out').map((e) => e.retry?.attempt)).toEqual([2]);
    await h.advance(5_000 + 30_000);
    const runs = await h.runs();
    expect(runs.map((r) => [r.attempt, r.state])).toEqual([
      [1, 'timed_out'],
      [2, 'timed_out'],
    ]);
    expect(runs[1]!.startedAt).toBe(T0 + 35_000);
  });

  it('a handler that ignores its signal still ends timed_out at the deadline; its late result is ignored', async () => {
    h = new Harness();
    const s = h.scheduler({ concurrency: 1 });
    const gate = deferred<string>();
    s.handle('stubborn', () => gate.promise);
    s.handle('next', () => 'ran');
    await s.start();
    const run = await s.enqueue('stubborn', {}, { timeout: '10s' });
    const next = await s.enqueue('next', {});
    await h.advance(10_000);
    expect((await s.getRun(run.id))?.state).toBe('timed_out');
    expect((await s.getRun(next.id))?.state).toBe('succeeded'); // the slot was freed
    gate.resolve('late');
    await h.clock.flush();
    const after = await s.getRun(run.id);
    expect(after?.state).toBe('timed_out');
    expect(after?.result).toBeNull();
    expect(h.eventsOf('run:succeeded').map((e) => e.run.id)).toEqual([next.id]);
  });

  it('a signal first read after the timeout is already aborted, with the TimeoutError', async () => {
    // The engine makes a run's AbortController only when the handler reads `ctx.signal`.
    h = new Harness();
    const s = h.scheduler();
    const gate = deferred<void>();
    let late: AbortSignal | null = null;
    s.handle('reads-late', async (ctx) => {
      await gate.promise;
      late = ctx.signal;
    });
    await s.start();
    const run = await s.enqueue('reads-late', {}, { timeout: '5s' });
    await h.advance(5_000);
    expect((await s.getRun(run.id))?.state).toBe('timed_out');
    gate.resolve();
    await h.clock.flush();
    const signal = late as AbortSignal | null;
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(TimeoutError);
  });

  it('cancels a pending run at once: it never runs', async () => {
    h = new Harness();
    const s = h.scheduler();
    let ran = 0;
    s.handle('later', () => {
      ran++;
    });
    await s.start();
    const run = await s.enqueue('later', {}, { delay: '1m' });
    const cancelled = await s.cancel(run.id, 'changed my mind');
    expect(cancelled).toMatchObject({ state: 'cancelled', reason: 'changed my mind' });
    await h.advance(120_000);
    expect(ran).toBe(0);
    expect(h.eventsOf('run:cancelled').map((e) => e.run.id)).toEqual([run.id]);
    await expect(s.cancel('missing')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('cancels a running run: the signal aborts with RunCancelledError and the run ends cancelled', async () => {
    h = new Harness();
    const s = h.scheduler();
    const reasons: unknown[] = [];
    s.handle('long', async (ctx) => {
      reasons.push(await untilAborted(ctx));
    });
    await s.start();
    const run = await s.enqueue('long', {}, { retry: { maxAttempts: 5 } });
    await h.advance(3_000);
    const cancelled = await s.cancel(run.id);
    expect(cancelled.state).toBe('cancelled');
    expect(reasons[0]).toBeInstanceOf(RunCancelledError);
    expect((await h.runs()).length).toBe(1); // no retry after a cancel
    expect(h.eventsOf('run:cancelled').map((e) => e.run.id)).toEqual([run.id]);
  });

  it('learns of a cancel asked elsewhere through its heartbeat', async () => {
    h = new Harness();
    const s = h.scheduler();
    const reasons: unknown[] = [];
    s.handle('long', async (ctx) => {
      reasons.push(await untilAborted(ctx));
    });
    await s.start();
    const run = await s.enqueue('long', {});
    await h.clock.flush();
    await h.store.cancelRun(run.id, 'from the admin panel'); // as another node would
    expect(reasons).toEqual([]);
    await h.advance(1_000); // next heartbeat
    expect(reasons[0]).toBeInstanceOf(RunCancelledError);
    expect((await s.getRun(run.id))?.state).toBe('cancelled');
  });

  it('enqueue with the same idempotency key returns the existing run and runs once', async () => {
    h = new Harness();
    const s = h.scheduler();
    let ran = 0;
    s.handle('close-order', () => {
      ran++;
    });
    await s.start();
    const a = await s.enqueue('close-order', { orderId: 1 }, { delay: '30m', idempotencyKey: 'close:1' });
    const b = await s.enqueue('close-order', { orderId: 1 }, { delay: '30m', idempotencyKey: 'close:1' });
    expect(b.id).toBe(a.id);
    await h.advance(30 * 60_000);
    const c = await s.enqueue('close-order', { orderId: 1 }, { idempotencyKey: 'close:1' });
    expect(c.id).toBe(a.id);
    expect(c.state).toBe('succeeded');
    await h.clock.flush();
    expect(ran).toBe(1);
    expect(await h.runs()).toHaveLength(1);
  });

  it('delayed tasks are not started early (delay and runAt), and run on time', async () => {
    h = new Harness();
    const s = h.scheduler();
    const starts: Array<[string, number]> = [];
    s.handle('t', (ctx: RunContext<{ name: string }>) => {
      starts.push([ctx.params.name, h.clock.now() - T0]);
    });
    await s.start();
    await s.enqueue('t', { name: 'delay' }, { delay: '30m' });
    await s.enqueue('t', { name: 'runAt' }, { runAt: new Date(T0 + 45 * 60_000) });
    await h.advance(30 * 60_000 - 1);
    expect(starts).toEqual([]);
    await h.advance(1);
    expect(starts).toEqual([['delay', 30 * 60_000]]);
    await h.advance(15 * 60_000 - 1);
    expect(starts).toHaveLength(1);
    await h.advance(1);
    expect(starts).toEqual([
      ['delay', 30 * 60_000],
      ['runAt', 45 * 60_000],
    ]);
  });

  it('honours concurrency and priority', async () => {
    h = new Harness();
    const s = h.scheduler({ concurrency: 2 });
    const gates = new Map<string, () => void>();
    const order: string[] = [];
    s.handle('w', (ctx: RunContext<{ n: string }>) => {
      order.push(ctx.params.n);
      return new Promise<void>((resolve) => gates.set(ctx.params.n, resolve));
    });
    // Enqueued before start, so the first claim sees all of them.
    await s.enqueue('w', { n: 'low' }, { priority: 0 });
    await s.enqueue('w', { n: 'high' }, { priority: 10 });
    await s.enqueue('w', { n: 'mid' }, { priority: 5 });
    await s.start();
    await h.clock.flush();
    expect(order).toEqual(['high', 'mid']);
    expect(s.running).toBe(2);
    gates.get('high')!();
    await h.clock.flush();
    expect(order).toEqual(['high', 'mid', 'low']);
  });

  it('a result that is not JSON fails the run with a clear error', async () => {
    h = new Harness();
    const s = h.scheduler();
    s.handle('bad', () => ({ big: 10n }));
    await s.start();
    const run = await s.enqueue('bad', {});
    await h.clock.flush();
    const after = (await s.getRun(run.id)) as RunRecord;
    expect(after.state).toBe('dead');
    expect(after.error).toMatchObject({ name: 'ValidationError' });
    expect(after.error?.message).toContain('result.big');
  });

  it('logs reach the store before the run ends; bad fields and long messages never throw', async () => {
    h = new Harness();
    const s = h.scheduler();
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    s.handle('chatty', async (ctx) => {
      ctx.log('plain');
      ctx.log('x'.repeat(10_000));
      ctx.log('bad fields', cyclic as never);
      ctx.log('odd level', { a: 1 }, 'loud' as never);
      await ctx.progress(250);
      return null;
    });
    await s.start();
    const run = await s.enqueue('chatty', {});
    await h.clock.flush();
    expect((await s.getRun(run.id))?.state).toBe('succeeded');
    const lines = await s.readLogs(run.id);
    expect(lines.map((l) => l.message.slice(0, 10))).toEqual([
      'plain',
      'xxxxxxxxxx',
      'bad fields',
      'odd level',
    ]);
    expect(lines[1]!.message.length).toBeLessThanOrEqual(8 * 1024);
    expect(lines[1]!.message.endsWith('[truncated]')).toBe(true);
    expect(Object.keys(lines[2]!.fields ?? {})).toEqual(['invalidFields']);
    expect(lines[3]!.level).toBe('info');
    expect(h.eventsOf('error')).toEqual([]);
  });

  it('retrigger refuses a run still pending', async () => {
    h = new Harness();
    const s = h.scheduler();
    s.handle('x', () => {});
    await s.start();
    const run = await s.enqueue('x', {}, { delay: '1h' });
    await expect(s.retrigger(run.id)).rejects.toBeInstanceOf(ConflictError);
  });
});
