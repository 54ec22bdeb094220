import {
  type AuditDraft,
  type AuditFilter,
  type AuditRecord,
  type ClaimRequest,
  type CompleteRequest,
  type CompleteResult,
  type CompleteRunsItem,
  type EnqueueResult,
  emptyStatsBucket,
  type FireRequest,
  type FireResult,
  type HeartbeatRequest,
  type HeartbeatResult,
  type JobDraft,
  type JobFilter,
  type JobRecord,
  type LeaderLease,
  type NodeInfo,
  type NodeRecord,
  NotFoundError,
  type Page,
  type PageRequest,
  type PartitionMap,
  type PruneRequest,
  type ReapRequest,
  type ReapResult,
  type RetargetRequest,
  type RunDraft,
  type RunFilter,
  type RunLogDraft,
  type RunLogLine,
  type RunRecord,
  type RunState,
  type RunView,
  STORE_LIMITS,
  type StatsBucket,
  type Store,
  type StoreCapabilities,
  type StoreEvent,
  StoreUnavailableError,
  ValidationError,
} from '@oasis/core';
import { Redis, type RedisOptions } from 'ioredis';
import {
  decodeAudit,
  decodeCursor,
  decodeJob,
  decodeLease,
  decodeLogLine,
  decodeNode,
  decodeRun,
  decodeRunFields,
  decodeRunSummary,
  encodeCursor,
  encodeJobDraft,
  encodeRunDraft,
  type FlatHash,
  formatRunId,
  parseRunId,
  type RunRef,
  toRecord,
} from './codec';
import { refusalOf, toOasisError } from './errors';
import { RedisKeys } from './keys';
import { type CompleteArgs, type CompleteReply, type HashObject, LuaSteps, type ScanReply } from './scripts';

/** Options of `RedisStore`. Give one of `url`, `redis` or `client` (default: `redis://127.0.0.1:6379`). */
export interface RedisStoreOptions {
  /** A Redis URL, e.g. `redis://:password@host:6379/0` or `rediss://…` for TLS. */
  url?: string;
  /**
   * ioredis options for the connection the store creates. The store overrides the options that
   * decide how a lost server surfaces (see `README.md`): `lazyConnect: true`,
   * `enableOfflineQueue: false`, `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`,
   * and `commandTimeout` (from `commandTimeoutMs`).
   */
  redis?: RedisOptions;
  /**
   * An ioredis client to use as it is (the store does not close it). Configure it as above so a
   * lost server fails calls fast instead of queueing them.
   */
  client?: Redis;
  /** Key prefix; keys of an app are `{<prefix>:<app>}:…` (default `oasis`). No `{` or `}`. */
  prefix?: string;
  /** Log lines kept per run (default `STORE_LIMITS.maxLogLinesPerRun`). */
  maxLogLinesPerRun?: number;
  /** A command with no reply after this long fails with `StoreUnavailableError` (default 10000 ms). */
  commandTimeoutMs?: number;
  /** How long `init()` waits for the server (default 10000 ms). */
  connectTimeoutMs?: number;
  /**
   * Whether `init()` starts building, in the background, the per-(state, job) run index of apps
   * written before it existed (default true). With false, listings of those apps by job and
   * states walk every run of the job until `buildRunIndex()` is called.
   */
  buildRunIndexOnInit?: boolean;
  /**
   * For tests only: milliseconds added to the server's `TIME` in every step (read on each call),
   * to move store time forward without waiting. Default 0.
   */
  clockOffsetMs?: () => number;
}

let warnedEviction = false;

/** Index entries a listing examines per app and call at most; a sparse filter returns a short page with a cursor. */
const SCAN_BUDGET = 5000;
/**
 * Runs one index-runs.lua step reads at most (see `indexRunsStep`): a few ms of Redis time, so
 * building the index of a large app never holds the server for long.
 */
const RUN_INDEX_BATCH = 500;

/** One step of building an app's per-(state, job) run index (`RedisStore.indexRunsStep`). */
export interface RunIndexStep {
  /** True once the app's index is complete: listings by job and states use it from then on. */
  done: boolean;
  /** Runs this step read (0 when the index was already complete). */
  runs: number;
}

/** What `RedisStore.buildRunIndex` did. */
export interface RunIndexBuild {
  /** Apps whose index it found incomplete (and completed, unless the store was closed first). */
  apps: number;
  /** Steps (script calls) it made. */
  calls: number;
  /** Runs those steps read. */
  runs: number;
}
/**
 * Claimed runs' hashes a store instance keeps for their completion (see `RedisStore.#claimed`):
 * far more than a node runs at once, and at ~1 KB each a bound on what runs never completed
 * here (lost, or abandoned at shutdown) can hold.
 */
const CLAIMED_CACHE_MAX = 4096;

/**
 * A run's hash after complete-runs.lua ended it, from the hash its claim returned, the request's
 * own values (`args`) and what the step reported changed (`changes`: state, finishedAt and the
 * fields other steps write on a running run); the lease field goes, as the step removes it.
 */
function afterCompletion(claimed: HashObject, changes: HashObject, args: CompleteArgs): HashObject {
  const hash: Record<string, string | undefined> = { ...claimed };
  hash.leaseExpiresAt = undefined;
  hash.state = changes.state;
  hash.finishedAt = changes.finishedAt;
  hash.result = args[4];
  hash.durationMs = String(args[6]);
  if (args[5] !== '') hash.error = args[5];
  hash.reason = changes.reason;
  hash.cancelRequested = changes.cancelRequested;
  hash.progress = changes.progress;
  return hash as HashObject;
}
const DEFAULT_PAGE = 50;

/** A position in a newest-first listing across apps: (seq, app) descending. */
interface Pos {
  seq: number;
  app: string;
}

function comparePos(a: Pos, b: Pos): number {
  return a.seq - b.seq || (a.app < b.app ? -1 : a.app > b.app ? 1 : 0);
}

