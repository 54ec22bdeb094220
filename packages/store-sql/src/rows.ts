import type {
  AuditRecord,
  JobDraft,
  JobRecord,
  JsonValue,
  LeaderLease,
  NodeRecord,
  RunDraft,
  RunRecord,
  StatsBucket,
} from '@oasis/core';

/** A row as a driver returns it. */
// biome-ignore lint/suspicious/noExplicitAny: rows of run-time named tables
export type Row = Record<string, any>;

/**
 * Free text may hold NUL, which PostgreSQL cannot keep in `text`. Such columns are written through
 * this reversible escape on every database: U+FFFF (a noncharacter) escapes itself and NUL, and
 * every other string, the overwhelming case, is stored unchanged.
 */
export function encText<T extends string | null | undefined>(s: T): T {
  if (typeof s !== 'string' || !(s.includes('\u0000') || s.includes('\uffff'))) return s;
  // escape U+FFFF first, so the escapes made for NUL are not escaped again
  return s.replaceAll('\uffff', '\uffff\uffff').replaceAll('\u0000', '\uffff0') as T;
}

/** The inverse of `encText`. */
export function decText<T extends string | null | undefined>(s: T): T {
  if (typeof s !== 'string' || !s.includes('\uffff')) return s;
  return s.replace(/\uffff([\s\S])/g, (_, c: string) => (c === '0' ? '\u0000' : c)) as T;
}

/** Run and audit ids are integers in the database, fixed-width strings outside, so string order is id order. */
const ID_WIDTH = 15;

/** The public form of a database id. */
export function formatId(id: unknown): string {
  return String(Number(id)).padStart(ID_WIDTH, '0');
}

