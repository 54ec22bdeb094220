/**
 * Input checks of the runtime guard (`RuntimeStore`): every argument of every `Store` method is
 * checked against `STORE_LIMITS` and the model's enums before a store sees it. A failed check
 * throws `ValidationError` with the dotted path of the field at fault, named after the method's
 * parameter (`draft.params`, `drafts[3].idempotencyKey`, `filter.states[0]`).
 *
 * Numbers: times and lengths in ms, counts, versions and incarnations must be non-negative whole
 * numbers (round computed delays before handing them over); `weight` and `progress` may hold
 * fractions.
 */
import { ValidationError } from '../errors';
import type {
  AuditDraft,
  AuditFilter,
  JobDraft,
  JobFilter,
  NodeInfo,
  PageRequest,
  RetryPolicy,
  RunDraft,
  RunFilter,
  RunLogDraft,
} from '../model';
import { RUN_STATES, RUN_VIEWS } from '../model';
import type {
  ClaimRequest,
  CompleteRequest,
  FireRequest,
  HeartbeatRequest,
  PruneRequest,
  ReapRequest,
  RetargetRequest,
} from './store';
import { STORE_LIMITS } from './store';

const APP_NAME = /^[A-Za-z0-9_.:-]+$/;
// C0 controls, DEL and C1 controls
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The largest value a 64-bit-safe integer column and JavaScript agree on. */
const MAX_INT = Number.MAX_SAFE_INTEGER;
/** Upper bound of int32 columns (priority). */
const MAX_INT32 = 2_147_483_647;
/** Longest cursor a listing accepts back. */
const MAX_CURSOR = 1024;
/** Longest host and version strings of a node. */
const MAX_SHORT_TEXT = 255;

/** Run trigger values. */
export const RUN_TRIGGERS = ['schedule', 'manual', 'api', 'retry', 'dependency', 'misfire'] as const;
/** Block strategy values. */
export const BLOCK_STRATEGIES = ['serial', 'skip', 'parallel', 'replace'] as const;
/** Routing strategy values. */
export const ROUTING_STRATEGIES = [
  'any',
  'round-robin',
  'weighted',
  'random',
  'consistent-hash',
  'least-loaded',
  'failover',
  'broadcast',
  'sharded',
] as const;
/** Misfire policy values. */
export const MISFIRE_POLICIES = ['skip', 'fire-once', 'fire-all'] as const;
/** Backoff kinds. */
export const BACKOFF_KINDS = ['fixed', 'linear', 'exponential'] as const;
/** Schedule kinds. */
export const SCHEDULE_KINDS = ['cron', 'every', 'delay-after', 'at', 'manual'] as const;
/** Log levels. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** Node states. */
export const NODE_STATES = ['active', 'draining', 'paused', 'leaving', 'offline'] as const;
const JOB_SOURCES = ['code', 'admin'] as const;
const AUDIT_TARGETS = ['job', 'run', 'node', 'app'] as const;
const OUTCOMES = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const;
const DESIRED = ['active', 'draining', 'paused'] as const;

function fail(field: string, rule: string, message: string): never {
  throw new ValidationError(field, rule, message);
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : `'${value}'`;
  if (typeof value === 'bigint') return 'a BigInt';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

/** Throws unless `value` is a plain object (for request objects). */
export function checkObject(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(field, 'type', `must be an object, got ${describe(value)}`);
  }
}

function checkArray(value: unknown, field: string, max: number, min = 0): asserts value is unknown[] {
  if (!Array.isArray(value)) fail(field, 'type', `must be an array, got ${describe(value)}`);
  if (value.length > max) fail(field, 'max-items', `holds ${value.length} items, at most ${max} are allowed`);
  if (value.length < min) fail(field, 'min-items', `must hold at least ${min} item(s)`);
}

function checkString(
  value: unknown,
  field: string,
  max: number,
  opts: { controls?: boolean; min?: number } = {},
) {
  if (typeof value !== 'string') fail(field, 'type', `must be a string, got ${describe(value)}`);
  const min = opts.min ?? 1;
  if (value.length < min) fail(field, 'required', 'must not be empty');
  if (value.length > max)
    fail(field, 'max-length', `is ${value.length} characters long, at most ${max} are allowed`);
  if (!opts.controls && CONTROL.test(value)) {
    fail(field, 'control-characters', 'must not contain control characters (newlines, tabs, NUL…)');
  }
}

