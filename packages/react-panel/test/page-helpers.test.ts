import { describe, expect, it } from 'vitest';
import { OasisApiError } from '../src/client/api-error';
import type { Job, Run } from '../src/client/api-types';
import { auditSummary, changedKeys } from '../src/pages/audit-page';
import {
  EMPTY_FORM,
  formFieldOf,
  formFromJob,
  specFromForm,
  updateMerging,
} from '../src/pages/job-form-page';
import { jobStatus, lastFinishedRuns } from '../src/pages/jobs-page';
import { roleAllows, roleHint } from '../src/panel-context';
import { fieldMessage } from '../src/ui/components';
import { describeSchedule, formatDuration, formatRelative, parseLocalDateTime } from '../src/ui/format';

const job = (over: Partial<Job> = {}): Job => ({
  app: 'a',
  key: 'k',
  handler: 'h',
  schedule: { kind: 'cron', cron: '*/5 * * * * *', tz: 'Europe/Paris' },
  params: { a: 1 },
  enabled: true,
  routing: { strategy: 'any' },
  block: 'serial',
  misfire: 'fire-once',
  retry: { maxAttempts: 3, backoff: 'fixed', delayMs: 2000, maxDelayMs: 60000, jitter: 0 },
  timeoutMs: 5000,
  shards: 1,
  priority: 2,
  owner: null,
  alertContacts: [],
  tags: ['x', 'y'],
  description: null,
  source: 'admin',
  nextFireAt: null,
  lastFireAt: null,
  version: 4,
  createdAt: 0,
  updatedAt: 0,
  ...over,
});

const run = (jobKey: string, state: Run['state']) => ({ jobKey, state }) as Run;

describe('job form', () => {
  it('makes the spec the API takes from what was typed', () => {
    const spec = specFromForm({
      ...EMPTY_FORM,
      key: ' nightly ',
      handler: 'tick',
      cron: '0 3 * * *',
      tz: 'Asia/Tokyo',
      tags: 'a, ,b',
      timeout: '30s',
      retryDelay: '500',
      maxAttempts: '4',
    });
    expect(spec).toMatchObject({
      key: 'nightly',
      handler: 'tick',
      schedule: { cron: '0 3 * * *', tz: 'Asia/Tokyo' },
      params: {},
      tags: ['a', 'b'],
      timeout: '30s',
      retry: { maxAttempts: 4, backoff: 'exponential', delay: 500 },
      owner: null,
    });
    expect(specFromForm({ ...EMPTY_FORM, scheduleKind: 'manual' }).schedule).toBeNull();
    expect(specFromForm({ ...EMPTY_FORM, scheduleKind: 'every', every: '15s' }).schedule).toEqual({
      every: '15s',
    });
    // A number that is not one goes as typed, so the API names the field.
    expect(specFromForm({ ...EMPTY_FORM, shards: 'two' }).shards).toBe('two');
  });

  it('refuses params that are not JSON, naming the field', () => {
    expect(() => specFromForm({ ...EMPTY_FORM, params: '{oops' })).toThrow(
      expect.objectContaining({ field: 'params' }),
    );
  });

  it('round-trips a job through the form', () => {
    const values = formFromJob(job());
    expect(values).toMatchObject({
      key: 'k',
      cron: '*/5 * * * * *',
      tz: 'Europe/Paris',
      maxAttempts: '3',
      retryDelay: '2000ms',
      timeout: '5000ms',
      tags: 'x, y',
    });
    expect(specFromForm(values)).toMatchObject({
      schedule: { cron: '*/5 * * * * *', tz: 'Europe/Paris' },
      params: { a: 1 },
      priority: 2,
    });
    expect(formFromJob(job({ schedule: { kind: 'every', ms: 1500 } })).every).toBe('1500ms');
  });

  it("puts each API error next to the field it names, whatever the schedule's kind", () => {
    expect(formFieldOf('schedule.cron', 'cron')).toBe('cron');
    expect(formFieldOf('schedule', 'cron')).toBe('cron');
    expect(formFieldOf('cron', 'cron')).toBe('cron');
    expect(formFieldOf('schedule.tz', 'cron')).toBe('tz');
    expect(formFieldOf('tz', 'cron')).toBe('tz');
    expect(formFieldOf('schedule.every', 'every')).toBe('every');
    expect(formFieldOf('schedule', 'delay-after')).toBe('delayAfter');
    expect(formFieldOf('retry.delay', 'cron')).toBe('retryDelay');
    expect(formFieldOf('retry.maxAttempts', 'cron')).toBe('maxAttempts');
    expect(formFieldOf('params.deep.x', 'cron')).toBe('params');
    expect(formFieldOf('tags.3', 'cron')).toBe('tags');
    expect(formFieldOf('handler', 'cron')).toBe('handler');
    expect(formFieldOf('alertContacts.0', 'cron')).toBeNull();
    expect(formFieldOf(null, 'cron')).toBeNull();
  });

  it('shows an error without the field prefix the label already gives', () => {
    const err = Object.assign(new Error("schedule.cron: 'x' is not a valid cron"), {
      field: 'schedule.cron',
    });
    expect(fieldMessage(err)).toBe("'x' is not a valid cron");
    expect(fieldMessage(Object.assign(new Error('plain'), { field: 'key' }))).toBe('plain');
  });
});