/** The database id of a public id, or null when it cannot be one (then nothing matches it). */
export function parseId(id: string): number | null {
  if (!/^\d{1,18}$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}

/** A number from a driver value (pg returns int8 as text, mysql2 DECIMAL sums as text). */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

/** A number, or null for SQL NULL. */
export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

function json(v: unknown): JsonValue {
  return v === null || v === undefined ? null : (JSON.parse(String(v)) as JsonValue);
}

/** JSON text of a value (`null` for undefined). */
export function toJson(v: unknown): string {
  return JSON.stringify(v === undefined ? null : v);
}

/** The job columns of a draft. */
export function jobColumns(d: JobDraft): Row {
  return {
    app: d.app,
    job_key: d.key,
    handler: d.handler,
    schedule: toJson(d.schedule),
    params: toJson(d.params),
    enabled: d.enabled ? 1 : 0,
    routing: toJson(d.routing),
    block: d.block,
    misfire: d.misfire,
    retry: toJson(d.retry),
    timeout_ms: d.timeoutMs,
    shards: d.shards,
    priority: d.priority,
    owner: encText(d.owner),
    alert_contacts: toJson(d.alertContacts),
    tags: toJson(d.tags),
    description: encText(d.description),
    source: d.source,
    partition_no: d.partition,
    next_fire_at: d.nextFireAt,
    last_fire_at: d.lastFireAt,
  };
}

/** The job columns `toJob` reads, for reads that name their columns (prepared statements). */
export const JOB_COLUMNS = [
  'app',
  'job_key',
  'handler',
  'schedule',
  'params',
  'enabled',
  'routing',
  'block',
  'misfire',
  'retry',
  'timeout_ms',
  'shards',
  'priority',
  'owner',
  'alert_contacts',
  'tags',
  'description',
  'source',
  'partition_no',
  'next_fire_at',
  'last_fire_at',
  'version',
  'created_at',
  'updated_at',
] as const;

/** A job row as a record. */
export function toJob(r: Row): JobRecord {
  return {
    app: r.app,
    key: r.job_key,
    handler: r.handler,
    schedule: json(r.schedule) as unknown as JobRecord['schedule'],
    params: json(r.params),
    enabled: num(r.enabled) === 1,
    routing: json(r.routing) as unknown as JobRecord['routing'],
    block: r.block,
    misfire: r.misfire,
    retry: json(r.retry) as unknown as JobRecord['retry'],
    timeoutMs: numOrNull(r.timeout_ms),
    shards: num(r.shards),
    priority: num(r.priority),
    owner: decText(r.owner ?? null),
    alertContacts: json(r.alert_contacts) as string[],
    tags: json(r.tags) as string[],
    description: decText(r.description ?? null),
    source: r.source,
    partition: num(r.partition_no),
    nextFireAt: numOrNull(r.next_fire_at),
    lastFireAt: numOrNull(r.last_fire_at),
    version: num(r.version),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

/** The columns of a new run, pending at `dueAt`, made at `now`. */
export function runColumns(d: RunDraft, now: number, parentRunId: number | null): Row {
  return {
    app: d.app,
    job_key: d.jobKey,
    handler: d.handler,
    params: toJson(d.params),
    trig: d.trigger,
    scheduled_for: d.scheduledFor,
    due_at: d.delayMs !== undefined && d.delayMs !== null ? now + d.delayMs : (d.dueAt ?? now),
    attempt: d.attempt,
    retry: toJson(d.retry),
    timeout_ms: d.timeoutMs,
    shard_index: d.shardIndex,
    shard_total: d.shardTotal,
    priority: d.priority,
    block: d.block,
    routing: d.routing,
    target_node: d.targetNode,
    owner_node: null,
    owner_incarnation: null,
    lease_expires_at: null,
    state: 'pending',
    reason: null,
    cancel_requested: 0,
    progress: null,
    created_at: now,
    started_at: null,
    finished_at: null,
    duration_ms: null,
    result: null,
    error: null,
    idempotency_key: d.idempotencyKey,
    parent_run_id: parentRunId,
  };
}

/** The run columns `toRun` reads, for reads that name their columns (prepared statements). */
export const RUN_COLUMNS = [
  'id',
  'app',
  'job_key',
  'handler',
  'params',
  'trig',
  'scheduled_for',
  'due_at',
  'attempt',
  'retry',
  'timeout_ms',
  'shard_index',
  'shard_total',
  'priority',
  'block',
  'routing',
  'target_node',
  'owner_node',
  'owner_incarnation',
  'lease_expires_at',
  'state',
  'reason',
  'cancel_requested',
  'progress',
  'created_at',
  'started_at',
  'finished_at',
  'duration_ms',
  'result',
  'error',
  'idempotency_key',
  'parent_run_id',
] as const;

/** The columns of a run summary (`RunView`): all but `params` and `result`, which `toRun` reads as null. */
export const RUN_SUMMARY_COLUMNS = RUN_COLUMNS.filter(
  (c): c is Exclude<(typeof RUN_COLUMNS)[number], 'params' | 'result'> => c !== 'params' && c !== 'result',
);

/** A run row as a record. */
export function toRun(r: Row): RunRecord {
  return {
    id: formatId(r.id),
    app: r.app,
    jobKey: r.job_key ?? null,
    handler: r.handler,
    params: json(r.params),
    trigger: r.trig,
    scheduledFor: num(r.scheduled_for),
    dueAt: num(r.due_at),
    attempt: num(r.attempt),
    retry: json(r.retry) as unknown as RunRecord['retry'],
    timeoutMs: numOrNull(r.timeout_ms),
    shardIndex: num(r.shard_index),
    shardTotal: num(r.shard_total),
    priority: num(r.priority),
    block: r.block,
    routing: r.routing,
    targetNode: r.target_node ?? null,
    ownerNode: r.owner_node ?? null,
    ownerIncarnation: numOrNull(r.owner_incarnation),
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    state: r.state,
    reason: decText(r.reason ?? null),
    cancelRequested: num(r.cancel_requested) === 1,
    progress: numOrNull(r.progress),
    createdAt: num(r.created_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    durationMs: numOrNull(r.duration_ms),
    result: json(r.result),
    error:
      r.error === null || r.error === undefined ? null : (json(r.error) as unknown as RunRecord['error']),
    idempotencyKey: r.idempotency_key ?? null,
    parentRunId: r.parent_run_id === null || r.parent_run_id === undefined ? null : formatId(r.parent_run_id),
  };
}

/** A node row as a record. */
export function toNode(r: Row): NodeRecord {
  return {
    nodeId: r.node_id,
    app: r.app,
    host: decText(r.host),
    pid: num(r.pid),
    version: decText(r.version),
    handlers: json(r.handlers) as string[],
    weight: num(r.weight),
    concurrency: num(r.concurrency),
    incarnation: num(r.incarnation),
    state: r.state,
    desiredState: r.desired_state ?? null,
    running: num(r.running),
    joinedAt: num(r.joined_at),
    lastHeartbeatAt: num(r.last_heartbeat_at),
  };
}

/** The leader lease of an apps row, or null when none was ever taken. */
export function toLease(r: Row | undefined): LeaderLease | null {
  if (!r || r.leader_node === null || r.leader_node === undefined) return null;
  return {
    nodeId: r.leader_node,
    incarnation: num(r.leader_incarnation),
    epoch: num(r.leader_epoch),
    expiresAt: num(r.leader_expires_at),
  };
}

/** An audit row as a record. */
export function toAudit(r: Row): AuditRecord {
  return {
    id: formatId(r.id),
    app: r.app,
    actor: r.actor,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    before: json(r.before_json),
    after: json(r.after_json),
    at: num(r.at),
  };
}

/** A stats row as a bucket. */
export function toBucket(r: Row): StatsBucket {
  return {
    app: r.app,
    jobKey: r.job_key === '' ? null : r.job_key,
    hour: num(r.hour),
    succeeded: num(r.succeeded),
    failed: num(r.failed),
    dead: num(r.dead),
    timedOut: num(r.timed_out),
    cancelled: num(r.cancelled),
    lost: num(r.lost),
    skipped: num(r.skipped),
    totalDurationMs: num(r.total_duration_ms),
    maxDurationMs: num(r.max_duration_ms),
  };
}

export { decodeCursor, encodeCursor } from '@oasis/core';