function checkNullable<T>(value: unknown, field: string, check: (v: unknown, f: string) => T): void {
  if (value !== null) check(value, field);
}

function checkOptional(value: unknown, field: string, check: (v: unknown, f: string) => void): void {
  if (value !== undefined) check(value, field);
}

/** An app name: 1..64 of `[A-Za-z0-9_.:-]`. */
export function checkApp(value: unknown, field: string): void {
  checkString(value, field, STORE_LIMITS.appMaxLength);
  if (!APP_NAME.test(value as string)) {
    fail(field, 'app-name', `${describe(value)} may use only letters, digits and _ . : -`);
  }
}

/** A job key, handler name, node id or run id: 1..200 printable characters. */
export function checkKey(value: unknown, field: string): void {
  checkString(value, field, STORE_LIMITS.keyMaxLength);
}

function checkText(value: unknown, field: string): void {
  checkString(value, field, STORE_LIMITS.textMaxLength, { controls: true, min: 0 });
}

function checkIdempotencyKey(value: unknown, field: string): void {
  checkString(value, field, STORE_LIMITS.idempotencyKeyMaxLength);
}

function checkBoolean(value: unknown, field: string): void {
  if (typeof value !== 'boolean') fail(field, 'type', `must be true or false, got ${describe(value)}`);
}

/** A whole number in [min, max]. */
export function checkInt(value: unknown, field: string, min = 0, max = MAX_INT): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(field, 'number', `must be a finite number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value)) fail(field, 'integer', `must be a whole number, got ${value}: round it`);
  if (value < min || value > max) fail(field, 'range', `must be between ${min} and ${max}, got ${value}`);
}

function checkFinite(value: unknown, field: string, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(field, 'number', `must be a finite number, got ${describe(value)}`);
  }
  if (value < min || value > max) fail(field, 'range', `must be between ${min} and ${max}, got ${value}`);
}

/** A store time or a length in ms: a non-negative whole number. */
export function checkMs(value: unknown, field: string): void {
  checkInt(value, field, 0, MAX_INT);
}

function checkPositiveMs(value: unknown, field: string): void {
  checkInt(value, field, 1, MAX_INT);
}

function checkEnum(value: unknown, field: string, allowed: readonly string[]): void {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    fail(field, 'enum', `${describe(value)} is not one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
}

function checkPartition(value: unknown, field: string): void {
  checkInt(value, field, 0, STORE_LIMITS.partitions - 1);
}

/**
 * A JSON value: null, booleans, finite numbers, strings, arrays and plain objects only, no
 * cycles, and at most `STORE_LIMITS.maxJsonBytes` as JSON text.
 */
export function checkJson(value: unknown, field: string): void {
  // Fast path for what most params and results are (hot: every run draft goes through here).
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  if (typeof value === 'object' && isEmptyPlain(value)) return;
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): void => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(v)) fail(path, 'json', `${v} is not a JSON number: use null or a finite number`);
        return;
      case 'bigint':
        fail(path, 'json', 'a BigInt is not JSON: convert it to a string or a number');
        break;
      case 'undefined':
        fail(path, 'json', 'undefined is not JSON: use null or leave the key out');
        break;
      case 'object': {
        if (v === null) return;
        if (seen.has(v)) fail(path, 'json', 'refers back to itself (a cycle): JSON cannot hold cycles');
        const proto = Object.getPrototypeOf(v);
        if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
          fail(
            path,
            'json',
            `a ${proto?.constructor?.name ?? 'class instance'} is not plain JSON: pass plain objects, arrays and primitives`,
          );
        }
        seen.add(v);
        if (Array.isArray(v))
          v.forEach((item, i) => {
            walk(item, `${path}[${i}]`);
          });
        else for (const [key, item] of Object.entries(v)) walk(item, `${path}.${key}`);
        seen.delete(v);
        return;
      }
      default:
        fail(path, 'json', `a ${typeof v} is not JSON`);
    }
  };
  walk(value, field);
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > STORE_LIMITS.maxJsonBytes) {
    fail(field, 'max-bytes', `is ${bytes} bytes as JSON, at most ${STORE_LIMITS.maxJsonBytes} are allowed`);
  }
}

