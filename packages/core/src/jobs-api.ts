/**
 * `scheduler.jobs`: create, read, change, delete, enable, disable and trigger job definitions.
 * Every method checks its input before the store sees it (bad input changes nothing) and writes
 * an audit entry for each change.
 */
import { ConflictError, NotFoundError, OasisError, ValidationError } from './errors';
import { baseDraft } from './fire-planner';
import {
  applyJobPatch,
  definitionOf,
  type JobDefinition,
  type JobSpec,
  parseJobSpec,
  type SpecLimits,
  sameDefinition,
} from './job-spec';
import type {
  JobDraft,
  JobFilter,
  JobRecord,
  JobSource,
  JsonValue,
  Page,
  PageRequest,
  RunDraft,
  RunRecord,
} from './model';
import { firstFireAt, parseSchedule, previewFireTimes, sameSchedule } from './schedule';
import { partitionOf } from './store/partition';
import type { Store } from './store/store';
import { checkEnum, checkInt, checkKnownKeys, requireObject, toJsonValue } from './validation';

/** What the jobs API needs from its scheduler. Not public: the scheduler implements it. */
export interface JobsHost {
  readonly store: Store;
  readonly app: string;
  readonly limits: SpecLimits;
  /** The store's now (one round trip). */
  storeNow(): Promise<number>;
  /** The store's now as estimated from the last round trip (no round trip). */
  estimateNow(): number;
  /** Throws `ValidationError` (field `field`, rule `unknown-handler`) for a handler no node runs. */
  checkHandler(name: string, field: string): void;
  /**
   * Routes, inserts runs, wakes the engine and emits events; returns the runs (existing ones for
   * known keys). `routingKey` is the `consistent-hash` key (default the job key).
   */
  insertRuns(drafts: RunDraft[], routingKey?: string): Promise<RunRecord[]>;
  /** Reports an error of a side step (the audit write) as an `error` event. */
  reportError(error: unknown, during: string): void;
}

/** Options of a change: who makes it (written to the audit log; default `api`). */
export interface ChangeOptions {
  actor?: string;
}

/** Options of `jobs.update`. */
export interface UpdateOptions extends ChangeOptions {
  /** Only if the job is still at this version (`ConflictError` otherwise). Without it, lost races are retried. */
  expectedVersion?: number;
}

/** Options of `jobs.trigger`. */
export interface TriggerOptions extends ChangeOptions {
  /** Params for this run instead of the job's (plain JSON, checked at run time). */
  params?: unknown;
}

/** A batch operation on several jobs. */
export interface JobBatch {
  action: 'enable' | 'disable' | 'delete' | 'trigger';
  keys: string[];
  /** For `trigger`: params instead of each job's (plain JSON). */
  params?: unknown;
  actor?: string;
}

/** The outcome of one key of a batch. */
export interface JobBatchResult {
  key: string;
  ok: boolean;
  /** The error when not ok (`NotFoundError`, `ValidationError`, …). */
  error?: OasisError;
  /** For `trigger`: the runs made. */
  runs?: RunRecord[];
}

const CONFLICT_RETRIES = 5;

/** Job definitions of one scheduler's app. Reached as `scheduler.jobs`. */
export class JobsApi {
  readonly #host: JobsHost;

  /** Used by the scheduler; not meant to be built by users. */
  constructor(host: JobsHost) {
    this.#host = host;
  }

  /**
   * Creates a job (source `admin`). Throws `ValidationError` for a bad spec or unknown handler,
   * `ConflictError` when the key exists.
   */
  async create(spec: JobSpec, options: ChangeOptions = {}): Promise<JobRecord> {
    const def = parseJobSpec(spec, this.#host.limits);
    this.#host.checkHandler(def.handler, 'handler');
    const now = await this.#host.storeNow();
    const saved = await this.#host.store.saveJob(
      this.#draft(def, 'admin', firstFireAt(def.schedule, now), null),
      null,
    );
    await this.#audit(options, 'job.create', def.key, null, saved);
    return saved;
  }

