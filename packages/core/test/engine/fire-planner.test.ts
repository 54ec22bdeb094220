import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, type JobRecord, planFire, type Schedule } from '../../src/index';

const T = Date.UTC(2030, 0, 1);
const opts = { misfireThresholdMs: 5_000, maxCatchUp: 3 };

function job(schedule: Schedule, patch: Partial<JobRecord> = {}): JobRecord {
  return {
    app: 'a',
    key: 'j',
    handler: 'h',
    schedule,
    params: {},
    enabled: true,
    routing: { strategy: 'any' },
    block: 'serial',
    misfire: 'fire-once',
    retry: DEFAULT_RETRY,
    timeoutMs: null,
    shards: 1,
    priority: 0,
    owner: null,
    alertContacts: [],
    tags: [],
    description: null,
    source: 'code',
    partition: 0,
    nextFireAt: T,
    lastFireAt: null,
    version: 1,
    createdAt: T,
    updatedAt: T,
    ...patch,
  };
}

describe('planFire', () => {
  it('on time: one run per shard with a fire idempotency key per slot; next follows the fire time', () => {
    const p = planFire(
      job({ kind: 'every', ms: 1_000 }, { routing: { strategy: 'sharded' }, shards: 2 }),
      T + 4_000,
      opts,
    );
    expect(p.misfired).toBe(false);
    expect(p.request).toMatchObject({ expectedNextFireAt: T, lastFireAt: T, nextFireAt: T + 1_000 });
    expect(p.request.runs.map((r) => [r.idempotencyKey, r.shardIndex, r.shardTotal, r.trigger])).toEqual([
      [`fire:j:${T}:0`, 0, 2, 'schedule'],
      [`fire:j:${T}:1`, 1, 2, 'schedule'],
    ]);
  });

  it('ahead of its time (fire ahead): on time, due at the fire time, next after it', () => {
    const p = planFire(job({ kind: 'cron', cron: '* * * * * *' }), T - 400, opts);
    expect(p).toMatchObject({ missed: 1, misfired: false });
    expect(p.request).toMatchObject({ expectedNextFireAt: T, lastFireAt: T, nextFireAt: T + 1_000 });
    expect(p.request.runs.map((r) => [r.trigger, r.scheduledFor, r.dueAt])).toEqual([['schedule', T, T]]);
  });

  it('delay-after: fires with no next time (the store re-arms it when the run ends)', () => {
    const p = planFire(job({ kind: 'delay-after', ms: 60_000 }), T, opts);
    expect(p.request.nextFireAt).toBeNull();
    expect(p.request.runs).toHaveLength(1);
  });

  it('delay-after missed with skip: a skipped run, and it re-arms one delay after now', () => {
    const p = planFire(job({ kind: 'delay-after', ms: 60_000 }, { misfire: 'skip' }), T + 3_600_000, opts);
    expect(p.request.runs.map((r) => r.state)).toEqual(['skipped']);
    expect(p.request.nextFireAt).toBe(T + 3_600_000 + 60_000);
  });

  it('at missed: fire-once runs it (trigger misfire) and it is spent', () => {
    const p = planFire(job({ kind: 'at', at: T }), T + 3_600_000, opts);
    expect(p.request.runs.map((r) => [r.trigger, r.scheduledFor])).toEqual([['misfire', T]]);
    expect(p.request.nextFireAt).toBeNull();
  });

  it('fire-all over a long gap stays bounded and counts the rest', () => {
    const p = planFire(job({ kind: 'every', ms: 1_000 }, { misfire: 'fire-all' }), T + 86_400_000, opts);
    expect(p.missed).toBe(86_401);
    expect(p.request.runs).toHaveLength(4);
    expect(p.request.runs.slice(0, 3).map((r) => r.scheduledFor)).toEqual([T, T + 1_000, T + 2_000]);
    expect(p.request.runs[3]).toMatchObject({ state: 'skipped', scheduledFor: T + 3_000 });
    expect(p.request.runs[3]!.reason).toContain('86398 fire time(s) beyond the catch-up bound of 3');
    expect(p.request.nextFireAt).toBe(T + 86_401_000);
  });

  it('fire-all of a sharded job stays within one store batch', () => {
    const sharded = job(
      { kind: 'every', ms: 1_000 },
      { misfire: 'fire-all', routing: { strategy: 'sharded' }, shards: 300 },
    );
    const p = planFire(sharded, T + 60_000, { misfireThresholdMs: 5_000, maxCatchUp: 100 });
    expect(p.request.runs.length).toBeLessThanOrEqual(1000);
    expect(p.request.runs.filter((r) => r.state !== 'skipped')).toHaveLength(3 * 300);
    expect(p.request.runs.at(-1)).toMatchObject({ state: 'skipped', scheduledFor: T + 3_000 });
  });

  it('a cron missed for a long time counts at most a bounded number of times', () => {
    const p = planFire(
      job({ kind: 'cron', cron: '* * * * * *' }, { misfire: 'skip' }),
      T + 7 * 86_400_000,
      opts,
    );
    expect(p.request.runs[0]!.reason).toContain('at least 1000 fire time(s) missed');
    expect(p.request.nextFireAt).toBe(T + 7 * 86_400_000 + 1_000);
  });
});