/** True for `{}` (plain, no own keys at all) and `[]`. */
function isEmptyPlain(value: object): boolean {
  if (Array.isArray(value)) return value.length === 0;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const _ in value) return false;
  return Reflect.ownKeys(value).length === 0;
}

function checkJsonObject(value: unknown, field: string): void {
  checkObject(value, field);
  checkJson(value, field);
}

function checkTags(value: unknown, field: string): void {
  checkArray(value, field, STORE_LIMITS.maxTags);
  value.forEach((tag, i) => {
    checkString(tag, `${field}[${i}]`, STORE_LIMITS.tagMaxLength);
  });
}

function checkStringList(
  value: unknown,
  field: string,
  max: number,
  each: (v: unknown, f: string) => void,
): void {
  checkArray(value, field, max);
  value.forEach((item, i) => {
    each(item, `${field}[${i}]`);
  });
}

/** Paging options: limit 1..1000, an opaque cursor string or null. */
export function checkPage(value: unknown, field: string): void {
  if (value === undefined) return;
  checkObject(value, field);
  const page = value as PageRequest;
  checkOptional(page.limit, `${field}.limit`, (v, f) => checkInt(v, f, 1, 1000));
  if (page.cursor !== undefined && page.cursor !== null) {
    checkString(page.cursor, `${field}.cursor`, MAX_CURSOR);
  }
}

function checkRetryPolicy(value: unknown, field: string): void {
  checkObject(value, field);
  const r = value as unknown as RetryPolicy;
  checkInt(r.maxAttempts, `${field}.maxAttempts`, 1, 1000);
  checkEnum(r.backoff, `${field}.backoff`, BACKOFF_KINDS);
  checkMs(r.delayMs, `${field}.delayMs`);
  checkMs(r.maxDelayMs, `${field}.maxDelayMs`);
  checkFinite(r.jitter, `${field}.jitter`, 0, 1);
}

function checkSchedule(value: unknown, field: string): void {
  checkObject(value, field);
  checkEnum(value.kind, `${field}.kind`, SCHEDULE_KINDS);
  switch (value.kind) {
    case 'cron':
      checkString(value.cron, `${field}.cron`, STORE_LIMITS.keyMaxLength);
      checkOptional(value.tz, `${field}.tz`, (v, f) => checkString(v, f, STORE_LIMITS.appMaxLength));
      break;
    case 'every':
    case 'delay-after':
      checkPositiveMs(value.ms, `${field}.ms`);
      break;
    case 'at':
      checkMs(value.at, `${field}.at`);
      break;
  }
}

/** A job draft as `saveJob` takes it. */
export function checkJobDraft(value: unknown, field: string): void {
  checkObject(value, field);
  const d = value as unknown as JobDraft;
  checkApp(d.app, `${field}.app`);
  checkKey(d.key, `${field}.key`);
  checkKey(d.handler, `${field}.handler`);
  checkSchedule(d.schedule, `${field}.schedule`);
  checkJson(d.params, `${field}.params`);
  checkBoolean(d.enabled, `${field}.enabled`);
  checkObject(d.routing, `${field}.routing`);
  checkEnum(d.routing.strategy, `${field}.routing.strategy`, ROUTING_STRATEGIES);
  checkOptional(d.routing.key, `${field}.routing.key`, checkKey);
  checkEnum(d.block, `${field}.block`, BLOCK_STRATEGIES);
  checkEnum(d.misfire, `${field}.misfire`, MISFIRE_POLICIES);
  checkRetryPolicy(d.retry, `${field}.retry`);
  checkNullable(d.timeoutMs, `${field}.timeoutMs`, checkPositiveMs);
  checkInt(d.shards, `${field}.shards`, 1, STORE_LIMITS.maxBatch);
  checkInt(d.priority, `${field}.priority`, -MAX_INT32, MAX_INT32);
  checkNullable(d.owner, `${field}.owner`, checkText);
  checkStringList(d.alertContacts, `${field}.alertContacts`, STORE_LIMITS.maxTags, (v, f) =>
    checkString(v, f, MAX_SHORT_TEXT),
  );
  checkTags(d.tags, `${field}.tags`);
  checkNullable(d.description, `${field}.description`, checkText);
  checkEnum(d.source, `${field}.source`, JOB_SOURCES);
  checkPartition(d.partition, `${field}.partition`);
  checkNullable(d.nextFireAt, `${field}.nextFireAt`, checkMs);
  checkNullable(d.lastFireAt, `${field}.lastFireAt`, checkMs);
}

