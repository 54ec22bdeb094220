import type {
  AuditRecord,
  JobDraft,
  JobRecord,
  JsonValue,
  LeaderLease,
  NodeRecord,
  RetryPolicy,
  RunDraft,
  RunError,
  RunLogLine,
  RunRecord,
} from '@oasis/core';

/**
 * Conversions between Oasis records and what the Lua steps read and write. Scripts never
 * decode user JSON (params, results, errors, retry policies stay opaque JSON text), so no number
 * loses precision in Lua; drafts reach the scripts as JSON objects whose values are all strings.
 */

/** A hash as HGETALL returns it: field, value, field, value… */
export type FlatHash = string[];

/** A run id is `<seq>:<app>`: `seq` is 16 digits (rising per app, never below store time in µs). */
export interface RunRef {
  seq: string;
  app: string;
}

const RUN_ID = /^(\d{1,17}):(.+)$/;

/** Splits a run (or audit) id; null when it is not one of this store's ids. */
export function parseRunId(id: string): RunRef | null {
  const m = RUN_ID.exec(id);
  return m ? { seq: m[1]!, app: m[2]! } : null;
}

/** Formats a run (or audit) id. */
export function formatRunId(seq: string, app: string): string {
  return `${seq}:${app}`;
}

/** Field → value of a flat hash. */
export function toRecord(flat: FlatHash): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

function num(v: string | undefined): number {
  return Number(v);
}

function optNum(v: string | undefined): number | null {
  return v === undefined ? null : Number(v);
}

function optStr(v: string | undefined): string | null {
  return v === undefined ? null : v;
}

function json<T = JsonValue>(v: string | undefined, fallback: T): T {
  return v === undefined ? fallback : (JSON.parse(v) as T);
}

/** A retry policy as one short string: `maxAttempts|backoff|delayMs|maxDelayMs|jitter`. */
export function encodeRetry(r: RetryPolicy): string {
  return `${r.maxAttempts}|${r.backoff}|${r.delayMs}|${r.maxDelayMs}|${r.jitter}`;
}

/** The retry policy from `encodeRetry`'s string. */
export function decodeRetry(s: string): RetryPolicy {
  const [maxAttempts, backoff, delayMs, maxDelayMs, jitter] = s.split('|');
  return {
    maxAttempts: Number(maxAttempts),
    backoff: backoff as RetryPolicy['backoff'],
    delayMs: Number(delayMs),
    maxDelayMs: Number(maxDelayMs),
    jitter: Number(jitter),
  };
}

/** The draft as the Lua `insert_run` helper reads it: a JSON object of strings. */
export function encodeRunDraft(d: RunDraft): Record<string, string> {
  const out: Record<string, string> = {
    handler: d.handler,
    params: JSON.stringify(d.params ?? null),
    trigger: d.trigger,
    scheduledFor: String(d.scheduledFor),
    attempt: String(d.attempt),
    retry: encodeRetry(d.retry),
    shardIndex: String(d.shardIndex),
    shardTotal: String(d.shardTotal),
    priority: String(d.priority),
    block: d.block,
    routing: d.routing,
  };
  if (d.jobKey !== null) out.jobKey = d.jobKey;
  if (d.delayMs !== undefined) out.delayMs = String(d.delayMs);
  if (d.dueAt !== undefined) out.dueAt = String(d.dueAt);
  if (d.timeoutMs !== null) out.timeoutMs = String(d.timeoutMs);
  if (d.targetNode !== null) out.targetNode = d.targetNode;
  if (d.idempotencyKey !== null) out.idempotencyKey = d.idempotencyKey;
  if (d.parentRunId !== null) out.parentRunId = d.parentRunId;
  if (d.state !== undefined) out.state = d.state;
  if (d.reason !== undefined && d.reason !== null) out.reason = d.reason;
  return out;
}

/** A run from its hash. */
export function decodeRun(flat: FlatHash): RunRecord {
  return decodeRunFields(toRecord(flat));
}

/** A run from its hash without `params` and `result` (null, never parsed): `RunView` 'summary'. */
export function decodeRunSummary(flat: FlatHash): RunRecord {
  const h: Record<string, string | undefined> = toRecord(flat);
  h.params = undefined;
  h.result = undefined;
  return decodeRunFields(h);
}