describe('job states', () => {
  it('is paused when disabled, failing when its last finished run failed, else active', () => {
    const last = lastFinishedRuns([
      run('a', 'running'),
      run('a', 'dead'),
      run('a', 'succeeded'),
      run('b', 'skipped'),
      run('b', 'succeeded'),
    ]);
    expect(last.get('a')!.state).toBe('dead');
    expect(last.get('b')!.state).toBe('succeeded');
    expect(jobStatus(job(), last.get('a'))).toBe('failing');
    expect(jobStatus(job(), last.get('b'))).toBe('active');
    expect(jobStatus(job({ enabled: false }), last.get('a'))).toBe('paused');
    expect(jobStatus(job(), undefined)).toBe('active');
  });
});

describe('audit and roles', () => {
  it('lists the keys that changed', () => {
    expect(changedKeys({ a: 1, b: [1], c: 3 }, { a: 1, b: [2], d: 4 })).toEqual(['b', 'c', 'd']);
    expect(changedKeys(null, { a: 1 })).toEqual(['a']);
    expect(auditSummary('job.create', null, { a: 1 })).toBe('created');
    expect(auditSummary('job.trigger', null, { runs: [] })).toBe('details');
    expect(auditSummary('job.delete', { a: 1 }, null)).toBe('removed');
    expect(auditSummary('job.update', { a: 1, v: 1 }, { a: 1, v: 2 })).toBe('v');
  });

  it('ranks roles', () => {
    expect(roleAllows('operator', 'viewer')).toBe(true);
    expect(roleAllows('operator', 'admin')).toBe(false);
    expect(roleAllows(null, 'viewer')).toBe(false);
    expect(roleHint('viewer', 'operator')).toBe('needs the operator role (you are viewer)');
    expect(roleHint('admin', 'operator')).toBeUndefined();
  });
});

describe('format', () => {
  it('formats durations, relative times and schedules', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(4200)).toBe('4.2 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(null)).toBe('—');
    expect(formatRelative(10_000, 4_000)).toBe('in 6.0 s');
    expect(formatRelative(0, 12_000)).toBe('12 s ago');
    expect(describeSchedule({ kind: 'every', ms: 15_000 })).toBe('every 15 s');
    expect(describeSchedule({ kind: 'manual' })).toBe('manual only');
    expect(parseLocalDateTime('')).toBeUndefined();
    expect(parseLocalDateTime('nope')).toBeUndefined();
  });
});

describe('updateMerging', () => {
  /** A client whose job is at `current`; an update with another version is a 409, as the API answers. */
  const clientAt = (current: () => Job) => {
    const sent: number[] = [];
    return {
      sent,
      getJob: async () => current(),
      updateJob: async (_key: string, patch: Record<string, unknown>) => {
        sent.push(patch.expectedVersion as number);
        if (patch.expectedVersion !== current().version) {
          throw new OasisApiError(409, 'CONFLICT', 'job is at another version');
        }
        return { ...current(), ...patch, version: current().version + 1 } as Job;
      },
    };
  };

  it('retries with the current version when the job only fired since the form loaded', async () => {
    const base = job({ version: 4 });
    const fired = job({ version: 7, nextFireAt: 9_000, lastFireAt: 8_000, updatedAt: 8_000 });
    const client = clientAt(() => fired);
    const saved = await updateMerging(client, 'k', base, { priority: 5 });
    expect(client.sent).toEqual([4, 7]);
    expect(saved.priority).toBe(5);
  });

  it('keeps the conflict when someone else changed the definition', async () => {
    const base = job({ version: 4 });
    const edited = job({ version: 5, priority: 9 });
    const client = clientAt(() => edited);
    await expect(updateMerging(client, 'k', base, { priority: 5 })).rejects.toMatchObject({ status: 409 });
    expect(client.sent).toEqual([4]);
  });
});