  /**
   * Creates or updates a job declared in code (source `code`), as `start()` does for
   * `scheduler.job(spec)`. Unchanged: nothing is written (the next fire time stays). Changed:
   * the definition is replaced, the next fire time kept unless the schedule changed, and the
   * stored `enabled` kept (an operator's disable survives restarts). Code wins: an edit made
   * through the API to a code-declared job (or a job of the same key made in the panel) is
   * replaced by the code's definition at the next upsert, except `enabled`. Returns the stored
   * job and whether it was written.
   */
  async upsert(spec: JobSpec, options: ChangeOptions = {}): Promise<{ job: JobRecord; changed: boolean }> {
    const def = parseJobSpec(spec, this.#host.limits);
    this.#host.checkHandler(def.handler, 'handler');
    return this.upsertDefinition(def, options);
  }

  /** `upsert` of an already parsed and checked definition (used at start). */
  async upsertDefinition(
    def: JobDefinition,
    options: ChangeOptions = {},
  ): Promise<{ job: JobRecord; changed: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const existing = await this.#host.store.getJob(this.#host.app, def.key);
      try {
        if (existing === null) {
          const now = await this.#host.storeNow();
          const job = await this.#host.store.saveJob(
            this.#draft(def, 'code', firstFireAt(def.schedule, now), null),
            null,
          );
          await this.#audit({ actor: options.actor ?? 'code' }, 'job.create', def.key, null, job);
          return { job, changed: true };
        }
        if (existing.source === 'code' && sameDefinition(definitionOf(existing), def)) {
          return { job: existing, changed: false };
        }
        const merged: JobDefinition = { ...def, enabled: existing.enabled };
        let next = existing.nextFireAt;
        if (!sameSchedule(existing.schedule, def.schedule))
          next = firstFireAt(def.schedule, await this.#host.storeNow());
        const job = await this.#host.store.saveJob(
          this.#draft(merged, 'code', next, existing.lastFireAt),
          existing.version,
        );
        await this.#audit({ actor: options.actor ?? 'code' }, 'job.update', def.key, existing, job);
        return { job, changed: true };
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= CONFLICT_RETRIES) throw err;
      }
    }
  }

  /** The job, or null. */
  async get(key: string): Promise<JobRecord | null> {
    return this.#host.store.getJob(this.#host.app, key);
  }

  /** The app's jobs by key, filtered (search, enabled, tag, handler, source), one page. */
  async list(filter: Omit<JobFilter, 'app'> = {}, page?: PageRequest): Promise<Page<JobRecord>> {
    return this.#host.store.listJobs({ ...filter, app: this.#host.app }, page);
  }

  /**
   * Changes a job: `patch` holds the spec keys to change (`key` may not change). A new schedule,
   * or enabling a disabled job, restarts its fire times from now. `NotFoundError` when absent;
   * `ConflictError` when `expectedVersion` is given and stale.
   */
  async update(key: string, patch: Partial<JobSpec>, options: UpdateOptions = {}): Promise<JobRecord> {
    requireObject(patch, 'job');
    return this.#change(
      key,
      options,
      (job) => applyJobPatch(definitionOf(job), patch, this.#host.limits),
      'job.update',
    );
  }

  /** Enables a job; its fire times restart from now. Returns the job. */
  async enable(key: string, options: ChangeOptions = {}): Promise<JobRecord> {
    return this.#change(key, options, (job) => ({ ...definitionOf(job), enabled: true }), 'job.enable');
  }

  /** Disables a job: it stops firing; manual triggers still work. Returns the job. */
  async disable(key: string, options: ChangeOptions = {}): Promise<JobRecord> {
    return this.#change(key, options, (job) => ({ ...definitionOf(job), enabled: false }), 'job.disable');
  }

  /** Deletes a job and cancels its pending runs. Returns the deleted job, or null when there was none. */
  async delete(key: string, options: UpdateOptions = {}): Promise<JobRecord | null> {
    const deleted = await this.#host.store.deleteJob(this.#host.app, key, options.expectedVersion);
    if (deleted !== null) await this.#audit(options, 'job.delete', key, deleted, null);
    return deleted;
  }

  /**
   * Runs a job now (trigger `manual`), with its params or `options.params`; the job's block
   * strategy applies. Works on disabled jobs. Returns the runs made (one per shard).
   * `NotFoundError` when absent; `ValidationError` for bad params or a handler no node runs.
   */
  async trigger(key: string, options: TriggerOptions = {}): Promise<RunRecord[]> {
    checkKnownKeys(requireObject(options, 'options'), ['params', 'actor'], 'options');
    const params =
      options.params === undefined
        ? undefined
        : toJsonValue(options.params, 'params', this.#host.limits.maxParamsBytes);
    const job = await this.get(key);
    if (job === null) throw new NotFoundError('job', key);
    this.#host.checkHandler(job.handler, 'handler');
    const at = this.#host.estimateNow();
    const total = job.routing.strategy === 'sharded' ? job.shards : 1;
    const drafts: RunDraft[] = [];
    for (let i = 0; i < total; i++) {
      drafts.push({
        ...baseDraft(job, at, 'manual'),
        params: params === undefined ? job.params : params,
        shardIndex: i,
        shardTotal: total,
        idempotencyKey: null,
      });
    }
    const runs = await this.#host.insertRuns(drafts, job.routing.key);
    await this.#audit(options, 'job.trigger', key, null, {
      runIds: runs.map((r) => r.id),
      params: params ?? null,
    });
    return runs;
  }

  /** Applies one action to several jobs; each key succeeds or fails on its own. */
  async batch(batch: JobBatch): Promise<JobBatchResult[]> {
    const obj = requireObject(batch, 'batch');
    checkKnownKeys(obj, ['action', 'keys', 'params', 'actor'], 'batch');
    const action = checkEnum(obj.action, 'batch.action', ['enable', 'disable', 'delete', 'trigger'] as const);
    if (!Array.isArray(obj.keys))
      throw new ValidationError('batch.keys', 'type', 'must be an array of job keys');
    checkInt(obj.keys.length, 'batch.keys.length', 1, 1000);
    const options = { actor: batch.actor };
    const out: JobBatchResult[] = [];
    for (const key of batch.keys) {
      try {
        if (action === 'trigger') {
          const runs = await this.trigger(key, {
            ...options,
            ...(batch.params === undefined ? {} : { params: batch.params }),
          });
          out.push({ key, ok: true, runs });
        } else if (action === 'delete') {
          const deleted = await this.delete(key, options);
          out.push(
            deleted === null ? { key, ok: false, error: new NotFoundError('job', key) } : { key, ok: true },
          );
        } else {
          await (action === 'enable' ? this.enable(key, options) : this.disable(key, options));
          out.push({ key, ok: true });
        }
      } catch (err) {
        if (!(err instanceof OasisError)) throw err;
        out.push({ key, ok: false, error: err });
      }
    }
    return out;
  }

  /** The next `count` fire times of a schedule (as written in a spec) after store now: a preview. */
  async preview(schedule: JobSpec['schedule'], count = 5): Promise<number[]> {
    const s = parseSchedule(schedule, 'schedule');
    checkInt(count, 'count', 1, 100);
    return previewFireTimes(s, await this.#host.storeNow(), count);
  }

  async #change(
    key: string,
    options: UpdateOptions,
    edit: (job: JobRecord) => JobDefinition,
    action: string,
  ): Promise<JobRecord> {
    for (let attempt = 0; ; attempt++) {
      const job = await this.get(key);
      if (job === null) throw new NotFoundError('job', key);
      if (options.expectedVersion !== undefined && job.version !== options.expectedVersion) {
        throw new ConflictError(
          `job '${key}' is at version ${job.version}, not ${options.expectedVersion}: re-read it and try again`,
        );
      }
      const def = edit(job);
      if (def.handler !== job.handler) this.#host.checkHandler(def.handler, 'handler');
      let next = job.nextFireAt;
      const restart = !sameSchedule(job.schedule, def.schedule) || (def.enabled && !job.enabled);
      if (restart) next = firstFireAt(def.schedule, await this.#host.storeNow());
      try {
        const saved = await this.#host.store.saveJob(
          this.#draft(def, job.source, next, job.lastFireAt),
          job.version,
        );
        await this.#audit(options, action, key, job, saved);
        return saved;
      } catch (err) {
        if (
          !(err instanceof ConflictError) ||
          options.expectedVersion !== undefined ||
          attempt >= CONFLICT_RETRIES
        ) {
          throw err;
        }
      }
    }
  }

  #draft(
    def: JobDefinition,
    source: JobSource,
    nextFireAt: number | null,
    lastFireAt: number | null,
  ): JobDraft {
    return {
      ...def,
      app: this.#host.app,
      source,
      partition: partitionOf(def.key),
      nextFireAt,
      lastFireAt,
    };
  }

  /** Best effort: the change is made; a failed audit write is reported as an `error` event. */
  async #audit(
    options: ChangeOptions,
    action: string,
    key: string,
    before: unknown,
    after: unknown,
  ): Promise<void> {
    try {
      await this.#host.store.appendAudit({
        app: this.#host.app,
        actor: options.actor ?? 'api',
        action,
        targetType: 'job',
        targetId: key,
        before: (before ?? null) as JsonValue,
        after: (after ?? null) as JsonValue,
      });
    } catch (err) {
      this.#host.reportError(err, 'audit');
    }
  }
}
