/**
 * Schedules: parsing what users write into the model's `Schedule`, and computing fire times.
 * Cron goes through croner (5 or 6 fields, seconds first when 6, IANA time zones, DST-aware).
 *
 * DST, as croner computes it and as the docs state:
 * - a local time that does not exist (spring forward, e.g. 02:30 in Europe/Paris on the last
 *   Sunday of March) fires once, at the same offset past the jump (03:30 local);
 * - a local time that happens twice (fall back, e.g. 02:30 on the last Sunday of October) fires
 *   once, at its second occurrence (standard time).
 */
import { Cron } from 'croner';
import { type Duration, describeType, parseDuration } from './duration';
import { ValidationError } from './errors';
import type { Schedule } from './model';
import { checkKnownKeys, checkString, checkTime, joinPath, requireObject } from './validation';

/**
 * A schedule as users write it:
 * - a cron string (`'0 0 2 * * *'`, UTC) or `{ cron, tz }`;
 * - `{ every: '5s' }`: fixed rate, aligned on the first fire (one period after creation);
 * - `{ delayAfter: '1m' }`: fixed delay after the previous run ends (first fire one delay after creation);
 * - `{ at: Date | ms | ISO string }`: once;
 * - `null`: manual or API triggers only;
 * - or the model's own form (`{ kind: 'cron', cron, tz }`…), as read from a job record.
 */
export type ScheduleInput =
  | string
  | { cron: string; tz?: string }
  | { every: Duration }
  | { delayAfter: Duration }
  | { at: Date | number | string }
  | Schedule
  | null;

/** The shortest `every` period accepted, ms. */
export const MIN_EVERY_MS = 100;

const CRON_CACHE_MAX = 20_000;
const cronCache = new Map<string, Cron>();

/**
 * Parses and checks a schedule (treat it as read-only: cron schedules are shared, frozen
 * instances). Throws `ValidationError` naming `schedule.cron` (rule `cron`)
 * for a bad pattern, `schedule.tz` (rule `time-zone`) for an unknown zone, `schedule.every` or
 * `schedule.delayAfter` (rule `duration`/`min`) for bad periods, `schedule.at` (rule `time`),
 * or `schedule.<key>` (rule `unknown-key`) for an unknown key.
 */
export function parseSchedule(input: unknown, field = 'schedule'): Schedule {
  if (input === null || input === undefined) return { kind: 'manual' };
  if (typeof input === 'string') return parseCron(input, undefined, field, joinPath(field, 'cron'));
  const obj = requireObject(input, field);
  if ('kind' in obj) return parseModelSchedule(obj, field);
  const kinds = ['cron', 'every', 'delayAfter', 'at'].filter((k) => k in obj);
  if (kinds.length !== 1) {
    if (kinds.length === 0) checkKnownKeys(obj, ['cron', 'tz', 'every', 'delayAfter', 'at'], field);
    throw new ValidationError(
      field,
      'schedule',
      kinds.length === 0
        ? 'needs one of cron, every, delayAfter or at (or null for manual only)'
        : `takes one of cron, every, delayAfter or at, got ${kinds.join(' and ')}`,
    );
  }
  const kind = kinds[0]!;
  if (kind === 'cron') {
    checkKnownKeys(obj, ['cron', 'tz'], field);
    return parseCron(obj.cron, obj.tz, field, joinPath(field, 'cron'));
  }
  checkKnownKeys(obj, [kind], field);
  if (kind === 'every') return { kind: 'every', ms: parsePeriod(obj.every, joinPath(field, 'every')) };
  if (kind === 'delayAfter') {
    return { kind: 'delay-after', ms: parsePeriod(obj.delayAfter, joinPath(field, 'delayAfter')) };
  }
  return { kind: 'at', at: checkTime(obj.at, joinPath(field, 'at')) };
}

function parseModelSchedule(obj: Record<string, unknown>, field: string): Schedule {
  switch (obj.kind) {
    case 'cron':
      checkKnownKeys(obj, ['kind', 'cron', 'tz'], field);
      return parseCron(obj.cron, obj.tz, field, joinPath(field, 'cron'));
    case 'every':
    case 'delay-after':
      checkKnownKeys(obj, ['kind', 'ms'], field);
      return { kind: obj.kind, ms: parsePeriod(obj.ms, joinPath(field, 'ms')) };
    case 'at':
      checkKnownKeys(obj, ['kind', 'at'], field);
      return { kind: 'at', at: checkTime(obj.at, joinPath(field, 'at')) };
    case 'manual':
      checkKnownKeys(obj, ['kind'], field);
      return { kind: 'manual' };
    default:
      throw new ValidationError(
        joinPath(field, 'kind'),
        'enum',
        `must be one of 'cron', 'every', 'delay-after', 'at', 'manual'`,
      );
  }
}

