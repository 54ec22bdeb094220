import { afterEach, describe, expect, it } from 'vitest';
import { type JobSpec, Scheduler, ValidationError } from '../../src/index';
import { Harness } from './harness';

/** Runs `fn`, expects a ValidationError, returns its field, rule and message. */
async function refusal(fn: () => unknown): Promise<{ field: string; rule: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { field: err.field, rule: err.rule, message: err.message };
  }
  throw new Error('expected a ValidationError, got none');
}

describe('bad input is refused, naming the field, and nothing is stored', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  async function started(options = {}) {
    h = new Harness();
    const s = h.scheduler(options);
    s.handle('known', () => {});
    await s.start();
    return s;
  }

  async function expectNothingStored() {
    expect((await h.store.listJobs({ app: 'test' })).items).toEqual([]);
    expect((await h.store.listRuns({ app: 'test' })).items).toEqual([]);
  }

  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;

  it.each<[string, Partial<JobSpec> & Record<string, unknown>, string, string]>([
    ['an invalid cron', { schedule: '61 * * * *' }, 'schedule.cron', 'cron'],
    ['an invalid cron object', { schedule: { cron: '* * 32 * *' } }, 'schedule.cron', 'cron'],
    [
      'an unknown time zone',
      { schedule: { cron: '0 2 * * *', tz: 'Europe/Atlantis' } },
      'schedule.tz',
      'time-zone',
    ],
    ['params with a function', { params: { f: () => 1 } as never }, 'params.f', 'json'],
    ['params with a BigInt', { params: { n: 10n } as never }, 'params.n', 'json'],
    ['params with a cycle', { params: cycle as never }, 'params.self', 'json'],
    ['params undefined at top level', { params: undefined }, 'params', 'json'],
    ['params with NaN', { params: [1, Number.NaN] }, 'params[1]', 'json'],
    ['params with a Date', { params: { at: new Date() } as never }, 'params.at', 'json'],
    ['a typo in an option key', { shedule: '* * * * *' }, 'shedule', 'unknown-key'],
    ['a bad timeout', { timeout: '5 sec' }, 'timeout', 'duration'],
    ['a negative timeout', { timeout: -1 }, 'timeout', 'min'],
    ['a bad retry delay', { retry: { maxAttempts: 3, delay: 'later' } }, 'retry.delay', 'duration'],
    ['a bad block strategy', { block: 'sometimes' as never }, 'block', 'enum'],
    ['a bad misfire policy', { misfire: 'never' as never }, 'misfire', 'enum'],
    ['a bad routing', { routing: 'nearest' as never }, 'routing', 'enum'],
    ['a bad priority', { priority: 1.5 }, 'priority', 'integer'],
    ['shards without sharded routing', { shards: 3, routing: 'any' }, 'shards', 'routing'],
    ['an empty key', { key: '' }, 'key', 'min-length'],
    ['a key with a newline', { key: 'a\nb' }, 'key', 'control-characters'],
    ['a key with trailing space', { key: 'a ' }, 'key', 'pattern'],
    ['a tag with a tab', { tags: ['a\tb'] }, 'tags[0]', 'control-characters'],
    ['an unknown handler', { handler: 'nobody' }, 'handler', 'unknown-handler'],
  ])('jobs.create refuses %s', async (_what, patch, field, rule) => {
    const s = await started();
    const spec = { key: 'k', handler: 'known', ...patch } as JobSpec;
    const r = await refusal(() => s.jobs.create(spec));
    expect({ field: r.field, rule: r.rule }).toEqual({ field, rule });
    expect(r.message.startsWith(`${field}: `)).toBe(true);
    await expectNothingStored();
  });

  it('the typo message suggests the right key', async () => {
    const s = await started();
    const r = await refusal(() =>
      s.jobs.create({ key: 'k', handler: 'known', shedule: '* * * * *' } as never),
    );
    expect(r.message).toContain("did you mean 'schedule'?");
  });

  it('scheduler.job() refuses bad specs at once, before start', async () => {
    h = new Harness();
    const s = h.scheduler();
    s.handle('known', () => {});
    expect((await refusal(() => s.job({ key: 'k', handler: 'known', schedule: '61 * * * *' }))).field).toBe(
      'schedule.cron',
    );
    expect((await refusal(() => s.job({ key: 'k', handler: 'known', shedule: {} } as never))).field).toBe(
      'shedule',
    );
    s.job({ key: 'ok', handler: 'known' });
    expect((await refusal(() => s.job({ key: 'ok', handler: 'known' }))).rule).toBe('duplicate');
  });

  it('start() refuses a declared job whose handler no node runs, storing nothing', async () => {
    h = new Harness();
    const s = h.scheduler();
    s.job({ key: 'k', handler: 'missing', schedule: { every: '1m' } });
    const r = await refusal(() => s.start());
    expect(r).toMatchObject({ field: 'jobs.k.handler', rule: 'unknown-handler' });
    expect(s.state).toBe('idle');
    expect(await h.store.listNodes('test')).toEqual([]);
    await expectNothingStored();
  });

  it.each<[string, () => [string, unknown, Record<string, unknown>?], string, string]>([
    ['an unknown handler', () => ['nobody', {}], 'handler', 'unknown-handler'],
    ['a function as params', () => ['known', () => 1], 'params', 'json'],
    ['a BigInt as params', () => ['known', 5n], 'params', 'json'],
    ['undefined params', () => ['known', undefined], 'params', 'json'],
    ['a cycle in params', () => ['known', cycle], 'params.self', 'json'],
    ['params over the limit', () => ['known', { s: 'x'.repeat(2_000) }], 'params', 'max-bytes'],
    ['a negative delay', () => ['known', {}, { delay: -1 }], 'options.delay', 'min'],
    ['a negative delay string', () => ['known', {}, { delay: '-5s' }], 'options.delay', 'duration'],
    ['a bad delay', () => ['known', {}, { delay: 'soon' }], 'options.delay', 'duration'],
    [
      'delay and runAt together',
      () => ['known', {}, { delay: 1, runAt: Date.now() }],
      'options.runAt',
      'exclusive',
    ],
    ['a bad runAt', () => ['known', {}, { runAt: 'next week' }], 'options.runAt', 'time'],
    ['an unknown option', () => ['known', {}, { shedule: 1 }], 'options.shedule', 'unknown-key'],
    ['a bad priority', () => ['known', {}, { priority: 'high' }], 'options.priority', 'integer'],
    ['a bad retry', () => ['known', {}, { retry: { backoff: 'random' } }], 'options.retry.backoff', 'enum'],
    ['a bad timeout', () => ['known', {}, { timeout: '1 minute' }], 'options.timeout', 'duration'],
    [
      'a long idempotency key',
      () => ['known', {}, { idempotencyKey: 'k'.repeat(300) }],
      'options.idempotencyKey',
      'max-length',
    ],
    [
      'an idempotency key with a newline',
      () => ['known', {}, { idempotencyKey: 'a\nb' }],
      'options.idempotencyKey',
      'control-characters',
    ],
  ])('enqueue refuses %s', async (_what, args, field, rule) => {
    const s = await started({ maxParamsBytes: 1024 });
    const [handler, params, options] = args();
    const r = await refusal(() => s.enqueue(handler, params as never, options as never));
    expect({ field: r.field, rule: r.rule }).toEqual({ field, rule });
    await expectNothingStored();
  });

  it('params at the default limit of 64 KiB pass; one byte more is refused', async () => {
    const s = await started();
    const fits = { s: 'x'.repeat(64 * 1024 - 8) }; // {"s":"…"} is 8 bytes of JSON around the string
    await s.enqueue('known', fits);
    const r = await refusal(() => s.enqueue('known', { s: 'x'.repeat(64 * 1024 - 7) }));
    expect(r).toMatchObject({ field: 'params', rule: 'max-bytes' });
    expect((await h.store.listRuns({ app: 'test' })).items).toHaveLength(1);
  });

  it('trigger refuses an unknown handler and bad params; the job and runs stay as they were', async () => {
    const s = await started();
    await s.jobs.create({ key: 'remote', handler: 'known' });
    // The job's handler is gone from this node (e.g. code removed), as seen by a new scheduler.
    const other = new Scheduler({ store: h.store, app: 'test', clock: h.clock });
    expect(await refusal(() => other.jobs.trigger('remote'))).toMatchObject({
      field: 'handler',
      rule: 'unknown-handler',
    });
    expect(
      await refusal(() => s.jobs.trigger('remote', { params: { f: Symbol('x') } as never })),
    ).toMatchObject({
      field: 'params.f',
      rule: 'json',
    });
    expect(await refusal(() => s.jobs.trigger('remote', { parms: {} } as never))).toMatchObject({
      field: 'options.parms',
      rule: 'unknown-key',
    });
    expect((await h.store.listRuns({ app: 'test' })).items).toEqual([]);
  });

  it('update refuses bad input and leaves the job as it was', async () => {
    const s = await started();
    const job = await s.jobs.create({ key: 'k', handler: 'known', schedule: { every: '1m' } });
    expect(
      (await refusal(() => s.jobs.update('k', { schedule: { cron: '* * * * *', tz: 'Nope/Nope' } }))).field,
    ).toBe('schedule.tz');
    expect((await refusal(() => s.jobs.update('k', { key: 'other' }))).rule).toBe('immutable');
    expect((await refusal(() => s.jobs.update('k', { handler: 'nobody' }))).field).toBe('handler');
    expect(await s.jobs.get('k')).toEqual(job);
  });

  it('remoteHandlers accepts handlers that other nodes run; * accepts any', async () => {
    const s = await started({ remoteHandlers: ['mailer'] });
    await s.jobs.create({ key: 'mail', handler: 'mailer' });
    await s.enqueue('mailer', {});
    expect((await refusal(() => s.enqueue('mailr', {}))).rule).toBe('unknown-handler');
    const any = h.scheduler({ remoteHandlers: '*' });
    await any.enqueue('whatever', {});
    expect((await h.store.listRuns({ app: 'test' })).items).toHaveLength(2);
  });

  it('the constructor refuses unknown and bad options', async () => {
    h = new Harness();
    expect((await refusal(() => h.scheduler({ concurency: 5 } as never))).field).toBe('options.concurency');
    expect((await refusal(() => h.scheduler({ concurrency: 0 }))).field).toBe('options.concurrency');
    expect((await refusal(() => h.scheduler({ app: 'bad app' }))).field).toBe('options.app');
    expect((await refusal(() => h.scheduler({ heartbeatInterval: 'often' }))).field).toBe(
      'options.heartbeatInterval',
    );
    expect((await refusal(() => h.scheduler({ misfireThreshold: -1 }))).field).toBe(
      'options.misfireThreshold',
    );
  });

  it('handle() refuses a duplicate name and a non-function', async () => {
    h = new Harness();
    const s = h.scheduler();
    s.handle('a', () => {});
    expect((await refusal(() => s.handle('a', () => {}))).rule).toBe('duplicate');
    expect((await refusal(() => s.handle('b', 'nope' as never))).rule).toBe('type');
    expect((await refusal(() => s.handle('', () => {}))).field).toBe('handler');
  });
});
