import { sql } from 'kysely';
import type { StatsDelta, Trx } from './dialect';

/** The stats columns of one delta, as a row. */
export function statsRow(d: StatsDelta): Record<string, unknown> {
  return {
    app: d.app,
    job_key: d.jobKey,
    hour: d.hour,
    succeeded: d.succeeded,
    failed: d.failed,
    dead: d.dead,
    timed_out: d.timedOut,
    cancelled: d.cancelled,
    lost: d.lost,
    skipped: d.skipped,
    total_duration_ms: d.totalDurationMs,
    max_duration_ms: d.maxDurationMs,
  };
}

/** The counters added on a bucket conflict. */
export const STATS_COUNTERS = [
  'succeeded',
  'failed',
  'dead',
  'timed_out',
  'cancelled',
  'lost',
  'skipped',
  'total_duration_ms',
] as const;

/**
 * `INSERT … ON CONFLICT (app, job_key, hour) DO UPDATE` adding the counters, not executed:
 * PostgreSQL and SQLite spell it the same but for the two-argument max (`GREATEST` / `MAX`).
 */
export function statsUpsertQuery(trx: Trx, table: string, deltas: StatsDelta[], maxFn: 'GREATEST' | 'MAX') {
  const set: Record<string, unknown> = {};
  for (const c of STATS_COUNTERS) set[c] = sql`${sql.ref(`${table}.${c}`)} + excluded.${sql.ref(c)}`;
  set.max_duration_ms = sql`${sql.raw(maxFn)}(${sql.ref(`${table}.max_duration_ms`)}, excluded.max_duration_ms)`;
  return trx
    .insertInto(table)
    .values(deltas.map(statsRow))
    .onConflict((oc) => oc.columns(['app', 'job_key', 'hour']).doUpdateSet(set));
}

/** Runs `statsUpsertQuery`. */
export async function upsertStatsOnConflict(
  trx: Trx,
  table: string,
  deltas: StatsDelta[],
  maxFn: 'GREATEST' | 'MAX',
): Promise<void> {
  if (deltas.length === 0) return;
  await statsUpsertQuery(trx, table, deltas, maxFn).execute();
}