/** A run draft as `enqueueRuns`, `fireJobs` and `completeRun` take it. */
export function checkRunDraft(value: unknown, field: string): void {
  checkObject(value, field);
  const d = value as unknown as RunDraft;
  checkApp(d.app, `${field}.app`);
  checkNullable(d.jobKey, `${field}.jobKey`, checkKey);
  checkKey(d.handler, `${field}.handler`);
  checkJson(d.params, `${field}.params`);
  checkEnum(d.trigger, `${field}.trigger`, RUN_TRIGGERS);
  checkMs(d.scheduledFor, `${field}.scheduledFor`);
  checkOptional(d.dueAt, `${field}.dueAt`, checkMs);
  checkOptional(d.delayMs, `${field}.delayMs`, checkMs);
  checkInt(d.attempt, `${field}.attempt`, 1, 1000);
  checkRetryPolicy(d.retry, `${field}.retry`);
  checkNullable(d.timeoutMs, `${field}.timeoutMs`, checkPositiveMs);
  checkInt(d.shardTotal, `${field}.shardTotal`, 1, STORE_LIMITS.maxBatch);
  checkInt(d.shardIndex, `${field}.shardIndex`, 0, d.shardTotal - 1);
  checkInt(d.priority, `${field}.priority`, -MAX_INT32, MAX_INT32);
  checkEnum(d.block, `${field}.block`, BLOCK_STRATEGIES);
  checkEnum(d.routing, `${field}.routing`, ROUTING_STRATEGIES);
  checkNullable(d.targetNode, `${field}.targetNode`, checkKey);
  checkNullable(d.idempotencyKey, `${field}.idempotencyKey`, checkIdempotencyKey);
  checkNullable(d.parentRunId, `${field}.parentRunId`, checkKey);
  checkOptional(d.state, `${field}.state`, (v, f) => checkEnum(v, f, ['pending', 'skipped']));
  checkOptional(d.reason, `${field}.reason`, (v, f) => checkNullable(v, f, checkText));
}

/** A batch of run drafts. */
export function checkRunDrafts(value: unknown, field: string): void {
  checkArray(value, field, STORE_LIMITS.maxBatch);
  value.forEach((d, i) => {
    checkRunDraft(d, `${field}[${i}]`);
  });
}

/** `listJobs` filters. */
export function checkJobFilter(value: unknown, field: string): void {
  checkObject(value, field);
  const f = value as JobFilter;
  checkOptional(f.app, `${field}.app`, checkApp);
  checkOptional(f.search, `${field}.search`, checkKey);
  checkOptional(f.enabled, `${field}.enabled`, checkBoolean);
  checkOptional(f.tag, `${field}.tag`, (v, p) => checkString(v, p, STORE_LIMITS.tagMaxLength));
  checkOptional(f.handler, `${field}.handler`, checkKey);
  checkOptional(f.source, `${field}.source`, (v, p) => checkEnum(v, p, JOB_SOURCES));
}

/** `listRuns` filters. */
export function checkRunFilter(value: unknown, field: string): void {
  checkObject(value, field);
  const f = value as RunFilter;
  checkOptional(f.app, `${field}.app`, checkApp);
  checkOptional(f.jobKey, `${field}.jobKey`, checkKey);
  checkOptional(f.handler, `${field}.handler`, checkKey);
  checkOptional(f.nodeId, `${field}.nodeId`, checkKey);
  checkOptional(f.states, `${field}.states`, checkStates);
  checkOptional(f.trigger, `${field}.trigger`, (v, p) => checkEnum(v, p, RUN_TRIGGERS));
  checkOptional(f.from, `${field}.from`, checkMs);
  checkOptional(f.to, `${field}.to`, checkMs);
  checkOptional(f.parentRunId, `${field}.parentRunId`, checkKey);
}

/** A `listRuns` view, when given: `'full'` or `'summary'`. */
export function checkRunView(value: unknown, field: string): void {
  checkOptional(value, field, (v, f) => checkEnum(v, f, RUN_VIEWS));
}

