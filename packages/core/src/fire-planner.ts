/**
 * What one fire of a due job materializes: the runs to insert, the next fire time, and how the
 * misfire policy treats fire times that were missed. Pure: no store, no clock.
 */
import type { JobRecord, RunDraft, RunTrigger } from './model';
import { nextFireAfter } from './schedule';
import { type FireRequest, STORE_LIMITS } from './store/store';

/** Tuning of `planFire`. */
export interface FirePlanOptions {
  /** A fire time older than this (ms before store now) is a misfire. */
  misfireThresholdMs: number;
  /** `fire-all` runs at most this many missed times; the rest are recorded as one skipped run. */
  maxCatchUp: number;
}

/** How many missed fire times are counted exactly at most; beyond, the count says "at least". */
export const MISSED_COUNT_LIMIT = 1_000;

/** A fire request plus what the engine reports about it. */
export interface FirePlan {
  request: FireRequest;
  /** How many fire times this fire stands for (1 when on time). */
  missed: number;
  /** True when the misfire policy applied. */
  misfired: boolean;
}

/** The idempotency key of a fire's run: unique per job, fire time and slot (shard). */
export function fireIdempotencyKey(jobKey: string, scheduledFor: number, slot: number): string {
  return `fire:${jobKey}:${scheduledFor}:${slot}`;
}

/**
 * Plans the fire of `job` (whose `nextFireAt` is due, or ahead of `now` when the engine fires
 * ahead) at store time `now`.
 * - On time (at most `misfireThresholdMs` late, or still to come): the runs of `nextFireAt`, due
 *   at that time (`dueAt`), so that a fire planned ahead is not claimable before it; the next
 *   fire time follows it (a cron or `every` still behind catches up fire by fire).
 * - Late: the misfire policy over every fire time in [nextFireAt, now]: `skip` records one
 *   skipped run saying how many were missed; `fire-once` makes one run (trigger `misfire`) for
 *   the latest missed time; `fire-all` makes one run per missed time up to `maxCatchUp` and one
 *   skipped run for the rest. The next fire time is then the first after `now`.
 * `delay-after` jobs wait for their run to end (next null), except a skipped misfire, which
 * re-arms them one delay after `now`; `at` jobs have no next fire.
 */
export function planFire(job: JobRecord, now: number, options: FirePlanOptions): FirePlan {
  const t = job.nextFireAt;
  if (t === null) throw new Error(`job '${job.key}' has no nextFireAt to fire`);
  const late = now - t > options.misfireThresholdMs;
  const s = job.schedule;
  const repeats = s.kind === 'cron' || s.kind === 'every';

  if (!late) {
    return {
      request: {
        jobKey: job.key,
        expectedNextFireAt: t,
        nextFireAt: repeats ? nextFireAfter(s, t, t) : null,
        lastFireAt: t,
        runs: runsFor(job, t, 'schedule'),
      },
      missed: 1,
      misfired: false,
    };
  }

  // The missed fire times in [t, now], the first `cap` of them, and how many in all.
  const cap = Math.max(1, options.maxCatchUp) + 1;
  const times: number[] = [t];
  let count = 1;
  let last = t;
  if (s.kind === 'every') {
    count = Math.floor((now - t) / s.ms) + 1;
    last = t + (count - 1) * s.ms;
    for (let i = 1; i < Math.min(count, cap); i++) times.push(t + i * s.ms);
  } else if (s.kind === 'cron') {
    for (;;) {
      const n = nextFireAfter(s, t, last);
      if (n === null || n > now || count >= MISSED_COUNT_LIMIT) break;
      count++;
      last = n;
      if (times.length < cap) times.push(n);
    }
  }
  const next = repeats ? nextFireAfter(s, t, now) : null;
  const countText = count >= MISSED_COUNT_LIMIT && s.kind === 'cron' ? `at least ${count}` : `${count}`;
  const span = `${iso(t)}${count > 1 ? ` to ${iso(last)}` : ''}`;

  let runs: RunDraft[];
  let nextFireAt = next;
  switch (job.misfire) {
    case 'skip':
      runs = [
        skipped(job, t, `misfire: ${countText} fire time(s) missed (${span}), skipped by the misfire policy`),
      ];
      if (s.kind === 'delay-after') nextFireAt = now + s.ms;
      break;
    case 'fire-once':
      runs = runsFor(job, last, 'misfire');
      break;
    case 'fire-all': {
      // Bounded by the catch-up option and by one store batch (runs of every shard plus the skipped one).
      const perFire = job.routing.strategy === 'sharded' ? Math.max(1, job.shards) : 1;
      const bound = Math.max(
        1,
        Math.min(options.maxCatchUp, Math.floor((STORE_LIMITS.maxBatch - 1) / perFire)),
      );
      runs = times.slice(0, bound).flatMap((ft) => runsFor(job, ft, 'misfire'));
      if (count > bound) {
        const first = times[bound]!;
        runs.push(
          skipped(
            job,
            first,
            `misfire: ${count - bound} fire time(s) beyond the catch-up bound of ${bound} skipped (${iso(first)} to ${iso(last)})`,
          ),
        );
      }
      break;
    }
  }
  return {
    request: { jobKey: job.key, expectedNextFireAt: t, nextFireAt, lastFireAt: last, runs },
    missed: count,
    misfired: true,
  };
}

/** The runs of one fire time: one, or one per shard for sharded jobs. */
export function runsFor(job: JobRecord, scheduledFor: number, trigger: RunTrigger): RunDraft[] {
  const total = job.routing.strategy === 'sharded' ? Math.max(1, job.shards) : 1;
  const out: RunDraft[] = [];
  for (let i = 0; i < total; i++) {
    // One literal, not a spread of `baseDraft`: this runs for every fire (hot in the burst bench).
    out.push({
      app: job.app,
      jobKey: job.key,
      handler: job.handler,
      params: job.params,
      trigger,
      scheduledFor,
      attempt: 1,
      retry: job.retry,
      timeoutMs: job.timeoutMs,
      priority: job.priority,
      block: job.block,
      routing: job.routing.strategy,
      targetNode: null,
      parentRunId: null,
      dueAt: scheduledFor,
      shardIndex: i,
      shardTotal: total,
      idempotencyKey: fireIdempotencyKey(job.key, scheduledFor, i),
    });
  }
  return out;
}

function skipped(job: JobRecord, scheduledFor: number, reason: string): RunDraft {
  return {
    ...baseDraft(job, scheduledFor, 'misfire'),
    dueAt: scheduledFor,
    shardIndex: 0,
    shardTotal: 1,
    idempotencyKey: fireIdempotencyKey(job.key, scheduledFor, 0),
    state: 'skipped',
    reason,
  };
}

/** The fields of a run draft that come from its job. */
export function baseDraft(
  job: JobRecord,
  scheduledFor: number,
  trigger: RunTrigger,
): Omit<RunDraft, 'shardIndex' | 'shardTotal' | 'idempotencyKey'> {
  return {
    app: job.app,
    jobKey: job.key,
    handler: job.handler,
    params: job.params,
    trigger,
    scheduledFor,
    attempt: 1,
    retry: job.retry,
    timeoutMs: job.timeoutMs,
    priority: job.priority,
    block: job.block,
    routing: job.routing.strategy,
    targetNode: null,
    parentRunId: null,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