function parsePeriod(value: unknown, field: string): number {
  const ms = parseDuration(value, field);
  if (ms < MIN_EVERY_MS) {
    throw new ValidationError(field, 'min', `must be at least ${MIN_EVERY_MS} ms, got ${ms}`);
  }
  return ms;
}

function parseCron(pattern: unknown, tz: unknown, field: string, cronField: string): Schedule {
  const cron = checkString(pattern, cronField, { max: 200 }).trim().replace(/\s+/g, ' ');
  let zone: string | undefined;
  if (tz !== undefined && tz !== null) {
    zone = checkString(tz, joinPath(field, 'tz'), { max: 64 });
    if (!isTimeZone(zone)) {
      throw new ValidationError(
        joinPath(field, 'tz'),
        'time-zone',
        `'${zone}' is not a known IANA time zone (e.g. 'Europe/Paris', 'America/New_York', 'UTC')`,
      );
    }
  }
  let c: Cron;
  try {
    c = cronFor(cron, zone);
  } catch (err) {
    throw new ValidationError(cronField, 'cron', `'${cron}' is not a valid cron: ${messageOf(err)}`, {
      cause: err,
    });
  }
  if (!firesAtAll(c)) throw new ValidationError(cronField, 'cron', `'${cron}' never fires`);
  const key = `${zone ?? 'UTC'}|${cron}`;
  let schedule = cronSchedules.get(key);
  if (schedule === undefined) {
    schedule = Object.freeze(
      zone === undefined || zone === 'UTC' ? { kind: 'cron', cron } : { kind: 'cron', cron, tz: zone },
    );
    if (cronSchedules.size >= CRON_CACHE_MAX) cronSchedules.clear();
    cronSchedules.set(key, schedule);
  }
  return schedule;
}

/**
 * Parsed cron schedules, one frozen instance per (zone, pattern): jobs declared with the same
 * cron share it (and its pattern string) instead of each holding a copy.
 */
const cronSchedules = new Map<string, Schedule>();

/** True for a time zone name that this runtime's Intl knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function cronFor(pattern: string, tz: string | undefined, offsetMinutes?: number): Cron {
  const key = offsetMinutes === undefined ? `${tz ?? 'UTC'}|${pattern}` : `@${offsetMinutes}|${pattern}`;
  let c = cronCache.get(key);
  if (c === undefined) {
    // Fixed offsets (UTC included) avoid croner's time-zone path, which costs ~100x more per
    // next-time because it formats dates through a new Intl formatter each time.
    const fixed = offsetMinutes ?? (tz === undefined || tz === 'UTC' ? 0 : undefined);
    c = new Cron(
      pattern,
      fixed === undefined ? { timezone: tz, paused: true } : { utcOffset: fixed, paused: true },
    );
    if (cronCache.size >= CRON_CACHE_MAX) cronCache.clear();
    cronCache.set(key, c);
  }
  return c;
}

/** Whether a (cached) cron fires at all, remembered per instance: one next-time computation each. */
const firesCache = new WeakMap<Cron, boolean>();

function firesAtAll(c: Cron): boolean {
  let fires = firesCache.get(c);
  if (fires === undefined) {
    fires = c.nextRun(new Date(Date.UTC(2000, 0, 1))) !== null;
    firesCache.set(c, fires);
  }
  return fires;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** The UTC offset of a time zone at a point in time, in minutes (UTC+2 is 120). */
export function zoneOffsetMinutes(tz: string, ms: number): number {
  let f = offsetFormatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offsetFormatters.set(tz, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(ms))) parts[p.type] = Number(p.value);
  const local = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  );
  return Math.round((local - Math.floor(ms / 1000) * 1000) / 60_000);
}

const HOUR = 3_600_000;
const WEEK = 7 * 86_400_000;

/**
 * The next cron time in a zone. Fast path: the zone's offset at `after` as a fixed offset; its
 * answer is exact when no offset change happens between `after` and 3 h past the answer (checked).
 * Otherwise (a DST change is near) croner's own time-zone path decides, so DST behaves as
 * documented above.
 */