/** A non-empty list of run states. */
export function checkStates(value: unknown, field: string): void {
  checkStringList(value, field, RUN_STATES.length * 2, (v, f) => checkEnum(v, f, RUN_STATES));
  if ((value as unknown[]).length === 0) {
    fail(field, 'min-items', 'must name at least one state: leave the filter out to match every state');
  }
}

/** `listAudit` filters. */
export function checkAuditFilter(value: unknown, field: string): void {
  checkObject(value, field);
  const f = value as AuditFilter;
  checkOptional(f.app, `${field}.app`, checkApp);
  checkOptional(f.actor, `${field}.actor`, checkKey);
  checkOptional(f.targetType, `${field}.targetType`, (v, p) => checkEnum(v, p, AUDIT_TARGETS));
  checkOptional(f.targetId, `${field}.targetId`, (v, p) => checkString(v, p, MAX_SHORT_TEXT));
  checkOptional(f.from, `${field}.from`, checkMs);
  checkOptional(f.to, `${field}.to`, checkMs);
}

/** A list of partitions, or null for all. */
export function checkPartitions(value: unknown, field: string): void {
  if (value === null) return;
  checkStringList(value, field, STORE_LIMITS.partitions, checkPartition);
}

/** `dueJobs`' look-ahead: absent, or whole ms in 0..`STORE_LIMITS.maxFireHorizonMs`. */
export function checkHorizon(value: unknown, field: string): void {
  if (value === undefined) return;
  checkInt(value, field, 0, STORE_LIMITS.maxFireHorizonMs);
}

/** A batch limit: 1..maxBatch. */
export function checkLimit(value: unknown, field: string, min = 1): void {
  checkInt(value, field, min, STORE_LIMITS.maxBatch);
}

/** An incarnation or epoch: a positive whole number. */
export function checkCounter(value: unknown, field: string): void {
  checkInt(value, field, 1, MAX_INT);
}

/** `fireJobs` requests; every run must belong to `app` and to its fire's job. */
export function checkFires(app: string, value: unknown, field: string): void {
  checkArray(value, field, STORE_LIMITS.maxBatch);
  let total = 0;
  value.forEach((fire, i) => {
    const p = `${field}[${i}]`;
    checkObject(fire, p);
    const f = fire as unknown as FireRequest;
    checkKey(f.jobKey, `${p}.jobKey`);
    checkMs(f.expectedNextFireAt, `${p}.expectedNextFireAt`);
    checkNullable(f.nextFireAt, `${p}.nextFireAt`, checkMs);
    checkMs(f.lastFireAt, `${p}.lastFireAt`);
    checkRunDrafts(f.runs, `${p}.runs`);
    total += f.runs.length;
    if (total > STORE_LIMITS.maxBatch) {
      fail(
        `${p}.runs`,
        'max-items',
        `the fires hold more than ${STORE_LIMITS.maxBatch} runs in all: split the batch`,
      );
    }
    f.runs.forEach((r, j) => {
      if (r.app !== app)
        fail(`${p}.runs[${j}].app`, 'mismatch', `is '${r.app}' but the fire is for app '${app}'`);
      if (r.jobKey !== f.jobKey) {
        fail(
          `${p}.runs[${j}].jobKey`,
          'mismatch',
          `is ${describe(r.jobKey)} but the fire is for job '${f.jobKey}'`,
        );
      }
    });
  });
}

/** A `claimRuns` request. */
export function checkClaim(value: unknown, field: string): void {
  checkObject(value, field);
  const r = value as unknown as ClaimRequest;
  checkApp(r.app, `${field}.app`);
  checkKey(r.nodeId, `${field}.nodeId`);
  checkCounter(r.incarnation, `${field}.incarnation`);
  checkStringList(r.handlers, `${field}.handlers`, STORE_LIMITS.maxBatch, checkKey);
  checkLimit(r.limit, `${field}.limit`, 0);
  checkPositiveMs(r.leaseMs, `${field}.leaseMs`);
}

