import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../../src/index';
import { Harness, T0 } from './harness';

describe('scheduler.jobs', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  async function started() {
    h = new Harness();
    const s = h.scheduler();
    s.handle('report', () => 'ok');
    s.handle('mail', () => 'sent');
    await s.start();
    return s;
  }

  it('creates with defaults, reads, lists with filters and refuses a duplicate key', async () => {
    const s = await started();
    const job = await s.jobs.create({
      key: 'nightly',
      handler: 'report',
      schedule: { cron: '0 0 2 * * *', tz: 'Europe/Paris' },
      tags: ['finance'],
      description: 'The nightly report',
    });
    expect(job).toMatchObject({
      app: 'test',
      key: 'nightly',
      source: 'admin',
      enabled: true,
      block: 'serial',
      misfire: 'fire-once',
      routing: { strategy: 'any' },
      retry: { maxAttempts: 1 },
      timeoutMs: null,
      shards: 1,
      params: {},
      version: 1,
      nextFireAt: Date.parse('2030-01-01T01:00:00Z'), // 02:00 in Paris (CET)
    });
    await s.jobs.create({ key: 'mailer', handler: 'mail', schedule: { every: '5m' } });
    await expect(s.jobs.create({ key: 'nightly', handler: 'report' })).rejects.toBeInstanceOf(ConflictError);
    expect(await s.jobs.get('nightly')).toEqual(job);
    expect(await s.jobs.get('nope')).toBeNull();
    expect((await s.jobs.list()).items.map((j) => j.key)).toEqual(['mailer', 'nightly']);
    expect((await s.jobs.list({ tag: 'finance' })).items.map((j) => j.key)).toEqual(['nightly']);
    expect((await s.jobs.list({ search: 'NIGHTLY REP' })).items).toHaveLength(1);
    expect((await s.jobs.list({ handler: 'mail' })).items.map((j) => j.key)).toEqual(['mailer']);
    const page = await s.jobs.list({}, { limit: 1 });
    expect(page.items.map((j) => j.key)).toEqual(['mailer']);
    expect((await s.jobs.list({}, { limit: 1, cursor: page.nextCursor })).items.map((j) => j.key)).toEqual([
      'nightly',
    ]);
  });

  it('updates with compare-and-set; a new schedule restarts its fire times', async () => {
    const s = await started();
    const job = await s.jobs.create({ key: 'k', handler: 'report', schedule: { every: '1h' } });
    await h.advance(60_000);
    const v2 = await s.jobs.update('k', { params: { x: 1 }, priority: 5 });
    expect(v2).toMatchObject({ version: 2, params: { x: 1 }, priority: 5, nextFireAt: job.nextFireAt });
    await expect(s.jobs.update('k', { priority: 6 }, { expectedVersion: 1 })).rejects.toBeInstanceOf(
      ConflictError,
    );
    const v3 = await s.jobs.update('k', { schedule: { every: '10m' } }, { expectedVersion: 2 });
    expect(v3.nextFireAt).toBe(T0 + 60_000 + 600_000);
    await expect(s.jobs.update('missing', { priority: 1 })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes a job and cancels its pending runs', async () => {
    const s = await started();
    await s.jobs.create({ key: 'k', handler: 'report' });
    await s.stop(); // nothing claims: the triggered run stays pending
    const [run] = await s.jobs.trigger('k');
    const deleted = await s.jobs.delete('k');
    expect(deleted?.key).toBe('k');
    expect(await s.jobs.get('k')).toBeNull();
    expect((await s.getRun(run!.id))?.state).toBe('cancelled');
    expect(await s.jobs.delete('k')).toBeNull();
  });

  it('batch enables, disables, triggers and deletes; each key on its own', async () => {
    const s = await started();
    await s.jobs.create({ key: 'a', handler: 'report', schedule: { every: '1m' } });
    await s.jobs.create({ key: 'b', handler: 'report', schedule: { every: '1m' } });
    const disabled = await s.jobs.batch({ action: 'disable', keys: ['a', 'b', 'zz'] });
    expect(disabled.map((r) => [r.key, r.ok, r.error?.code])).toEqual([
      ['a', true, undefined],
      ['b', true, undefined],
      ['zz', false, 'NOT_FOUND'],
    ]);
    expect((await s.jobs.list({ enabled: false })).items).toHaveLength(2);
    const triggered = await s.jobs.batch({ action: 'trigger', keys: ['a'], params: { p: 1 } });
    expect(triggered[0]!.runs?.[0]).toMatchObject({ jobKey: 'a', params: { p: 1 }, trigger: 'manual' });
    await h.clock.flush();
    expect((await h.runs({ jobKey: 'a' }))[0]?.state).toBe('succeeded');
    await s.jobs.batch({ action: 'enable', keys: ['a'] });
    expect((await s.jobs.get('a'))?.enabled).toBe(true);
    const deleted = await s.jobs.batch({ action: 'delete', keys: ['a', 'b'] });
    expect(deleted.every((r) => r.ok)).toBe(true);
    expect((await s.jobs.list()).items).toEqual([]);
    await expect(s.jobs.batch({ action: 'explode' as never, keys: ['a'] })).rejects.toMatchObject({
      field: 'batch.action',
    });
  });

  it('previews the next fire times of a schedule', async () => {
    const s = await started();
    expect(await s.jobs.preview('0 */15 * * * *', 3)).toEqual([T0 + 900_000, T0 + 1_800_000, T0 + 2_700_000]);
    await expect(s.jobs.preview('61 * * * *')).rejects.toMatchObject({ field: 'schedule.cron' });
  });

  it('writes an audit entry per change, with the actor', async () => {
    const s = await started();
    await s.jobs.create({ key: 'k', handler: 'report' }, { actor: 'alice' });
    await s.jobs.update('k', { priority: 2 }, { actor: 'bob' });
    await s.jobs.trigger('k', { actor: 'carol' });
    await s.jobs.delete('k', { actor: 'dave' });
    const audit = await h.store.listAudit({ app: 'test' });
    expect(audit.items.map((e) => [e.actor, e.action, e.targetId]).reverse()).toEqual([
      ['alice', 'job.create', 'k'],
      ['bob', 'job.update', 'k'],
      ['carol', 'job.trigger', 'k'],
      ['dave', 'job.delete', 'k'],
    ]);
  });
});