/** A run from its hash's fields (field → value). */
export function decodeRunFields(h: Record<string, string | undefined>): RunRecord {
  return {
    id: formatRunId(h.seq!, h.app!),
    app: h.app!,
    jobKey: optStr(h.jobKey),
    handler: h.handler!,
    params: json(h.params, null),
    trigger: h.trigger as RunRecord['trigger'],
    scheduledFor: num(h.scheduledFor),
    dueAt: num(h.dueAt),
    attempt: num(h.attempt),
    retry: decodeRetry(h.retry!),
    timeoutMs: optNum(h.timeoutMs),
    shardIndex: num(h.shardIndex),
    shardTotal: num(h.shardTotal),
    priority: num(h.priority),
    block: h.block as RunRecord['block'],
    routing: h.routing as RunRecord['routing'],
    targetNode: optStr(h.targetNode),
    ownerNode: optStr(h.ownerNode),
    ownerIncarnation: optNum(h.ownerIncarnation),
    leaseExpiresAt: optNum(h.leaseExpiresAt),
    state: h.state as RunRecord['state'],
    reason: optStr(h.reason),
    cancelRequested: h.cancelRequested === '1',
    progress: optNum(h.progress),
    createdAt: num(h.createdAt),
    startedAt: optNum(h.startedAt),
    finishedAt: optNum(h.finishedAt),
    durationMs: optNum(h.durationMs),
    result: json(h.result, null),
    error: json<RunError | null>(h.error, null),
    idempotencyKey: optStr(h.idempotencyKey),
    parentRunId: optStr(h.parentRunId),
  };
}

/** The draft's own fields only, as JSON text: extra properties a caller left on it are not stored. */
export function encodeJobDraft(d: JobDraft): string {
  const own: JobDraft = {
    app: d.app,
    key: d.key,
    handler: d.handler,
    schedule: d.schedule,
    params: d.params,
    enabled: d.enabled,
    routing: d.routing,
    block: d.block,
    misfire: d.misfire,
    retry: d.retry,
    timeoutMs: d.timeoutMs,
    shards: d.shards,
    priority: d.priority,
    owner: d.owner,
    alertContacts: d.alertContacts,
    tags: d.tags,
    description: d.description,
    source: d.source,
    partition: d.partition,
    nextFireAt: d.nextFireAt,
    lastFireAt: d.lastFireAt,
  };
  return JSON.stringify(own);
}

/** A job from its hash: the stored draft with the fields the store maintains. */
export function decodeJob(flat: FlatHash): JobRecord {
  const h = toRecord(flat);
  const draft = JSON.parse(h.d!) as JobDraft;
  return {
    ...draft,
    nextFireAt: optNum(h.nextFireAt),
    lastFireAt: optNum(h.lastFireAt),
    version: num(h.version),
    createdAt: num(h.createdAt),
    updatedAt: num(h.updatedAt),
  };
}

/** A node from its hash. */
export function decodeNode(flat: FlatHash): NodeRecord {
  const h = toRecord(flat);
  return {
    nodeId: h.nodeId!,
    app: h.app!,
    host: h.host!,
    pid: num(h.pid),
    version: h.version!,
    handlers: json<string[]>(h.handlers, []),
    weight: num(h.weight),
    concurrency: num(h.concurrency),
    incarnation: num(h.incarnation),
    state: h.state as NodeRecord['state'],
    desiredState: (h.desiredState ?? null) as NodeRecord['desiredState'],
    running: num(h.running),
    joinedAt: num(h.joinedAt),
    lastHeartbeatAt: num(h.lastHeartbeatAt),
  };
}

/** The leader lease from its hash, or null when none was ever taken. */
export function decodeLease(flat: FlatHash): LeaderLease | null {
  if (flat.length === 0) return null;
  const h = toRecord(flat);
  return {
    nodeId: h.nodeId!,
    incarnation: num(h.incarnation),
    epoch: num(h.epoch),
    expiresAt: num(h.expiresAt),
  };
}

/** An audit entry from its hash. */
export function decodeAudit(app: string, flat: FlatHash): AuditRecord {
  const h = toRecord(flat);
  return {
    id: formatRunId(h.seq!, app),
    app,
    actor: h.actor!,
    action: h.action!,
    targetType: h.targetType as AuditRecord['targetType'],
    targetId: h.targetId!,
    before: json(h.before, null),
    after: json(h.after, null),
    at: num(h.at),
  };
}

/** A stored log line (its list index gives `seq`). */
export function decodeLogLine(runId: string, seq: number, text: string): RunLogLine {
  const l = JSON.parse(text) as Omit<RunLogLine, 'runId' | 'seq'>;
  return { runId, level: l.level, message: l.message, fields: l.fields ?? null, ts: l.ts, seq };
}

export { decodeCursor, encodeCursor } from '@oasis/core';