/** A `completeRun` request. */
export function checkComplete(value: unknown, field: string): void {
  checkObject(value, field);
  const r = value as unknown as CompleteRequest;
  checkKey(r.runId, `${field}.runId`);
  checkKey(r.nodeId, `${field}.nodeId`);
  checkCounter(r.incarnation, `${field}.incarnation`);
  checkEnum(r.outcome, `${field}.outcome`, OUTCOMES);
  checkOptional(r.result, `${field}.result`, checkJson);
  if (r.error !== undefined && r.error !== null) {
    const p = `${field}.error`;
    checkObject(r.error, p);
    checkString(r.error.name, `${p}.name`, STORE_LIMITS.textMaxLength, { controls: true, min: 0 });
    checkString(r.error.message, `${p}.message`, STORE_LIMITS.textMaxLength, { controls: true, min: 0 });
    checkOptional(r.error.stack, `${p}.stack`, checkText);
  }
  checkMs(r.durationMs, `${field}.durationMs`);
  if (r.retry !== undefined && r.retry !== null) checkRunDraft(r.retry, `${field}.retry`);
}

/** A `completeRuns` batch: 1..maxBatch requests, each valid, no run twice. */
export function checkCompleteBatch(value: unknown, field: string): void {
  checkArray(value, field, STORE_LIMITS.maxBatch);
  const seen = new Set<string>();
  value.forEach((r, i) => {
    checkComplete(r, `${field}[${i}]`);
    const id = (r as CompleteRequest).runId;
    if (seen.has(id)) {
      fail(
        `${field}[${i}].runId`,
        'duplicate',
        `names run '${id}' a second time in one batch: complete each run once`,
      );
    }
    seen.add(id);
  });
}

/** Node info as `registerNode` takes it. */
export function checkNodeInfo(value: unknown, field: string): void {
  checkObject(value, field);
  const n = value as unknown as NodeInfo;
  checkKey(n.nodeId, `${field}.nodeId`);
  checkApp(n.app, `${field}.app`);
  checkString(n.host, `${field}.host`, MAX_SHORT_TEXT);
  checkInt(n.pid, `${field}.pid`, 0, MAX_INT32);
  checkString(n.version, `${field}.version`, STORE_LIMITS.appMaxLength);
  checkStringList(n.handlers, `${field}.handlers`, STORE_LIMITS.maxBatch, checkKey);
  checkFinite(n.weight, `${field}.weight`, 0, 1_000_000);
  checkInt(n.concurrency, `${field}.concurrency`, 0, 1_000_000);
}

/** A `heartbeat` request. */
export function checkHeartbeat(value: unknown, field: string): void {
  checkObject(value, field);
  const h = value as unknown as HeartbeatRequest;
  checkApp(h.app, `${field}.app`);
  checkKey(h.nodeId, `${field}.nodeId`);
  checkCounter(h.incarnation, `${field}.incarnation`);
  checkEnum(
    h.state,
    `${field}.state`,
    NODE_STATES.filter((s) => s !== 'offline'),
  );
  checkInt(h.running, `${field}.running`, 0, 1_000_000);
  checkArray(h.runs, `${field}.runs`, STORE_LIMITS.maxBatch);
  h.runs.forEach((r, i) => {
    const p = `${field}.runs[${i}]`;
    checkObject(r, p);
    checkKey(r.runId, `${p}.runId`);
    checkOptional(r.progress, `${p}.progress`, (v, f) =>
      checkNullable(v, f, (x, g) => checkFinite(x, g, 0, 100)),
    );
  });
  checkPositiveMs(h.runLeaseMs, `${field}.runLeaseMs`);
  if (h.leader !== undefined && h.leader !== null) {
    checkObject(h.leader, `${field}.leader`);
    checkCounter(h.leader.epoch, `${field}.leader.epoch`);
    checkPositiveMs(h.leader.ttlMs, `${field}.leader.ttlMs`);
  }
}

/** A desired node state. */
export function checkDesiredState(value: unknown, field: string): void {
  checkEnum(value, field, DESIRED);
}

/** A `writePartitionMap` request. */
export function checkPartitionMapRequest(value: unknown, field: string): void {
  checkObject(value, field);
  checkApp(value.app, `${field}.app`);
  checkCounter(value.epoch, `${field}.epoch`);
  checkObject(value.assignments, `${field}.assignments`);
  const entries = Object.entries(value.assignments);
  if (entries.length > STORE_LIMITS.maxBatch) {
    fail(
      `${field}.assignments`,
      'max-items',
      `names ${entries.length} nodes, at most ${STORE_LIMITS.maxBatch}`,
    );
  }
  for (const [nodeId, parts] of entries) {
    checkKey(nodeId, `${field}.assignments.${nodeId}`);
    checkStringList(parts, `${field}.assignments.${nodeId}`, STORE_LIMITS.partitions, checkPartition);
  }
}

