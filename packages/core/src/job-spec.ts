/**
 * Job definitions as users write them (`scheduler.job(spec)`, `scheduler.jobs.create(spec)`),
 * and their checks. Parsing is pure: it throws `ValidationError` or returns the normalized
 * definition, before anything is stored.
 */
import { type Duration, parseDuration } from './duration';
import { ValidationError } from './errors';
import type { BlockStrategy, JobRecord, MisfirePolicy, RetryPolicy, Routing, RoutingStrategy } from './model';
import { parseRetry, type RetryInput } from './retry';
import { parseSchedule, type ScheduleInput, sameSchedule } from './schedule';
import { STORE_LIMITS } from './store/store';
import {
  checkBoolean,
  checkEnum,
  checkInt,
  checkKnownKeys,
  checkOptionalText,
  checkString,
  checkStringArray,
  DEFAULT_MAX_JSON_BYTES,
  requireObject,
  toJsonValue,
} from './validation';

/** A job as users declare it. Only `key` and `handler` are required. */
export interface JobSpec {
  /** Unique within the app: 1..200 printable characters. */
  key: string;
  /** The handler that runs it (registered with `scheduler.handle`). */
  handler: string;
  /** When it fires; null or absent for manual / API triggers only. */
  schedule?: ScheduleInput;
  /**
   * Params given to the handler: plain JSON (checked at run time, so typed objects and
   * interfaces are accepted), at most the params limit; default `{}`.
   */
  params?: unknown;
  /** Whether it fires (default true). For code-declared jobs this is the initial value only: an operator's disable is kept. */
  enabled?: boolean;
  /** Retries of failed attempts (default: none). */
  retry?: RetryInput;
  /** Per-attempt timeout (default none). */
  timeout?: Duration | null;
  /** How its runs may overlap (default `serial`). */
  block?: BlockStrategy;
  /** What to do with fire times missed while no node ran (default `fire-once`). */
  misfire?: MisfirePolicy;
  /** Higher runs first among due runs (integer, default 0). */
  priority?: number;
  /** Routing strategy, or `{ strategy, key }` (default `any`). */
  routing?: RoutingStrategy | Routing;
  /** Shards per fire (1..1000, default 1); more than 1 implies routing `sharded`. */
  shards?: number;
  /** Labels (at most 32, each 1..64 characters). */
  tags?: string[];
  /** Who owns it. */
  owner?: string | null;
  /** Where alerts go. */
  alertContacts?: string[];
  /** Free text. */
  description?: string | null;
}

/** The fields of a job a spec defines: a job record minus identity and store-kept fields. */
export type JobDefinition = Pick<
  JobRecord,
  | 'key'
  | 'handler'
  | 'schedule'
  | 'params'
  | 'enabled'
  | 'routing'
  | 'block'
  | 'misfire'
  | 'retry'
  | 'timeoutMs'
  | 'shards'
  | 'priority'
  | 'owner'
  | 'alertContacts'
  | 'tags'
  | 'description'
>;

/** The keys a `JobSpec` may hold. */
export const JOB_SPEC_KEYS: readonly (keyof JobSpec)[] = [
  'key',
  'handler',
  'schedule',
  'params',
  'enabled',
  'retry',
  'timeout',
  'block',
  'misfire',
  'priority',
  'routing',
  'shards',
  'tags',
  'owner',
  'alertContacts',
  'description',
];

/** Every block strategy. */
export const BLOCK_STRATEGIES: readonly BlockStrategy[] = ['serial', 'skip', 'parallel', 'replace'];
/** Every misfire policy. */
export const MISFIRE_POLICIES: readonly MisfirePolicy[] = ['skip', 'fire-once', 'fire-all'];
/** Every routing strategy. */
export const ROUTING_STRATEGIES: readonly RoutingStrategy[] = [
  'any',
  'round-robin',
  'weighted',
  'random',
  'consistent-hash',
  'least-loaded',
  'failover',
  'broadcast',
  'sharded',
];

