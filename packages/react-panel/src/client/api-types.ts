/**
 * The shapes the admin API answers with, as the panel reads them. They mirror `@oasis/core`'s
 * records and `@oasis/http-admin`'s responses but are declared here, so the panel depends on
 * nothing but React.
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A role of the admin API: each may also do everything of the ones before it. */
export type Role = 'viewer' | 'operator' | 'admin';

/** When a job fires. */
export type Schedule =
  | { kind: 'cron'; cron: string; tz?: string }
  | { kind: 'every'; ms: number }
  | { kind: 'delay-after'; ms: number }
  | { kind: 'at'; at: number }
  | { kind: 'manual' };

/** A job as the API returns it. */
export interface Job {
  app: string;
  key: string;
  handler: string;
  schedule: Schedule;
  params: Json;
  enabled: boolean;
  routing: { strategy: string; key?: string };
  block: string;
  misfire: string;
  retry: { maxAttempts: number; backoff: string; delayMs: number; maxDelayMs: number; jitter: number };
  timeoutMs: number | null;
  shards: number;
  priority: number;
  owner: string | null;
  alertContacts: string[];
  tags: string[];
  description: string | null;
  source: 'code' | 'admin';
  nextFireAt: number | null;
  lastFireAt: number | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** The states of a run. */
export type RunState =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'dead'
  | 'timed_out'
  | 'cancelled'
  | 'lost'
  | 'skipped';

/** Every run state, in life order. */
export const RUN_STATES: readonly RunState[] = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'dead',
  'timed_out',
  'cancelled',
  'lost',
  'skipped',
];

/** States that mean a run went wrong. */
export const FAILURE_STATES: readonly RunState[] = ['failed', 'dead', 'timed_out', 'lost'];

/** True for a run that is over. */
export function isFinal(state: RunState): boolean {
  return state !== 'pending' && state !== 'running';
}

/** One run of a job or one-off task. */
export interface Run {
  id: string;
  app: string;
  jobKey: string | null;
  handler: string;
  params: Json;
  trigger: string;
  scheduledFor: number;
  dueAt: number;
  attempt: number;
  retry: { maxAttempts: number };
  timeoutMs: number | null;
  shardIndex: number;
  shardTotal: number;
  priority: number;
  block: string;
  routing: string;
  targetNode: string | null;
  ownerNode: string | null;
  ownerIncarnation: number | null;
  leaseExpiresAt: number | null;
  state: RunState;
  reason: string | null;
  cancelRequested: boolean;
  progress: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  result: Json;
  error: { name: string; message: string; stack?: string } | null;
  idempotencyKey: string | null;
  parentRunId: string | null;
}

/** A run as lists give it (`GET /runs`, the dashboard): without params, result and error stack. */
export type RunSummary = Omit<Run, 'params' | 'result'>;

/** A run's detail: the run, how it was dispatched, its job and its follow-up runs. */
export interface RunDetail {
  run: Run;
  dispatch: Record<string, Json>;
  job: { key: string; handler: string; schedule: Schedule; enabled: boolean } | null;
  children: Run[];
}

/** One line of a run's log. */
export interface LogLine {
  seq: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, Json> | null;
  ts: number;
}

/** A node as the nodes route returns it. */
export interface NodeInfo {
  nodeId: string;
  app: string;
  host: string;
  pid: number;
  version: string;
  handlers: string[];
  weight: number;
  concurrency: number;
  incarnation: number;
  state: 'active' | 'draining' | 'paused' | 'leaving' | 'offline';
  desiredState: 'active' | 'draining' | 'paused' | null;
  running: number;
  joinedAt: number;
  lastHeartbeatAt: number;
  online: boolean;
  load: number;
  heartbeatAgeMs: number;
  leader: boolean;
}

/** An audit entry. */
export interface AuditEntry {
  id: string;
  app: string;
  actor: string;
  action: string;
  targetType: 'job' | 'run' | 'node' | 'app';
  targetId: string;
  before: Json;
  after: Json;
  at: number;
}

/** One page of a keyset listing. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The dashboard route's answer. */
export interface Dashboard {
  app: string;
  now: number;
  jobs: { total: number; enabled: number; disabled: number; truncated: boolean };
  last24h: {
    total: number;
    failures: number;
    succeeded: number;
    failed: number;
    dead: number;
    timedOut: number;
    cancelled: number;
    lost: number;
    skipped: number;
    from: number;
    to: number;
  };
  trend: { hour: number; succeeded: number; failed: number; cancelled: number; skipped: number }[];
  queue: { pending: number; running: number };
  nodes: { total: number; online: number; byState: Record<string, number> };
  leader: { nodeId: string; epoch: number; expiresAt: number } | null;
  recentRuns: RunSummary[];
  recentFailures: RunSummary[];
}

/** The caller, from `/me`. */
export interface Me {
  user: string;
  role: Role;
  app: string;
}

/** The schedule preview route's answer. */
export interface SchedulePreview {
  times: number[];
  iso: string[];
  tz: string;
}

/** One key's outcome in a batch. */
export interface BatchResult {
  key: string;
  ok: boolean;
  runIds?: string[];
  error?: { code: string; message: string; field: string | null; rule: string | null };
}

/** Filters of the runs list (all optional). */
export interface RunQuery {
  app?: string;
  jobKey?: string;
  nodeId?: string;
  state?: string;
  trigger?: string;
  from?: number;
  to?: number;
  limit?: number;
  cursor?: string;
}

/** Filters of the jobs list (all optional). */
export interface JobQuery {
  search?: string;
  state?: 'enabled' | 'disabled';
  tag?: string;
  handler?: string;
  limit?: number;
  cursor?: string;
}

/** Filters of the audit list (all optional). */
export interface AuditQuery {
  actor?: string;
  targetType?: 'job' | 'run' | 'node' | 'app';
  targetId?: string;
  limit?: number;
  cursor?: string;
}