/** A `reapDeadNodes` request. */
export function checkReap(value: unknown, field: string): void {
  checkObject(value, field);
  const r = value as unknown as ReapRequest;
  checkApp(r.app, `${field}.app`);
  checkCounter(r.epoch, `${field}.epoch`);
  checkPositiveMs(r.nodeTtlMs, `${field}.nodeTtlMs`);
  checkOptional(r.limit, `${field}.limit`, checkLimit);
}

/** A `retargetRuns` request. */
export function checkRetarget(value: unknown, field: string): void {
  checkObject(value, field);
  const r = value as unknown as RetargetRequest;
  checkApp(r.app, `${field}.app`);
  checkCounter(r.epoch, `${field}.epoch`);
  checkArray(r.moves, `${field}.moves`, STORE_LIMITS.maxBatch);
  r.moves.forEach((m, i) => {
    const p = `${field}.moves[${i}]`;
    checkObject(m, p);
    checkKey(m.runId, `${p}.runId`);
    checkNullable(m.from, `${p}.from`, checkKey);
    checkNullable(m.to, `${p}.to`, checkKey);
  });
}

/** Log lines as `appendLogs` takes them. */
export function checkLogLines(value: unknown, field: string): void {
  checkArray(value, field, STORE_LIMITS.maxBatch);
  value.forEach((line, i) => {
    const p = `${field}[${i}]`;
    checkObject(line, p);
    const l = line as unknown as RunLogDraft;
    checkKey(l.runId, `${p}.runId`);
    checkEnum(l.level, `${p}.level`, LOG_LEVELS);
    checkString(l.message, `${p}.message`, STORE_LIMITS.logMessageMaxLength, { controls: true, min: 0 });
    checkNullable(l.fields, `${p}.fields`, checkJsonObject);
    checkMs(l.ts, `${p}.ts`);
  });
}

/** An audit entry as `appendAudit` takes it. */
export function checkAuditDraft(value: unknown, field: string): void {
  checkObject(value, field);
  const a = value as unknown as AuditDraft;
  checkApp(a.app, `${field}.app`);
  checkKey(a.actor, `${field}.actor`);
  checkKey(a.action, `${field}.action`);
  checkEnum(a.targetType, `${field}.targetType`, AUDIT_TARGETS);
  checkString(a.targetId, `${field}.targetId`, MAX_SHORT_TEXT);
  checkJson(a.before, `${field}.before`);
  checkJson(a.after, `${field}.after`);
}

/** A `getStats` query. */
export function checkStatsQuery(value: unknown, field: string): void {
  checkObject(value, field);
  checkOptional(value.app, `${field}.app`, checkApp);
  checkOptional(value.jobKey, `${field}.jobKey`, checkKey);
  checkMs(value.from, `${field}.from`);
  checkMs(value.to, `${field}.to`);
}

/** A `getHourlyTotals` query: an app and a time range. */
export function checkTotalsQuery(value: unknown, field: string): void {
  checkObject(value, field);
  checkApp(value.app, `${field}.app`);
  checkMs(value.from, `${field}.from`);
  checkMs(value.to, `${field}.to`);
}

/** A `prune` request: `finishedBefore` and/or `keepLast`, and a limit. */
export function checkPrune(value: unknown, field: string): void {
  checkObject(value, field);
  const r = value as unknown as PruneRequest;
  checkOptional(r.app, `${field}.app`, checkApp);
  checkOptional(r.finishedBefore, `${field}.finishedBefore`, checkMs);
  checkOptional(r.keepLast, `${field}.keepLast`, (v, f) => checkInt(v, f, 0));
  checkLimit(r.limit, `${field}.limit`);
  if (r.finishedBefore === undefined && r.keepLast === undefined) {
    fail(field, 'required', 'needs finishedBefore, keepLast or both: say which runs to delete');
  }
}

/** A `expectedVersion` of `saveJob`: null, 'any' or a version ≥ 1. */
export function checkExpectedVersion(value: unknown, field: string): void {
  if (value === null || value === 'any') return;
  checkCounter(value, field);
}

/** A free-text field (reason). */
export function checkReason(value: unknown, field: string): void {
  checkText(value, field);
}
