/** Formatting of times, durations and schedules for the panel (pure functions). */
import type { Json, Schedule } from '../client/api-types';

/** A duration in ms as `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) return `${Math.floor(abs / 60_000)} min ${Math.floor((abs % 60_000) / 1000)} s`;
  if (abs < 86_400_000)
    return `${Math.floor(abs / 3_600_000)} h ${Math.floor((abs % 3_600_000) / 60_000)} min`;
  return `${Math.floor(abs / 86_400_000)} d ${Math.floor((abs % 86_400_000) / 3_600_000)} h`;
}

/** A time relative to `now`: `in 4.0 s`, `12 s ago`, `just now`. */
export function formatRelative(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return '—';
  const diff = at - now;
  if (Math.abs(diff) < 1000) return 'just now';
  return diff > 0 ? `in ${formatDuration(diff)}` : `${formatDuration(-diff)} ago`;
}

/** A time as local `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return '—';
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A schedule in a few words: `cron 0 9 * * 1 (Europe/Paris)`, `every 15 s`, `manual only`. */
export function describeSchedule(s: Schedule): string {
  switch (s.kind) {
    case 'cron':
      return `cron ${s.cron}${s.tz ? ` (${s.tz})` : ''}`;
    case 'every':
      return `every ${formatDuration(s.ms)}`;
    case 'delay-after':
      return `${formatDuration(s.ms)} after each run`;
    case 'at':
      return `once at ${formatTime(s.at)}`;
    case 'manual':
      return 'manual only';
  }
}

/** JSON for display, compact for small values. */
export function formatJson(value: Json | undefined): string {
  if (value === undefined) return '';
  const compact = JSON.stringify(value);
  return compact.length <= 80 ? compact : JSON.stringify(value, null, 2);
}

/** A `datetime-local` input's value as ms, or undefined when empty or invalid. */
export function parseLocalDateTime(value: string): number | undefined {
  if (value.trim() === '') return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}
