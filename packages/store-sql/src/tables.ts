/**
 * The stats rows of an app's hourly totals over every job and one-off task carry this job key
 * (a control character, which no job key may hold): they live in the stats table, are written by
 * the same upsert as the per-job buckets, and are read through its primary key (migration 0006).
 */
export const ALL_JOBS_KEY = '\u0001all';

/** The physical names of the store's tables and its notification channel, from the prefix. */
export interface TableNames {
  jobs: string;
  jobTags: string;
  /** One row per (app, job key) whose block strategy needs a lock, job row or not (migration 0002). */
  jobLocks: string;
  runs: string;
  runLogs: string;
  nodes: string;
  /** The highest incarnation ever given per node id (survives `removeNode`). */
  nodeSeq: string;
  apps: string;
  audit: string;
  stats: string;
  /** SQLite: the event log other processes poll for wake-ups (migration 0003). */
  events: string;
  migrations: string;
  migrationLock: string;
  /** The LISTEN/NOTIFY channel (PostgreSQL). */
  channel: string;
}

/** Table names for a (validated) prefix. */
export function tableNames(prefix: string): TableNames {
  return {
    jobs: `${prefix}jobs`,
    jobTags: `${prefix}job_tags`,
    jobLocks: `${prefix}job_locks`,
    runs: `${prefix}runs`,
    runLogs: `${prefix}run_logs`,
    nodes: `${prefix}nodes`,
    nodeSeq: `${prefix}node_seq`,
    apps: `${prefix}apps`,
    audit: `${prefix}audit`,
    stats: `${prefix}stats_hourly`,
    events: `${prefix}events`,
    migrations: `${prefix}migrations`,
    migrationLock: `${prefix}migrations_lock`,
    channel: `${prefix}events`,
  };
}