function nextZonedCronAfter(pattern: string, tz: string, after: number): number | null {
  const off = zoneOffsetMinutes(tz, after);
  const fast = cronFor(pattern, undefined, off).nextRun(new Date(after));
  if (fast !== null) {
    const t = fast.getTime();
    if (
      t - after <= WEEK &&
      zoneOffsetMinutes(tz, t - 3 * HOUR) === off &&
      zoneOffsetMinutes(tz, t + 3 * HOUR) === off &&
      zoneOffsetMinutes(tz, t) === off
    ) {
      return t;
    }
  }
  const next = cronFor(pattern, tz).nextRun(new Date(after));
  return next === null ? null : next.getTime();
}

/**
 * The first fire time of a schedule made (or re-enabled, or changed) at store time `now`:
 * the next cron time after `now`; `now + ms` for `every` and `delay-after`; the time of `at`
 * (even when past: the misfire policy then decides); null for manual.
 */
export function firstFireAt(schedule: Schedule, now: number): number | null {
  switch (schedule.kind) {
    case 'cron':
      return nextCronAfter(schedule, now);
    case 'every':
    case 'delay-after':
      return now + schedule.ms;
    case 'at':
      return schedule.at;
    case 'manual':
      return null;
  }
}

/**
 * The next fire time strictly after `after`, for a schedule whose fire time `anchor` is known:
 * cron ignores the anchor; `every` stays aligned on it (`anchor + k * ms`). Null for schedules
 * that do not repeat by themselves (`at`, `delay-after`, manual).
 */
export function nextFireAfter(schedule: Schedule, anchor: number, after: number): number | null {
  switch (schedule.kind) {
    case 'cron':
      return nextCronAfter(schedule, after);
    case 'every': {
      if (after < anchor) return anchor;
      return anchor + schedule.ms * (Math.floor((after - anchor) / schedule.ms) + 1);
    }
    default:
      return null;
  }
}

/**
 * The last answer per (zone, pattern): jobs sharing a cron pattern fire at the same instants, so
 * a batch of them asks the same question over and over (1,000 jobs on `* * * * * *` ask it 1,000
 * times a second, at ~30 µs of croner each).
 */
const lastNext = new Map<string, { after: number; next: number | null }>();

function nextCronAfter(schedule: Extract<Schedule, { kind: 'cron' }>, after: number): number | null {
  const zoned = schedule.tz !== undefined && schedule.tz !== 'UTC';
  const key = zoned ? `${schedule.tz}|${schedule.cron}` : schedule.cron;
  const last = lastNext.get(key);
  if (last !== undefined && last.after === after) return last.next;
  let next: number | null;
  if (zoned) next = nextZonedCronAfter(schedule.cron, schedule.tz!, after);
  else next = cronFor(schedule.cron, undefined).nextRun(new Date(after))?.getTime() ?? null;
  if (last !== undefined) {
    last.after = after;
    last.next = next;
  } else {
    if (lastNext.size >= CRON_CACHE_MAX) lastNext.clear();
    lastNext.set(key, { after, next });
  }
  return next;
}

/**
 * Up to `count` fire times strictly after `from` (a preview for the admin API). For `every`,
 * `from` is taken as the anchor.
 */
export function previewFireTimes(schedule: Schedule, from: number, count: number): number[] {
  const out: number[] = [];
  if (schedule.kind === 'at') return schedule.at > from ? [schedule.at] : [];
  if (schedule.kind === 'delay-after') return [from + schedule.ms];
  let t: number | null = from;
  while (out.length < count) {
    t = nextFireAfter(schedule, from, t);
    if (t === null) break;
    out.push(t);
  }
  return out;
}

/** A readable one-liner of a schedule, for logs and errors. */
export function describeSchedule(schedule: Schedule): string {
  switch (schedule.kind) {
    case 'cron':
      return `cron '${schedule.cron}' (${schedule.tz ?? 'UTC'})`;
    case 'every':
      return `every ${schedule.ms} ms`;
    case 'delay-after':
      return `${schedule.ms} ms after each run ends`;
    case 'at':
      return `once at ${new Date(schedule.at).toISOString()}`;
    case 'manual':
      return 'manual';
  }
}

/** True when two schedules are the same definition. */
export function sameSchedule(a: Schedule, b: Schedule): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(s: Schedule): unknown {
  switch (s.kind) {
    case 'cron':
      return [s.kind, s.cron, s.tz ?? 'UTC'];
    case 'every':
    case 'delay-after':
      return [s.kind, s.ms];
    case 'at':
      return [s.kind, s.at];
    case 'manual':
      return [s.kind];
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : describeType(err);
}