/** Names (job keys, handler names): printable, no leading or trailing space. */
const NAME_RE = /^[^\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u;

/** Checks a job key or handler name. */
export function checkName(value: unknown, field: string): string {
  return checkString(value, field, {
    max: STORE_LIMITS.keyMaxLength,
    pattern: NAME_RE,
    patternHint: 'must be printable characters without leading or trailing spaces',
  });
}

/** Limits for parsing specs. */
export interface SpecLimits {
  /** Max params size as JSON, bytes. */
  maxParamsBytes: number;
}

/**
 * The defaults of a definition's nested parts, one frozen instance shared by every definition
 * that does not set them (a scheduler keeps each declared definition for its life: 10,000 jobs
 * would otherwise hold 10,000 copies of each).
 */
const DEFAULT_PARTS = Object.freeze({
  schedule: Object.freeze({ kind: 'manual' }) as JobDefinition['schedule'],
  params: Object.freeze({}) as JobDefinition['params'],
  routing: Object.freeze({ strategy: 'any' }) as JobDefinition['routing'],
  retry: Object.freeze(parseRetry(undefined)) as JobDefinition['retry'],
  list: Object.freeze([]) as unknown as string[],
});

/**
 * Parses a whole spec into a definition; defaults fill what is absent. Treat the result as
 * read-only: the defaults of its nested parts (and cron schedules) are shared, frozen instances.
 */
export function parseJobSpec(
  input: unknown,
  limits: SpecLimits = { maxParamsBytes: DEFAULT_MAX_JSON_BYTES },
): JobDefinition {
  const obj = requireObject(input, 'job');
  checkKnownKeys(obj, JOB_SPEC_KEYS as readonly string[], '');
  if (obj.key === undefined) throw new ValidationError('key', 'required', 'is required');
  if (obj.handler === undefined) throw new ValidationError('handler', 'required', 'is required');
  const base: JobDefinition = {
    key: checkName(obj.key, 'key'),
    handler: '',
    schedule: DEFAULT_PARTS.schedule,
    params: DEFAULT_PARTS.params,
    enabled: true,
    routing: DEFAULT_PARTS.routing,
    block: 'serial',
    misfire: 'fire-once',
    retry: DEFAULT_PARTS.retry,
    timeoutMs: null,
    shards: 1,
    priority: 0,
    owner: null,
    alertContacts: DEFAULT_PARTS.list,
    tags: DEFAULT_PARTS.list,
    description: null,
  };
  return applyJobPatch(base, obj, limits);
}

/**
 * Applies the keys present in `patch` (a partial spec; `key` must be absent or equal) over a
 * definition, checking each. Returns a new definition.
 */
export function applyJobPatch(base: JobDefinition, input: unknown, limits: SpecLimits): JobDefinition {
  const patch = requireObject(input, 'job');
  checkKnownKeys(patch, JOB_SPEC_KEYS as readonly string[], '');
  const out: JobDefinition = { ...base };
  const has = (k: keyof JobSpec) => Object.hasOwn(patch, k);
  if (has('key') && patch.key !== base.key) {
    throw new ValidationError('key', 'immutable', `cannot be changed (is '${base.key}'): create a new job`);
  }
  if (has('handler')) out.handler = checkName(patch.handler, 'handler');
  if (has('schedule')) out.schedule = parseSchedule(patch.schedule, 'schedule');
  if (has('params')) out.params = toJsonValue(patch.params, 'params', limits.maxParamsBytes);
  if (has('enabled')) out.enabled = checkBoolean(patch.enabled, 'enabled');
  if (has('retry')) out.retry = parseRetry(patch.retry, 'retry');
  if (has('timeout')) {
    out.timeoutMs = patch.timeout === null ? null : parseDuration(patch.timeout, 'timeout');
    if (out.timeoutMs === 0)
      throw new ValidationError('timeout', 'min', 'must be more than 0 (null for none)');
  }
  if (has('block')) out.block = checkEnum(patch.block, 'block', BLOCK_STRATEGIES);
  if (has('misfire')) out.misfire = checkEnum(patch.misfire, 'misfire', MISFIRE_POLICIES);
  if (has('priority')) out.priority = checkInt(patch.priority, 'priority', -1_000_000, 1_000_000);
  if (has('routing')) out.routing = parseRouting(patch.routing);
  if (has('shards')) {
    out.shards = checkInt(patch.shards, 'shards', 1, 1000);
    if (out.shards > 1 && !has('routing')) out.routing = { strategy: 'sharded' };
  }
  if (out.shards > 1 && out.routing.strategy !== 'sharded') {
    throw new ValidationError(
      'shards',
      'routing',
      `more than 1 shard needs routing 'sharded', not '${out.routing.strategy}'`,
    );
  }
  if (has('tags'))
    out.tags = checkStringArray(patch.tags, 'tags', STORE_LIMITS.maxTags, STORE_LIMITS.tagMaxLength);
  if (has('owner')) out.owner = checkOptionalText(patch.owner, 'owner', STORE_LIMITS.textMaxLength);
  if (has('alertContacts')) {
    out.alertContacts = checkStringArray(patch.alertContacts, 'alertContacts', 32, 320);
  }
  if (has('description')) {
    out.description = checkOptionalText(patch.description, 'description', STORE_LIMITS.textMaxLength);
  }
  return out;
}

function parseRouting(value: unknown): Routing {
  if (typeof value === 'string') return { strategy: checkEnum(value, 'routing', ROUTING_STRATEGIES) };
  const obj = requireObject(value, 'routing');
  checkKnownKeys(obj, ['strategy', 'key'], 'routing');
  const strategy = checkEnum(obj.strategy, 'routing.strategy', ROUTING_STRATEGIES);
  if (obj.key === undefined || obj.key === null) return { strategy };
  return { strategy, key: checkString(obj.key, 'routing.key', { max: STORE_LIMITS.keyMaxLength }) };
}

/** The definition part of a stored job. */
export function definitionOf(job: JobRecord): JobDefinition {
  return {
    key: job.key,
    handler: job.handler,
    schedule: job.schedule,
    params: job.params,
    enabled: job.enabled,
    routing: job.routing,
    block: job.block,
    misfire: job.misfire,
    retry: job.retry,
    timeoutMs: job.timeoutMs,
    shards: job.shards,
    priority: job.priority,
    owner: job.owner,
    alertContacts: job.alertContacts,
    tags: job.tags,
    description: job.description,
  };
}

/** True when two definitions are equal, ignoring `enabled` (an operator's switch). */
export function sameDefinition(a: JobDefinition, b: JobDefinition): boolean {
  if (!sameSchedule(a.schedule, b.schedule)) return false;
  const strip = (d: JobDefinition) => ({ ...d, schedule: null, enabled: null, retry: retryKey(d.retry) });
  return stableStringify(strip(a)) === stableStringify(strip(b));
}

function retryKey(r: RetryPolicy): unknown {
  return [r.maxAttempts, r.backoff, r.delayMs, r.maxDelayMs, r.jitter];
}

/** JSON with object keys sorted, for comparisons. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}