/**
 * One field of a flat hash ([field, value, …]), or undefined: a page reads each run's `seq` this
 * way rather than building a whole record it would throw away (its decoder builds its own).
 */
function fieldOf(flat: FlatHash, name: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}

/**
 * The Oasis store over Redis: every step that touches more than one key or reads then writes
 * is one Lua script (`src/lua/*.lua`), so no step interleaves with another node's; time is the
 * server's `TIME`; all keys of one app share one hash tag, so it works on Redis Cluster.
 * Wake-ups travel over pub/sub on a dedicated connection that reconnects and resubscribes.
 *
 * @example
 * const store = createRedisStore({ url: process.env.REDIS_URL, prefix: 'oasis' });
 * await store.init();
 */
export class RedisStore implements Store {
  /** `redis`. */
  readonly name = 'redis';
  /** Cross-process with pub/sub wake-ups; no skip-locked (each Lua step runs alone). */
  readonly capabilities: StoreCapabilities = { crossProcess: true, notifications: true, skipLocked: false };

  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #keys: RedisKeys;
  readonly #lua: LuaSteps;
  readonly #maxLogLines: number;
  readonly #offset: () => number;
  readonly #connectTimeoutMs: number;
  readonly #buildRunIndexOnInit: boolean;
  readonly #knownApps = new Set<string>();
  /**
   * The hashes of runs this instance claimed and has not completed yet, by run id, as the claim
   * returned them: their completion then asks Redis only for what changed since (see
   * complete-runs.lua). At most `CLAIMED_CACHE_MAX`, oldest dropped first (a dropped run is
   * completed with the whole hash read back).
   */
  readonly #claimed = new Map<string, HashObject>();
  readonly #listeners = new Map<string, Set<(event: StoreEvent) => void>>();
  #subscriber: Redis | null = null;
  #closed = false;
  /** The index build `init()` started in the background, if any (`close()` waits for its step). */
  #indexing: Promise<void> | null = null;

