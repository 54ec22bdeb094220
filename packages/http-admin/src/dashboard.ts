/**
 * The dashboard's figures, read from the store in one go: jobs by state, runs and failures in the
 * last 24 h with their hourly trend, queue, nodes, leader, and the 10 newest runs and failures.
 * The handler shares one read among concurrent requests and reuses it for `dashboardCacheMs`
 * (`single-flight-cache.ts`), so what a caller sees may be that old.
 */
import type { LeaderLease, RunState, Store } from '@oasis/core';
import { type RunSummary, summarizeRun } from './run-summary';

const HOUR = 3_600_000;
const FAILURE_STATES: RunState[] = ['failed', 'dead', 'timed_out', 'lost'];
/** Jobs counted on the dashboard at most (pages of 1000). */
const DASHBOARD_MAX_JOBS = 10_000;

/** Run outcomes counted over a period. */
export interface OutcomeCounts {
  succeeded: number;
  failed: number;
  dead: number;
  timedOut: number;
  cancelled: number;
  lost: number;
  skipped: number;
}

/** One hour of the trend; `failed` counts every failure (failed, dead, timed out, lost). */
export interface TrendHour {
  hour: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  skipped: number;
}

/** What `GET /dashboard` answers. */
export interface Dashboard {
  app: string;
  /** Store time of the read. */
  now: number;
  jobs: { total: number; enabled: number; disabled: number; truncated: boolean };
  last24h: OutcomeCounts & { total: number; failures: number; from: number; to: number };
  trend: TrendHour[];
  queue: { pending: number; running: number };
  nodes: { total: number; online: number; byState: Record<string, number> };
  leader: LeaderLease | null;
  recentRuns: RunSummary[];
  recentFailures: RunSummary[];
}

/** Counts the app's jobs by enabled state, paging through them (at most `DASHBOARD_MAX_JOBS`). */
async function countJobs(store: Store, app: string): Promise<Dashboard['jobs']> {
  const jobs = { total: 0, enabled: 0, disabled: 0, truncated: false };
  let cursor: string | null = null;
  do {
    const page = await store.listJobs({ app }, { limit: 1000, cursor });
    for (const job of page.items) {
      jobs.total++;
      if (job.enabled) jobs.enabled++;
      else jobs.disabled++;
    }
    cursor = page.nextCursor;
    if (cursor !== null && jobs.total >= DASHBOARD_MAX_JOBS) {
      jobs.truncated = true;
      break;
    }
  } while (cursor !== null);
  return jobs;
}

/**
 * Reads the dashboard of an app. The 24 h figures come from the store's hourly totals of the app
 * (`getHourlyTotals`: about one row per hour, however many jobs the app has), not from the per-job
 * buckets.
 */
export async function readDashboard(store: Store, app: string): Promise<Dashboard> {
  const now = await store.now();
  const to = Math.floor(now / HOUR) * HOUR + HOUR;
  const from = to - 24 * HOUR;
  const [stats, counts, nodes, leader, recentRuns, recentFailures, jobs] = await Promise.all([
    store.getHourlyTotals({ app, from, to }),
    store.countRuns(app, ['pending', 'running']),
    store.listNodes(app),
    store.getLeader(app),
    store.listRuns({ app }, { limit: 10 }, 'summary'),
    store.listRuns({ app, states: FAILURE_STATES }, { limit: 10 }, 'summary'),
    countJobs(store, app),
  ]);
  const trend: TrendHour[] = Array.from({ length: 24 }, (_, i) => ({
    hour: from + i * HOUR,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    skipped: 0,
  }));
  const runs: OutcomeCounts = {
    succeeded: 0,
    failed: 0,
    dead: 0,
    timedOut: 0,
    cancelled: 0,
    lost: 0,
    skipped: 0,
  };
  for (const b of stats) {
    const slot = trend[Math.floor((b.hour - from) / HOUR)];
    const failures = b.failed + b.dead + b.timedOut + b.lost;
    if (slot !== undefined) {
      slot.succeeded += b.succeeded;
      slot.failed += failures;
      slot.cancelled += b.cancelled;
      slot.skipped += b.skipped;
    }
    runs.succeeded += b.succeeded;
    runs.failed += b.failed;
    runs.dead += b.dead;
    runs.timedOut += b.timedOut;
    runs.cancelled += b.cancelled;
    runs.lost += b.lost;
    runs.skipped += b.skipped;
  }
  const total =
    runs.succeeded + runs.failed + runs.dead + runs.timedOut + runs.cancelled + runs.lost + runs.skipped;
  const failures = runs.failed + runs.dead + runs.timedOut + runs.lost;
  const byState: Record<string, number> = {};
  let online = 0;
  for (const n of nodes) {
    byState[n.state] = (byState[n.state] ?? 0) + 1;
    if (n.state !== 'offline') online++;
  }
  return {
    app,
    now,
    jobs,
    last24h: { total, failures, ...runs, from, to },
    trend,
    queue: { pending: counts.pending ?? 0, running: counts.running ?? 0 },
    nodes: { total: nodes.length, online, byState },
    leader: leader !== null && leader.expiresAt > now ? leader : null,
    recentRuns: recentRuns.items.map(summarizeRun),
    recentFailures: recentFailures.items.map(summarizeRun),
  };
}