  /** Creates the store; nothing connects before `init()`. */
  constructor(options: RedisStoreOptions = {}) {
    const prefix = options.prefix ?? 'oasis';
    if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix)) {
      throw new ValidationError(
        'options.prefix',
        'pattern',
        `must be a non-empty string without '{' or '}' (the store adds the braces of the hash tag), got ${JSON.stringify(prefix)}`,
      );
    }
    this.#keys = new RedisKeys(prefix);
    this.#maxLogLines = options.maxLogLinesPerRun ?? STORE_LIMITS.maxLogLinesPerRun;
    this.#offset = options.clockOffsetMs ?? (() => 0);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#buildRunIndexOnInit = options.buildRunIndexOnInit ?? true;
    if (options.client) {
      this.#client = options.client;
      this.#ownsClient = false;
    } else {
      const failFast: RedisOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: options.commandTimeoutMs ?? 10_000,
        connectTimeout: this.#connectTimeoutMs,
        retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      };
      const base = options.redis ?? {};
      this.#client = options.url
        ? new Redis(options.url, { ...base, ...failFast })
        : new Redis({ host: '127.0.0.1', port: 6379, ...base, ...failFast });
      this.#ownsClient = true;
    }
    // Connection errors surface through the calls that fail; an unhandled 'error' event would crash.
    this.#client.on('error', () => {});
    this.#lua = new LuaSteps(this.#client, this.#offset);
  }

  /**
   * Connects and waits until the server is ready (loaded its data). Idempotent. Then (unless
   * `buildRunIndexOnInit` is false) starts, in the background, building the per-(state, job) run
   * index of apps written before it existed (`buildRunIndex`): until an app's is complete its
   * listings by job and states walk the job's runs, as before. A build that fails (the server
   * went away) emits a process warning and is taken up again by the next `init()`, from where it
   * stopped.
   */
  async init(): Promise<void> {
    const c = this.#client;
    if (c.status === 'wait') {
      try {
        await c.connect();
      } catch (err) {
        throw toOasisError(err, 'init');
      }
    }
    await this.#waitReady();
    await this.#checkEvictionPolicy();
    if (!this.#buildRunIndexOnInit) return;
    this.#indexing ??= this.buildRunIndex().then(
      () => {},
      (err: unknown) => {
        if (this.#closed) return;
        process.emitWarning(
          `Oasis could not finish building the Redis per-(state, job) run index (${err instanceof Error ? err.message : String(err)}): listings by job and states walk every run of the job until a later init() completes it`,
          { code: 'OASIS_REDIS_RUN_INDEX' },
        );
      },
    );
  }

  /**
   * Builds the per-(state, job) run index (`B:runs:sj:<state>:<jobKey>`, see README.md) of one app,
   * or of every app of this prefix, where it is not complete yet: data written before the index
   * existed. Calls `indexRunsStep` until the app's index is complete; each step is one short
   * script, so other clients' commands run between them, and steps of several stores (nodes
   * starting together) share one position and split the work. Apps with the index already
   * complete cost one `EXISTS`. Stops early, without error, when the store is closed.
   * `init()` runs it in the background; call it to wait for it, or to build at a time you choose.
   *
   * @throws StoreUnavailableError or StoreError when a step fails (the next call goes on from
   *   where it stopped).
   */
  async buildRunIndex(app?: string): Promise<RunIndexBuild> {
    const apps = app !== undefined ? [app] : await this.#apps();
    const build: RunIndexBuild = { apps: 0, calls: 0, runs: 0 };
    if (apps.length === 0) return build;
    const marked = await this.#call('buildRunIndex', () =>
      Promise.all(apps.map((a) => this.#client.exists(this.#keys.runIndexMarker(a)))),
    );
    for (let i = 0; i < apps.length; i++) {
      if (marked[i] === 1) continue;
      build.apps++;
      for (;;) {
        if (this.#closed) return build;
        const step = await this.indexRunsStep(apps[i]!);
        build.calls++;
        build.runs += step.runs;
        if (step.done) break;
      }
    }
    return build;
  }

  /**
   * One bounded step of building an app's per-(state, job) run index (index-runs.lua): indexes up
   * to `batch` runs (at most 3,000), newest first from where the last step of any store stopped,
   * each under its state as read in the step, and marks the index complete when it has passed the
   * oldest run. Safe while other nodes insert, claim and complete runs: those steps keep the index
   * themselves. `buildRunIndex` calls it in a loop.
   *
   * @param batch runs read at most (default 500: about 4 ms of Redis time on the 1M-run bench seed).
   * @throws StoreUnavailableError or StoreError when the step fails (nothing of it is applied).
   */
  async indexRunsStep(app: string, batch = RUN_INDEX_BATCH): Promise<RunIndexStep> {
    return this.#call('indexRunsStep', () => this.#lua.indexRuns(this.#keys.base(app), batch));
  }

  /**
   * An evicting `maxmemory-policy` can silently drop jobs, runs and leases: warn once per process
   * (through `process.emitWarning`) when the server has one. Skipped where CONFIG is not allowed.
   */
  async #checkEvictionPolicy(): Promise<void> {
    try {
      const reply = (await this.#client.config('GET', 'maxmemory-policy')) as unknown as string[];
      const policy = reply[1];
      if (policy && policy !== 'noeviction' && !warnedEviction) {
        warnedEviction = true;
        process.emitWarning(
          `Redis maxmemory-policy is '${policy}': Oasis needs 'noeviction', or Redis may evict jobs, runs and leases when full`,
          { code: 'OASIS_REDIS_EVICTION' },
        );
      }
    } catch {
      // managed Redis often refuses CONFIG: nothing to check then
    }
  }

  async #waitReady(): Promise<void> {
    const c = this.#client;
    if (c.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new StoreUnavailableError(
            `redis was not ready within ${this.#connectTimeoutMs} ms (status ${c.status}): check that it runs and the URL`,
          ),
        );
      }, this.#connectTimeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onEnd = () => {
        cleanup();
        reject(new StoreUnavailableError('redis connection ended before it was ready'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        c.off('ready', onReady);
        c.off('end', onEnd);
      };
      c.on('ready', onReady);
      c.on('end', onEnd);
    });
  }

  /** Closes the subscriber and, when the store created it, the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#claimed.clear();
    // The background index build stops before its next step; its current step ends first.
    await this.#indexing;
    const sub = this.#subscriber;
    this.#subscriber = null;
    if (sub) await quit(sub);
    if (this.#ownsClient) await quit(this.#client);
  }

  /** The server's `TIME` in ms (plus the test clock offset). */
  async now(): Promise<number> {
    const [s, us] = await this.#call('now', () => this.#client.time());
    return Number(s) * 1000 + Math.floor(Number(us) / 1000) + this.#offset();
  }

  // ---- jobs ----------------------------------------------------------------------------------

  /** The job, or null. */
  async getJob(app: string, key: string): Promise<JobRecord | null> {
    const flat = await this.#call('getJob', () => this.#client.hgetall(this.#keys.job(app, key)));
    return Object.keys(flat).length === 0 ? null : decodeJob(objectToFlat(flat));
  }

  /** Writes a job with compare-and-set on its version (one Lua step); see `Store.saveJob`. */
  async saveJob(draft: JobDraft, expectedVersion: number | null | 'any'): Promise<JobRecord> {
    await this.#registerApp(draft.app);
    const flat = await this.#call('saveJob', () =>
      this.#lua.saveJob(this.#keys.base(draft.app), {
        mode: expectedVersion === null ? 'create' : expectedVersion === 'any' ? 'any' : 'update',
        expected: typeof expectedVersion === 'number' ? String(expectedVersion) : '',
        key: draft.key,
        draft: encodeJobDraft(draft),
        enabled: draft.enabled,
        partition: draft.partition,
        nextFireAt: draft.nextFireAt,
        lastFireAt: draft.lastFireAt,
        delayAfterMs: draft.schedule.kind === 'delay-after' ? draft.schedule.ms : null,
      }),
    );
    return decodeJob(flat);
  }

  /** Deletes a job and cancels its pending runs (one Lua step); see `Store.deleteJob`. */
  async deleteJob(app: string, key: string, expectedVersion?: number): Promise<JobRecord | null> {
    const flat = await this.#call('deleteJob', () =>
      this.#lua.deleteJob(this.#keys.base(app), key, expectedVersion),
    );
    return flat.length === 0 ? null : decodeJob(flat);
  }

  /** Jobs by key ascending (then app), filtered, one keyset page. */
  async listJobs(filter: JobFilter, page?: PageRequest): Promise<Page<JobRecord>> {
    const limit = page?.limit ?? DEFAULT_PAGE;
    const after = page?.cursor ? decodeCursor(page.cursor, 2) : null;
    const apps = filter.app !== undefined ? [filter.app] : await this.#apps();
    const search = filter.search?.toLowerCase();
    const matches = (j: JobRecord) =>
      (filter.enabled === undefined || j.enabled === filter.enabled) &&
      (filter.tag === undefined || j.tags.includes(filter.tag)) &&
      (filter.handler === undefined || j.handler === filter.handler) &&
      (filter.source === undefined || j.source === filter.source) &&
      (search === undefined ||
        j.key.toLowerCase().includes(search) ||
        j.handler.toLowerCase().includes(search) ||
        (j.description ?? '').toLowerCase().includes(search));
    const found: JobRecord[] = [];
    const batch = Math.min(1000, Math.max(100, limit * 2));
    for (const app of apps) {
      let bound = '-';
      if (after) bound = app > after[1]! ? `[${after[0]}` : `(${after[0]}`;
      let taken = 0;
      for (;;) {
        const rows = await this.#call('listJobs', () =>
          this.#lua.listJobs(this.#keys.base(app), bound, batch),
        );
        for (const row of rows) {
          const job = decodeJob(row);
          if (matches(job)) {
            found.push(job);
            taken++;
          }
        }
        if (rows.length < batch || taken > limit) break;
        bound = `(${toRecord(rows[rows.length - 1]!).key}`;
      }
    }
    found.sort((a, b) => cmp(a.key, b.key) || cmp(a.app, b.app));
    const items = found.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: found.length > limit && last ? encodeCursor([last.key, last.app]) : null };
  }

  // ---- firing --------------------------------------------------------------------------------

  /** Enabled jobs due by store now + `horizonMs`, earliest first (one Lua step, reads only). */
  async dueJobs(query: {
    app: string;
    partitions: number[] | null;
    limit: number;
    horizonMs?: number;
  }): Promise<JobRecord[]> {
    if (query.limit <= 0 || (query.partitions !== null && query.partitions.length === 0)) return [];
    const rows = await this.#call('dueJobs', () =>
      this.#lua.dueJobs(this.#keys.base(query.app), query.limit, query.horizonMs ?? 0, query.partitions),
    );
    return rows.map(decodeJob);
  }

  /** Compare-and-set fires with their runs (one Lua step); see `Store.fireJobs`. */
  async fireJobs(app: string, fires: FireRequest[]): Promise<FireResult[]> {
    if (fires.length === 0) return [];
    await this.#registerApp(app);
    const args = fires.map((f) =>
      JSON.stringify({
        jobKey: f.jobKey,
        expected: String(f.expectedNextFireAt),
        next: f.nextFireAt === null ? '' : String(f.nextFireAt),
        last: String(f.lastFireAt),
        runs: f.runs.map(encodeRunDraft),
      }),
    );
    const reply = await this.#call('fireJobs', () => this.#lua.fireJobs(this.#keys.base(app), args));
    return reply.map(([jobKey, fired, runs]) => ({
      jobKey,
      fired: fired === '1',
      runs: runs.map(decodeRun),
    }));
  }

  /** The earliest next fire or due time for a node (one Lua step, reads only). */
  async nextWakeAt(query: {
    app: string;
    partitions: number[] | null;
    handlers: string[];
    nodeId: string;
  }): Promise<number | null> {
    const at = await this.#call('nextWakeAt', () =>
      this.#lua.nextWake(
        this.#keys.base(query.app),
        query.nodeId,
        query.handlers,
        query.partitions !== null && query.partitions.length === 0 ? [-1] : query.partitions,
      ),
    );
    return at === '' ? null : Number(at);
  }

  // ---- runs ----------------------------------------------------------------------------------

  /** Inserts runs (one Lua step per app in the batch); see `Store.enqueueRuns`. */
  async enqueueRuns(drafts: RunDraft[]): Promise<EnqueueResult[]> {
    const results: EnqueueResult[] = new Array(drafts.length);
    const byApp = new Map<string, number[]>();
    drafts.forEach((d, i) => {
      const list = byApp.get(d.app);
      if (list) list.push(i);
      else byApp.set(d.app, [i]);
    });
    for (const [app, indexes] of byApp) {
      await this.#registerApp(app);
      const reply = await this.#call('enqueueRuns', () =>
        this.#lua.enqueueRuns(
          this.#keys.base(app),
          indexes.map((i) => JSON.stringify(encodeRunDraft(drafts[i]!))),
        ),
      );
      reply.forEach(([created, flat], j) => {
        results[indexes[j]!] = { run: decodeRun(flat), created: created === '1' };
      });
    }
    return results;
  }

  /** Claims due runs for a node (one Lua step); see `Store.claimRuns`. */
  async claimRuns(request: ClaimRequest): Promise<RunRecord[]> {
    const rows = await this.#call('claimRuns', () =>
      this.#lua.claimRuns(this.#keys.base(request.app), {
        nodeId: request.nodeId,
        incarnation: request.incarnation,
        limit: request.limit,
        leaseMs: request.leaseMs,
        handlers: [...new Set(request.handlers)],
      }),
    );
    const runs = rows.map(decodeRunFields);
    for (let i = 0; i < rows.length; i++) this.#claimed.set(runs[i]!.id, rows[i]!);
    if (this.#claimed.size > CLAIMED_CACHE_MAX) {
      for (const id of this.#claimed.keys()) {
        this.#claimed.delete(id);
        if (this.#claimed.size <= CLAIMED_CACHE_MAX) break;
      }
    }
    return runs;
  }

  /**
   * Ends several runs, each as `completeRun` would, with one Lua step per app in the batch
   * (`complete-runs.lua`); refusals come back in place. See `Store.completeRuns`.
   */
  completeRuns(requests: CompleteRequest[]): Promise<CompleteRunsItem[]> {
    return this.#complete(requests, 'completeRuns');
  }

  /** Ends a run its node owns and inserts its retry: `completeRuns` with one request. */
  async completeRun(request: CompleteRequest): Promise<CompleteResult> {
    const [item] = await this.#complete([request], 'completeRun');
    if (!item!.ok) throw item!.error;
    return { run: item!.run, retry: item!.retry };
  }

  async #complete(requests: CompleteRequest[], operation: string): Promise<CompleteRunsItem[]> {
    const items: CompleteRunsItem[] = new Array(requests.length);
    const byApp = new Map<
      string,
      { indexes: number[]; args: CompleteArgs[]; claimed: (HashObject | undefined)[] }
    >();
    requests.forEach((request, i) => {
      const ref = this.#ref(request.runId);
      if (!ref) {
        items[i] = { ok: false, error: new NotFoundError('run', request.runId) };
        return;
      }
      let group = byApp.get(ref.app);
      if (!group) {
        group = { indexes: [], args: [], claimed: [] };
        byApp.set(ref.app, group);
      }
      // The hash as this instance's claim returned it, when the request comes from that claim.
      let claimed: HashObject | undefined = this.#claimed.get(request.runId);
      if (claimed !== undefined) {
        this.#claimed.delete(request.runId);
        if (
          claimed.ownerNode !== request.nodeId ||
          claimed.ownerIncarnation !== String(request.incarnation)
        ) {
          claimed = undefined;
        }
      }
      group.indexes.push(i);
      group.claimed.push(claimed);
      group.args.push([
        ref.seq,
        request.nodeId,
        request.incarnation,
        request.outcome,
        JSON.stringify(request.result ?? null),
        request.error ? JSON.stringify(request.error) : '',
        Math.max(0, Math.round(request.durationMs)),
        request.retry ? JSON.stringify(encodeRunDraft(request.retry)) : '',
        claimed === undefined ? 'full' : 'changes',
      ]);
    });
    for (const [app, group] of byApp) {
      // One step per app; beyond maxBatch (only without core's guard) one step per maxBatch
      // requests, so the script's multi-member commands stay within Lua's unpack limit.
      const replies: CompleteReply[] = [];
      for (let from = 0; from < group.args.length; from += STORE_LIMITS.maxBatch) {
        const args = group.args.slice(from, from + STORE_LIMITS.maxBatch);
        replies.push(
          ...(await this.#call(operation, () => this.#lua.completeRuns(this.#keys.base(app), args))),
        );
      }
      replies.forEach((reply, j) => {
        if (reply[0] !== '1') {
          items[group.indexes[j]!] = { ok: false, error: refusalOf(reply[1]) };
          return;
        }
        const claimed = group.claimed[j];
        const hash = claimed === undefined ? reply[1] : afterCompletion(claimed, reply[1], group.args[j]!);
        items[group.indexes[j]!] = {
          ok: true,
          run: decodeRunFields(hash),
          retry: reply[2] === false ? null : decodeRunFields(reply[2]),
        };
      });
    }
    return items;
  }

  /** Cancels a pending run or asks a running one to stop (one Lua step); see `Store.cancelRun`. */
  async cancelRun(runId: string, reason: string): Promise<RunRecord> {
    const ref = this.#ref(runId);
    if (!ref) throw new NotFoundError('run', runId);
    const flat = await this.#call('cancelRun', () =>
      this.#lua.cancelRun(this.#keys.base(ref.app), ref.seq, reason),
    );
    return decodeRun(flat);
  }

  /** The run, or null. */
  async getRun(runId: string): Promise<RunRecord | null> {
    const ref = this.#ref(runId);
    if (!ref) return null;
    const h = await this.#call('getRun', () => this.#client.hgetall(this.#keys.run(ref.app, ref.seq)));
    return Object.keys(h).length === 0 ? null : decodeRun(objectToFlat(h));
  }

  /**
   * Runs newest first by id, one keyset page, through the narrowest index that fits the filter
   * (parent, job, node, states, all). A page examines a bounded number of index entries, so a
   * very sparse filter may return a short page with a cursor to go on from. The summary view
   * reads the same hashes (an HMGET of the other fields costs Redis more than HGETALL on a
   * listpack hash, and dropping fields inside the script more still) and skips parsing `params`
   * and `result`.
   */
  async listRuns(filter: RunFilter, page?: PageRequest, view?: RunView): Promise<Page<RunRecord>> {
    const f: Record<string, unknown> = {};
    for (const name of ['jobKey', 'handler', 'nodeId', 'trigger', 'parentRunId'] as const) {
      if (filter[name] !== undefined) f[name] = filter[name];
    }
    if (filter.states !== undefined) f.states = filter.states;
    if (filter.from !== undefined) f.from = String(filter.from);
    if (filter.to !== undefined) f.to = String(filter.to);
    const filterJson = JSON.stringify(f);
    return this.#pageAcross(
      filter.app,
      page,
      'listRuns',
      async (app, limit, max) => {
        if (filter.states !== undefined && filter.states.length === 0) return [[], ''] as ScanReply;
        return this.#lua.listRuns(this.#keys.base(app), limit, max, filterJson, SCAN_BUDGET);
      },
      view === 'summary' ? decodeRunSummary : decodeRun,
    );
  }

  /** Counts of the app's runs in each asked state (0 included), from the state indexes. */
  async countRuns(app: string, states: RunState[]): Promise<Partial<Record<RunState, number>>> {
    const out: Partial<Record<RunState, number>> = {};
    if (states.length === 0) return out;
    const counts = await this.#call('countRuns', () => this.#lua.countRuns(this.#keys.base(app), states));
    states.forEach((s, i) => {
      out[s] = Number(counts[i]);
    });
    return out;
  }

  // ---- nodes and leases ----------------------------------------------------------------------

  /** Joins a node with a new, higher incarnation (one Lua step). */
  async registerNode(info: NodeInfo): Promise<NodeRecord> {
    await this.#registerApp(info.app);
    const flat = await this.#call('registerNode', () =>
      this.#lua.registerNode(
        this.#keys.base(info.app),
        info.nodeId,
        JSON.stringify({
          host: info.host,
          pid: String(info.pid),
          version: info.version,
          handlers: JSON.stringify(info.handlers),
          weight: String(info.weight),
          concurrency: String(info.concurrency),
        }),
      ),
    );
    return decodeNode(flat);
  }

  /** Liveness, run leases, leader renewal and read-backs (one Lua step); see `Store.heartbeat`. */
  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
    const refs = request.runs.map((r) => {
      const ref = this.#ref(r.runId);
      return ref && ref.app === request.app ? ref.seq : '';
    });
    const [now, cancel, lost, desired, generation, lease, members] = await this.#call('heartbeat', () =>
      this.#lua.heartbeat(this.#keys.base(request.app), {
        nodeId: request.nodeId,
        incarnation: request.incarnation,
        state: request.state,
        running: request.running,
        runLeaseMs: request.runLeaseMs,
        leaderEpoch: request.leader ? request.leader.epoch : null,
        leaderTtlMs: request.leader ? request.leader.ttlMs : null,
        runs: request.runs.map((r, i) => [
          refs[i]!,
          r.progress === undefined ? '' : r.progress === null ? 'null' : String(r.progress),
        ]),
      }),
    );
    const idOf = (idx: string) => request.runs[Number(idx) - 1]!.runId;
    return {
      now: Number(now),
      cancelRunIds: cancel.map(idOf),
      lostRunIds: lost.map(idOf),
      desiredState: (desired === '' ? null : desired) as NodeRecord['desiredState'],
      partitionGeneration: Number(generation),
      membershipVersion: Number(members),
      leader: decodeLease(lease),
    };
  }

  /** A graceful leave (one Lua step); a stale incarnation changes nothing. */
  async leaveNode(app: string, nodeId: string, incarnation: number): Promise<void> {
    await this.#call('leaveNode', () => this.#lua.leaveNode(this.#keys.base(app), nodeId, incarnation));
  }

  /** Records an operator's drain, pause or resume; `NotFoundError` for an unknown node. */
  async setNodeDesiredState(
    app: string,
    nodeId: string,
    desired: 'active' | 'draining' | 'paused',
  ): Promise<NodeRecord> {
    const flat = await this.#call('setNodeDesiredState', () =>
      this.#lua.setNodeDesired(this.#keys.base(app), nodeId, desired),
    );
    return decodeNode(flat);
  }

  /** Forgets a node, fencing it, and expires its leader lease (one Lua step). */
  async removeNode(app: string, nodeId: string): Promise<boolean> {
    const removed = await this.#call('removeNode', () => this.#lua.removeNode(this.#keys.base(app), nodeId));
    return removed === '1';
  }

  /** The app's nodes by id. */
  async listNodes(app: string): Promise<NodeRecord[]> {
    const rows = await this.#call('listNodes', () => this.#lua.listNodes(this.#keys.base(app)));
    return rows.map(decodeNode).sort((a, b) => cmp(a.nodeId, b.nodeId));
  }

  /** Takes or renews the leader lease (one Lua step); see `Store.acquireLeadership`. */
  async acquireLeadership(request: {
    app: string;
    nodeId: string;
    incarnation: number;
    ttlMs: number;
  }): Promise<LeaderLease> {
    const flat = await this.#call('acquireLeadership', () =>
      this.#lua.acquireLeadership(
        this.#keys.base(request.app),
        request.nodeId,
        request.incarnation,
        request.ttlMs,
      ),
    );
    return decodeLease(flat)!;
  }

  /** The lease, expired or not, or null. */
  async getLeader(app: string): Promise<LeaderLease | null> {
    const h = await this.#call('getLeader', () => this.#client.hgetall(this.#keys.leader(app)));
    return decodeLease(objectToFlat(h));
  }

  /** Expires the lease now if this node holds this epoch (one Lua step). */
  async resignLeadership(app: string, nodeId: string, epoch: number): Promise<void> {
    await this.#call('resignLeadership', () =>
      this.#lua.resignLeadership(this.#keys.base(app), nodeId, epoch),
    );
  }

  /** Writes the partition map under the leader's epoch (one Lua step); see `Store.writePartitionMap`. */
  async writePartitionMap(request: {
    app: string;
    epoch: number;
    assignments: Record<string, number[]>;
  }): Promise<PartitionMap> {
    const [generation, epoch, assignments] = await this.#call('writePartitionMap', () =>
      this.#lua.writePartitionMap(
        this.#keys.base(request.app),
        request.epoch,
        JSON.stringify(request.assignments),
      ),
    );
    return {
      generation: Number(generation),
      epoch: Number(epoch),
      assignments: JSON.parse(assignments) as Record<string, number[]>,
    };
  }

  /** The map, or generation 0 with no assignments. */
  async getPartitionMap(app: string): Promise<PartitionMap> {
    const h = await this.#call('getPartitionMap', () => this.#client.hgetall(this.#keys.partitionMap(app)));
    if (h.generation === undefined) return { generation: 0, epoch: 0, assignments: {} };
    return {
      generation: Number(h.generation),
      epoch: Number(h.epoch ?? 0),
      assignments: h.assignments ? (JSON.parse(h.assignments) as Record<string, number[]>) : {},
    };
  }

  /** Marks silent nodes offline and their runs lost, with retries (one Lua step). */
  async reapDeadNodes(request: ReapRequest): Promise<ReapResult> {
    const [offline, lost, retries] = await this.#call('reapDeadNodes', () =>
      this.#lua.reapDeadNodes(
        this.#keys.base(request.app),
        request.epoch,
        request.nodeTtlMs,
        request.limit ?? 1000,
      ),
    );
    return {
      offlineNodes: [...offline].sort(cmp),
      lost: lost.map(decodeRun),
      retries: retries.map(decodeRun),
    };
  }

  /** Moves pending targeted runs (one Lua step); see `Store.retargetRuns`. */
  async retargetRuns(request: RetargetRequest): Promise<number> {
    const moves = request.moves.map((m): [string, string, string] => {
      const ref = this.#ref(m.runId);
      return [ref && ref.app === request.app ? ref.seq : '', m.from ?? '', m.to ?? ''];
    });
    const moved = await this.#call('retargetRuns', () =>
      this.#lua.retargetRuns(this.#keys.base(request.app), request.epoch, moves),
    );
    return Number(moved);
  }

  // ---- logs, audit, stats, retention ---------------------------------------------------------

  /** Appends log lines, capped per run (one Lua step per app); see `Store.appendLogs`. */
  async appendLogs(lines: RunLogDraft[]): Promise<void> {
    const byApp = new Map<string, Array<[string, number, string]>>();
    for (const line of lines) {
      const ref = this.#ref(line.runId);
      if (!ref) continue;
      const text = JSON.stringify({
        level: line.level,
        message: line.message,
        fields: line.fields ?? null,
        ts: line.ts,
      });
      const list = byApp.get(ref.app);
      const entry: [string, number, string] = [ref.seq, line.ts, text];
      if (list) list.push(entry);
      else byApp.set(ref.app, [entry]);
    }
    for (const [app, list] of byApp) {
      await this.#call('appendLogs', () =>
        this.#lua.appendLogs(this.#keys.base(app), this.#maxLogLines, list),
      );
    }
  }

  /** Lines after `afterSeq`, in order, at most `limit` (one LRANGE). */
  async readLogs(runId: string, afterSeq: number, limit: number): Promise<RunLogLine[]> {
    const ref = this.#ref(runId);
    if (!ref || limit <= 0) return [];
    const start = Math.max(0, afterSeq);
    const rows = await this.#call('readLogs', () =>
      this.#client.lrange(this.#keys.log(ref.app, ref.seq), start, start + limit - 1),
    );
    return rows.map((text, i) => decodeLogLine(runId, start + i + 1, text));
  }

  /** Appends an audit entry with id and store time (one Lua step). */
  async appendAudit(entry: AuditDraft): Promise<AuditRecord> {
    await this.#registerApp(entry.app);
    const flat = await this.#call('appendAudit', () =>
      this.#lua.appendAudit(
        this.#keys.base(entry.app),
        JSON.stringify({
          actor: entry.actor,
          action: entry.action,
          targetType: entry.targetType,
          targetId: entry.targetId,
          before: JSON.stringify(entry.before ?? null),
          after: JSON.stringify(entry.after ?? null),
        }),
      ),
    );
    return decodeAudit(entry.app, flat);
  }

  /** Audit entries newest first, filtered, one keyset page. */
  async listAudit(filter: AuditFilter, page?: PageRequest): Promise<Page<AuditRecord>> {
    const f: Record<string, string> = {};
    for (const name of ['actor', 'targetType', 'targetId'] as const) {
      if (filter[name] !== undefined) f[name] = filter[name];
    }
    if (filter.from !== undefined) f.from = String(filter.from);
    if (filter.to !== undefined) f.to = String(filter.to);
    const filterJson = JSON.stringify(f);
    return this.#pageAcross(
      filter.app,
      page,
      'listAudit',
      (app, limit, max) => this.#lua.listAudit(this.#keys.base(app), limit, max, filterJson, SCAN_BUDGET),
      (flat, app) => decodeAudit(app, flat),
    );
  }

  /**
   * Hourly buckets with `hour` in [from, to), hour ascending, then app and job. With `jobKey`, only
   * that job's fields of each hour are read.
   */
  async getStats(query: { app?: string; jobKey?: string; from: number; to: number }): Promise<StatsBucket[]> {
    const apps = query.app !== undefined ? [query.app] : await this.#apps();
    const mode = query.jobKey !== undefined ? `|${query.jobKey}` : '';
    const out: StatsBucket[] = [];
    for (const app of apps) {
      const hours = await this.#call('getStats', () =>
        this.#lua.getStats(this.#keys.base(app), Math.floor(query.from), Math.ceil(query.to), mode),
      );
      for (const [hour, reply] of hours) {
        const flat = mode === '' ? (JSON.parse(reply[0]!) as string[]) : reply;
        const byJob = new Map<string, StatsBucket>();
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const field = flat[i]!;
          const bar = field.indexOf('|');
          const metric = bar < 0 ? field : field.slice(0, bar);
          const jobKey = bar < 0 ? null : field.slice(bar + 1);
          if (query.jobKey !== undefined && jobKey !== query.jobKey) continue;
          const id = jobKey === null ? '' : `|${jobKey}`;
          let b = byJob.get(id);
          if (!b) {
            b = emptyStatsBucket(app, jobKey, Number(hour));
            byJob.set(id, b);
          }
          setMetric(b, metric, flat[i + 1]!);
        }
        out.push(...byJob.values());
      }
    }
    out.sort((a, b) => a.hour - b.hour || cmp(a.app, b.app) || cmp(a.jobKey ?? '', b.jobKey ?? ''));
    return out;
  }

  /**
   * The app's hourly totals (every job and one-off task together) with `hour` in [from, to), hour
   * ascending: one small hash per hour, kept by the same steps that keep the per-job stats, so a
   * dashboard reads ~24 values per metric instead of every job's bucket. Not (yet) part of the
   * `Store` contract: `getStats` without `jobKey` must return per-job buckets.
   */
  async getHourlyTotals(query: { app: string; from: number; to: number }): Promise<HourlyTotals[]> {
    const hours = await this.#call('getHourlyTotals', () =>
      this.#lua.getStats(this.#keys.base(query.app), Math.floor(query.from), Math.ceil(query.to), '*'),
    );
    return hours.map(([hour, flat]) => {
      const { jobKey: _, ...bucket } = emptyStatsBucket(query.app, null, Number(hour));
      for (let i = 0; i + 1 < flat.length; i += 2) setMetric(bucket, flat[i]!, flat[i + 1]!);
      return bucket;
    });
  }

  /** Deletes old final runs with everything they own (one Lua step per app); returns how many. */
  async prune(request: PruneRequest): Promise<number> {
    if (request.finishedBefore === undefined && request.keepLast === undefined) return 0;
    const apps = request.app !== undefined ? [request.app] : await this.#apps();
    let deleted = 0;
    for (const app of apps) {
      const left = request.limit - deleted;
      if (left <= 0) break;
      const n = await this.#call('prune', () =>
        this.#lua.prune(this.#keys.base(app), request.finishedBefore, request.keepLast, left),
      );
      deleted += Number(n);
    }
    return deleted;
  }

  /**
   * Listens for wake-ups of an app over pub/sub (a dedicated connection, created on first use,
   * that reconnects and resubscribes by itself). A throwing listener cannot break the store.
   */
  subscribe(app: string, listener: (event: StoreEvent) => void): () => void {
    if (this.#closed) return () => {};
    const entry = (event: StoreEvent) => listener(event);
    let set = this.#listeners.get(app);
    if (!set) {
      set = new Set();
      this.#listeners.set(app, set);
      this.#sub()
        .subscribe(this.#keys.events(app))
        .catch(() => {});
    }
    set.add(entry);
    return () => {
      const current = this.#listeners.get(app);
      if (!current) return;
      current.delete(entry);
      if (current.size === 0) {
        this.#listeners.delete(app);
        this.#subscriber?.unsubscribe(this.#keys.events(app)).catch(() => {});
      }
    };
  }

  // ---- internals -----------------------------------------------------------------------------

  #sub(): Redis {
    if (this.#subscriber) return this.#subscriber;
    const sub = this.#client.duplicate({
      lazyConnect: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
      commandTimeout: undefined,
    });
    sub.on('error', () => {});
    sub.on('message', (channel: string, message: string) => {
      const app = this.#appOfChannel(channel);
      if (app === null || (message !== 'runs' && message !== 'jobs')) return;
      const set = this.#listeners.get(app);
      if (!set) return;
      for (const listener of [...set]) {
        try {
          listener({ type: message, app });
        } catch {
          // a throwing listener cannot break the store
        }
      }
    });
    this.#subscriber = sub;
    return sub;
  }

  #appOfChannel(channel: string): string | null {
    const head = `{${this.#keys.prefix}:`;
    const tail = '}:events';
    if (!channel.startsWith(head) || !channel.endsWith(tail)) return null;
    return channel.slice(head.length, channel.length - tail.length);
  }

  #ref(id: string): RunRef | null {
    return parseRunId(id);
  }

  async #registerApp(app: string): Promise<void> {
    if (this.#knownApps.has(app)) return;
    await this.#call('registerApp', () => this.#client.sadd(this.#keys.apps(), app));
    this.#knownApps.add(app);
  }

  async #apps(): Promise<string[]> {
    const apps = await this.#call('listApps', () => this.#client.smembers(this.#keys.apps()));
    return apps.sort(cmp);
  }

  /**
   * One newest-first keyset page over one app or all: each app's Lua step returns its matches
   * below the cursor and where its scan stopped; items are merged by (seq, app) descending and
   * cut at the highest stop position, so no item is skipped or repeated between pages.
   */
  async #pageAcross<T>(
    app: string | undefined,
    page: PageRequest | undefined,
    operation: string,
    fetch: (app: string, limit: number, max: string) => Promise<ScanReply>,
    decode: (flat: FlatHash, app: string) => T,
  ): Promise<Page<T>> {
    const limit = page?.limit ?? DEFAULT_PAGE;
    let cursor: Pos | null = null;
    if (page?.cursor) {
      const ref = parseRunId(decodeCursor(page.cursor, 1)[0]!);
      if (!ref) decodeCursor('', 1);
      cursor = { seq: Number(ref!.seq), app: ref!.app };
    }
    const apps = app !== undefined ? [app] : await this.#apps();
    const found: Array<{ pos: Pos; item: T }> = [];
    let boundary: Pos | null = null;
    for (const a of apps) {
      let max = '+inf';
      if (cursor) max = String(a < cursor.app ? cursor.seq : cursor.seq - 1);
      const [rows, stop] = await this.#call(operation, () => fetch(a, limit, max));
      for (const flat of rows) {
        const seq = fieldOf(flat, 'seq')!;
        found.push({ pos: { seq: Number(seq), app: a }, item: decode(flat, a) });
      }
      if (stop !== '') {
        const pos = { seq: Number(stop), app: a };
        if (boundary === null || comparePos(pos, boundary) > 0) boundary = pos;
      }
    }
    found.sort((x, y) => comparePos(y.pos, x.pos));
    const safe = boundary === null ? found : found.filter((f) => comparePos(f.pos, boundary!) >= 0);
    const items = safe.slice(0, limit);
    let next: Pos | null = null;
    if (safe.length > limit) next = items[items.length - 1]!.pos;
    else if (boundary !== null) next = boundary;
    return {
      items: items.map((f) => f.item),
      nextCursor: next ? encodeCursor([formatRunId(String(next.seq), next.app)]) : null,
    };
  }

  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toOasisError(err, operation);
    }
  }
}

/** Creates a `RedisStore`; see `RedisStoreOptions`. Call `init()` before use. */
export function createRedisStore(options: RedisStoreOptions = {}): RedisStore {
  return new RedisStore(options);
}

/** The app's stats for one hour, every job and one-off task together (`getHourlyTotals`). */
export type HourlyTotals = Omit<StatsBucket, 'jobKey'>;

const STAT_METRICS = new Set([
  'succeeded',
  'failed',
  'dead',
  'timedOut',
  'cancelled',
  'lost',
  'skipped',
  'totalDurationMs',
  'maxDurationMs',
]);

/** Sets one counter of a bucket from a stats hash field; unknown names are ignored. */
function setMetric(bucket: HourlyTotals, metric: string, value: string): void {
  if (STAT_METRICS.has(metric)) (bucket as unknown as Record<string, number>)[metric] = Number(value);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function objectToFlat(h: Record<string, string>): FlatHash {
  const flat: string[] = [];
  for (const [k, v] of Object.entries(h)) flat.push(k, v);
  return flat;
}

async function quit(client: Redis): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}
