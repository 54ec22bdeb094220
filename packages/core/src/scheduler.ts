/**
 * The engine of one node: it fires due schedules, claims runs up to its concurrency, runs their
 * handlers, records their outcomes and retries, heartbeats its membership and, when it holds the
 * leader lease, reaps the runs of dead nodes. Every decision about time uses the store's clock.
 */
import { hostname } from 'node:os';
import { type Clock, type ClockTimer, SystemClock } from './clock';
import { ClusterCoordinator } from './cluster/coordinator';
import { claimsNewRuns, type DesiredNodeState, reportedNodeState } from './cluster/node-state';
import {
  type Handler,
  LogBuffer,
  type RunAbortedError,
  RunCancelledError,
  type RunContext,
  RunLostError,
  ShutdownError,
  TimeoutError,
} from './context';
import { type Duration, parseDuration } from './duration';
import {
  ConflictError,
  FencedError,
  NotFoundError,
  SchedulerStateError,
  StoreUnavailableError,
  ValidationError,
} from './errors';
import { OasisEmitter } from './events';
import { type FirePlan, planFire } from './fire-planner';
import { checkName, type JobDefinition, type JobSpec, parseJobSpec } from './job-spec';
import { JobsApi, type JobsHost } from './jobs-api';
import { Loop } from './loop';
import type {
  JobRecord,
  JsonValue,
  LeaderLease,
  LogLevel,
  NodeRecord,
  Page,
  PageRequest,
  RunDraft,
  RunError,
  RunFilter,
  RunLogLine,
  RunRecord,
  RunView,
} from './model';
import { parseRetry, type RetryInput, retryDelayMs } from './retry';
import { wrapStore } from './store/runtime-store';
import { type CompleteRequest, type CompleteRunsItem, STORE_LIMITS, type Store } from './store/store';
import { rerunDraft } from './store/store-helpers';
import {
  checkBoolean,
  checkInt,
  checkKnownKeys,
  checkNumber,
  checkString,
  checkTime,
  DEFAULT_MAX_JSON_BYTES,
  requireObject,
  toJsonValue,
} from './validation';
import { OASIS_VERSION } from './version';

/** Options of a `Scheduler`. Durations take ms or strings such as `'5s'`. */
export interface SchedulerOptions {
  /** The shared store. Wrapped in the runtime guard (`wrapStore`); not closed by `stop()`. */
  store: Store;
  /** The application (group) this node belongs to: 1..64 of `[A-Za-z0-9_.:-]`. */
  app: string;
  /** This node's id, unique in the app; set it to keep it across restarts (default host:pid:random). */
  nodeId?: string;
  /** Paces this node's timers (default `SystemClock`); store time still comes from the store. */
  clock?: Clock;
  /** Runs at once on this node (default 10, at most 1000). */
  concurrency?: number;
  /** Heartbeat period (default `'1s'`). */
  heartbeatInterval?: Duration;
  /** A node silent this long is offline and its runs are reaped (default `'5s'`). */
  nodeTtl?: Duration;
  /** The leader lease length (default `'5s'`). */
  leaderTtl?: Duration;
  /** A run whose lease is not renewed this long counts as lost (default `'15s'`). */
  runLease?: Duration;
  /** The leader reaps dead nodes this often (default `'3s'`; with the defaults a crashed node's runs restart within ~8 s). */
  reapInterval?: Duration;
  /** The safety-net poll when no wake-up comes (default `'5s'`). */
  pollInterval?: Duration;
  /**
   * Run history retention, applied by the leader about once a minute in batches of 1,000: final
   * runs (with their logs) that finished more than `maxAge` ago are deleted, and with `keepLast`
   * only those beyond the app's newest `keepLast` final runs. `keepLast` alone deletes every final
   * run beyond the newest N. Pending and running runs are never deleted. Default `{ maxAge: '30d' }`;
   * `false` keeps everything.
   */
  retention?: { maxAge?: Duration; keepLast?: number } | false;
  /** A fire time later than this is a misfire and the job's misfire policy applies (default `'5s'`). */
  misfireThreshold?: Duration;
  /** `fire-all` catch-up bound per misfire (default 100). */
  maxCatchUp?: number;
  /**
   * How far ahead of its time a fire is materialized (default `'500ms'`, at most `'60s'`; 0
   * materializes each fire at its time). The fire loop wakes when the next fire is half this
   * window away, reads the jobs due within the whole window and inserts their runs early, with
   * `dueAt` = the fire time, so that at the instant only claiming and starting remain and fires
   * close together share one store step. No run starts before its scheduled time (claims use the
   * store's clock).
   * Jobs with the `skip` or `replace` block strategy are still fired at their time (the strategy
   * looks at the job's runs when the run is inserted). A fire already materialized within the
   * window runs unless cancelled: deleting the job cancels it, disabling the job or changing its
   * schedule does not (cancel the pending run if it must not run).
   */
  fireAhead?: Duration;
  /** Max params size, JSON bytes (default 64 KiB, at most `STORE_LIMITS.maxJsonBytes`). */
  maxParamsBytes?: number;
  /**
   * Handlers that other nodes of the app run: jobs, triggers and enqueues naming them are
   * accepted though this node has no code for them. `'*'` accepts any name (no typo check).
   * Default none: an unknown handler is refused with a `ValidationError` naming `handler`.
   */
  remoteHandlers?: string[] | '*';
  /** How long `stop()` waits for running handlers by default (default `'30s'`). */
  shutdownTimeout?: Duration;
  /** Due jobs read per store step (default 100). */
  fireBatchSize?: number;
  /** Relative capacity for weighted routing (default 1). */
  weight?: number;
  /** Reported host name (default `os.hostname()`). */
  host?: string;
  /** Random numbers in [0, 1) for retry jitter (default `Math.random`). */
  random?: () => number;
  /**
   * Keep the Node process alive while the scheduler runs, as a server would (default true with
   * the default clock, false with an injected one). The clock's timers are unref'd, so without
   * this a process whose only work is its schedule would exit at once.
   */
  keepAlive?: boolean;
}

/** How often the leader prunes history, and how much at most per round. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1_000;
const PRUNE_MAX_BATCHES = 20;

/** The `retention` option, checked: null when history is kept forever. */
function resolveRetention(
  value: SchedulerOptions['retention'],
): { maxAgeMs: number | null; keepLast: number | null } | null {
  if (value === false) return null;
  if (value === undefined) return { maxAgeMs: 30 * 24 * 3_600_000, keepLast: null };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('options.retention', 'type', 'must be { maxAge?, keepLast? } or false');
  }
  for (const key of Object.keys(value)) {
    if (key !== 'maxAge' && key !== 'keepLast') {
      throw new ValidationError(
        `options.retention.${key}`,
        'unknown-key',
        'is not an option: use maxAge or keepLast',
      );
    }
  }
  const maxAgeMs =
    value.maxAge === undefined ? null : parseDuration(value.maxAge, 'options.retention.maxAge');
  if (maxAgeMs !== null && maxAgeMs < 1_000) {
    throw new ValidationError('options.retention.maxAge', 'min', 'must be at least 1 s');
  }
  const keepLast =
    value.keepLast === undefined ? null : checkInt(value.keepLast, 'options.retention.keepLast', 0, 2 ** 31);
  if (maxAgeMs === null && keepLast === null) {
    throw new ValidationError(
      'options.retention',
      'required',
      'give maxAge, keepLast or both (or false to keep all)',
    );
  }
  return { maxAgeMs, keepLast };
}

const OPTION_KEYS: readonly (keyof SchedulerOptions)[] = [
  'store',
  'app',
  'nodeId',
  'clock',
  'concurrency',
  'heartbeatInterval',
  'nodeTtl',
  'leaderTtl',
  'runLease',
  'reapInterval',
  'pollInterval',
  'retention',
  'misfireThreshold',
  'maxCatchUp',
  'fireAhead',
  'maxParamsBytes',
  'remoteHandlers',
  'shutdownTimeout',
  'fireBatchSize',
  'weight',
  'host',
  'random',
  'keepAlive',
];

/** Options of `scheduler.enqueue`. */
export interface EnqueueOptions {
  /** Due this long after the store's now (default at once). Not with `runAt`. */
  delay?: Duration;
  /** Due at this time (Date, ms or ISO string). Not with `delay`. */
  runAt?: Date | number | string;
  /** Higher is claimed first (integer, default 0). */
  priority?: number;
  /** Unique per app: enqueueing the same key again returns the existing run and inserts nothing. */
  idempotencyKey?: string;
  /** Retries of failed attempts (default none). */
  retry?: RetryInput;
  /** Per-attempt timeout (default none). */
  timeout?: Duration | null;
  /** Which node runs it (default: the first node with a free slot). See `EnqueueRouting`. */
  routing?: EnqueueRouting;
}

/**
 * Where an enqueued task runs:
 * - `{ key }`: consistent hash on the key: tasks with the same key go to the same node while the
 *   members stay the same (a join or a leave moves few keys), e.g. `{ key: 'tenant:42' }`.
 * - `{ node }`: that node. A node that is gone, not active, lacks the handler or does not claim
 *   the task within the dispatch timeout loses it to another node (as every targeted run does):
 *   placement is a preference, execution stays at-least-once.
 */
export type EnqueueRouting = { key: string; node?: never } | { node: string; key?: never };

const ENQUEUE_KEYS: readonly (keyof EnqueueOptions)[] = [
  'delay',
  'runAt',
  'priority',
  'idempotencyKey',
  'retry',
  'timeout',
  'routing',
];

/** Options of `stop()`. */
export interface StopOptions {
  /** How long to wait for running handlers before aborting them (default the `shutdownTimeout` option). */
  timeoutMs?: number;
}

/** The life of a scheduler: `idle` → `starting` → `running` → `stopping` → `stopped`. */
export type SchedulerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Resolved {
  concurrency: number;
  heartbeatMs: number;
  nodeTtlMs: number;
  leaderTtlMs: number;
  runLeaseMs: number;
  reapMs: number;
  pollMs: number;
  retention: { maxAgeMs: number | null; keepLast: number | null } | null;
  misfireThresholdMs: number;
  maxCatchUp: number;
  fireAheadMs: number;
  maxParamsBytes: number;
  remoteHandlers: Set<string> | '*';
  shutdownMs: number;
  fireBatch: number;
  weight: number;
  host: string;
  random: () => number;
  keepAlive: boolean;
}

interface ActiveRun {
  run: RunRecord;
  /**
   * Made when the handler first reads `ctx.signal` (most handlers never do): an abort before that
   * only records `abortReason`, and the signal is then born aborted.
   */
  controller: AbortController | null;
  /** Why the run was aborted (timeout, cancel, shutdown, loss), once it was. */
  abortReason: Error | null;
  /** Clock time the handler started. */
  startedAt: number;
  timer: ClockTimer | null;
  /** The outcome was decided (result, error, timeout, cancel, shutdown or loss): later ones are ignored. */
  ended: boolean;
  progress: number | null;
  /** The ended run once recorded (null when dropped); undefined until then. */
  settled: RunRecord | null | undefined;
  /** Made on demand by `#doneOf` (only `cancel` waits for a local run). */
  done: Promise<RunRecord | null> | null;
  resolveDone: ((run: RunRecord | null) => void) | null;
}

/** An outcome on its way to the store. */
interface PendingCompletion {
  a: ActiveRun;
  request: CompleteRequest;
  /** The retry's delay, for `run:retried`. */
  delayMs: number;
  /** The ended run once the store recorded it. */
  recorded: RunRecord | null;
}

/** Caps on recorded error text. */
const ERROR_MESSAGE_MAX = STORE_LIMITS.textMaxLength;
const ERROR_STACK_MAX = 4_000;
/** How long `stop()` waits for outcomes to be written after aborting handlers. */
const COMPLETE_GRACE_MS = 5_000;

/**
 * One node of an Oasis app.
 *
 * @example
 * const scheduler = new Scheduler({ store: new MemoryStore(), app: 'billing' });
 * scheduler.handle('send-report', async (ctx) => ({ sent: ctx.params }));
 * scheduler.job({ key: 'nightly-report', handler: 'send-report', schedule: { cron: '0 2 * * *', tz: 'Europe/Paris' } });
 * scheduler.on('run:failed', ({ run, error }) => console.error(run.id, error.message));
 * await scheduler.start();
 * await scheduler.enqueue('send-report', { to: 'ops' }, { delay: '30m', idempotencyKey: 'report:ops' });
 * await scheduler.stop();
 */
export class Scheduler extends OasisEmitter {
  /** Job definitions of this app: create, update, enable, trigger… */
  readonly jobs: JobsApi;

  readonly #store: Store;
  readonly #app: string;
  readonly #nodeId: string;
  readonly #clock: Clock;
  readonly #o: Resolved;
  readonly #handlers = new Map<string, Handler<never>>();
  readonly #declared = new Map<string, JobDefinition>();
  #state: SchedulerState = 'idle';
  #node: NodeRecord | null = null;
  /** Store time minus clock time, from the last store round trip. */
  #offset = 0;
  readonly #active = new Map<string, ActiveRun>();
  readonly #completing = new Map<string, ActiveRun>();
  /** Outcomes waiting for the next `completeRuns` batch. */
  readonly #completionQueue: PendingCompletion[] = [];
  /** A drain of `#completionQueue` is scheduled or running. */
  #completionsScheduled = false;
  /** A `completeRuns` call is in flight: `runs` events wait for its end (one claim wake for all). */
  #completionInFlight = false;
  /** A `runs` event came while a completion was in flight. */
  #runsEventDeferred = false;
  readonly #logs = new LogBuffer();
  /** Fires the due schedules of this node's partitions; sleeps until the next fire time. */
  readonly #fireLoop: Loop;
  /** Claims runs into free slots; one claim in flight, slots freed meanwhile go in the next. */
  readonly #claimLoop: Loop;
  /** The fire step must read due jobs at once (more than one batch, or a job catching up). */
  #fireNow = false;
  /** The store time the fire loop sleeps until (a known next fire time), or null. */
  #fireAt: number | null = null;
  /** Something may be claimable (a slot freed, runs were inserted): the claim step claims at once. */
  #claimNow = true;
  /** The store time the claim loop sleeps until (a known due time of a pending run), or null. */
  #claimAt: number | null = null;
  /** A claim wake is queued in a microtask (coalesces the slots freed in one tick). */
  #claimWakeQueued = false;
  readonly #heartbeatLoop: Loop;
  #leader: LeaderLease | null = null;
  #isLeader = false;
  #lastReapAt = Number.NEGATIVE_INFINITY;
  /** When the leader last started pruning history (store time). */
  #lastPruneAt = Number.NEGATIVE_INFINITY;
  /** The prune in progress, if any: one at a time, awaited by `stop()`. */
  #pruning: Promise<void> | null = null;
  #unsubscribe: (() => void) | null = null;
  /** The schedule partitions this node fires; null for all (before the leader's first map). */
  #partitions: number[] | null = null;
  /** Partition map, leader duties and routing. */
  readonly #cluster: ClusterCoordinator;
  /** What an operator asked this node to be (drain, pause, resume), as the last heartbeat said. */
  #desired: DesiredNodeState | null = null;
  #accepting = false;
  #abandonCompletions = false;
  #rejoining: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  readonly #idleWaiters = new Set<() => void>();
  #keepAlive: ReturnType<typeof setInterval> | null = null;

  /**
   * Creates a stopped scheduler. Throws `ValidationError` naming `options.<key>` for a bad or
   * unknown option.
   */
  constructor(options: SchedulerOptions) {
    super();
    const o = requireObject(options, 'options');
    checkKnownKeys(o, OPTION_KEYS as readonly string[], 'options');
    if (o.store === undefined || o.store === null) {
      throw new ValidationError(
        'options.store',
        'required',
        'is required: pass a Store (e.g. new MemoryStore())',
      );
    }
    this.#app = checkString(o.app, 'options.app', {
      max: STORE_LIMITS.appMaxLength,
      pattern: /^[A-Za-z0-9_.:-]+$/,
      patternHint: 'must be 1..64 of A-Z a-z 0-9 _ . : -',
    });
    this.#clock = options.clock ?? new SystemClock();
    const host =
      options.host === undefined ? hostname() : checkString(options.host, 'options.host', { max: 200 });
    this.#nodeId =
      options.nodeId === undefined
        ? `${host}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`.slice(
            0,
            STORE_LIMITS.keyMaxLength,
          )
        : checkName(options.nodeId, 'options.nodeId');
    const dur = (v: Duration | undefined, field: string, def: number, min = 1) => {
      if (v === undefined) return def;
      const ms = parseDuration(v, `options.${field}`);
      if (ms < min) throw new ValidationError(`options.${field}`, 'min', `must be at least ${min} ms`);
      return ms;
    };
    let remote: Set<string> | '*' = new Set();
    if (options.remoteHandlers === '*') remote = '*';
    else if (options.remoteHandlers !== undefined) {
      if (!Array.isArray(options.remoteHandlers)) {
        throw new ValidationError(
          'options.remoteHandlers',
          'type',
          "must be an array of handler names or '*'",
        );
      }
      remote = new Set(options.remoteHandlers.map((h, i) => checkName(h, `options.remoteHandlers[${i}]`)));
    }
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw new ValidationError('options.random', 'type', 'must be a function returning [0, 1)');
    }
    if (options.clock !== undefined && typeof options.clock?.setTimer !== 'function') {
      throw new ValidationError('options.clock', 'type', 'must be a Clock (now, setTimer, clearTimer)');
    }
    this.#o = {
      concurrency:
        options.concurrency === undefined
          ? 10
          : checkInt(options.concurrency, 'options.concurrency', 1, STORE_LIMITS.maxBatch),
      heartbeatMs: dur(options.heartbeatInterval, 'heartbeatInterval', 1_000, 10),
      nodeTtlMs: dur(options.nodeTtl, 'nodeTtl', 5_000, 10),
      leaderTtlMs: dur(options.leaderTtl, 'leaderTtl', 5_000, 10),
      runLeaseMs: dur(options.runLease, 'runLease', 15_000, 10),
      reapMs: dur(options.reapInterval, 'reapInterval', 3_000, 10),
      pollMs: dur(options.pollInterval, 'pollInterval', 5_000, 10),
      retention: resolveRetention(options.retention),
      misfireThresholdMs: dur(options.misfireThreshold, 'misfireThreshold', 5_000, 0),
      maxCatchUp:
        options.maxCatchUp === undefined ? 100 : checkInt(options.maxCatchUp, 'options.maxCatchUp', 1, 1_000),
      fireAheadMs: dur(options.fireAhead, 'fireAhead', 500, 0),
      maxParamsBytes:
        options.maxParamsBytes === undefined
          ? DEFAULT_MAX_JSON_BYTES
          : checkInt(options.maxParamsBytes, 'options.maxParamsBytes', 2, STORE_LIMITS.maxJsonBytes),
      remoteHandlers: remote,
      shutdownMs: dur(options.shutdownTimeout, 'shutdownTimeout', 30_000, 0),
      fireBatch:
        options.fireBatchSize === undefined
          ? 100
          : checkInt(options.fireBatchSize, 'options.fireBatchSize', 1, 1_000),
      weight: options.weight === undefined ? 1 : checkNumber(options.weight, 'options.weight', 0, 1_000),
      host,
      random: options.random ?? Math.random,
      keepAlive:
        options.keepAlive === undefined
          ? options.clock === undefined
          : checkBoolean(options.keepAlive, 'options.keepAlive'),
    };
    if (this.#o.fireAheadMs > STORE_LIMITS.maxFireHorizonMs) {
      throw new ValidationError(
        'options.fireAhead',
        'max',
        `must be at most ${STORE_LIMITS.maxFireHorizonMs} ms`,
      );
    }
    if (this.#o.runLeaseMs <= this.#o.heartbeatMs) {
      throw new ValidationError('options.runLease', 'range', 'must be longer than the heartbeat interval');
    }
    this.#store = wrapStore(options.store);
    this.#cluster = new ClusterCoordinator({
      store: this.#store,
      app: this.#app,
      nodeId: this.#nodeId,
      random: this.#o.random,
      localNow: () => this.#clock.now(),
      checkIntervalMs: this.#o.reapMs * 10,
    });
    this.#fireLoop = new Loop(this.#clock, () => this.#fireStep(), {
      backoffBaseMs: 100,
      backoffMaxMs: Math.max(this.#o.pollMs, 1_000) * 6,
      onError: (error) => this.#reportError(error, 'fire'),
    });
    this.#claimLoop = new Loop(this.#clock, () => this.#claimStep(), {
      backoffBaseMs: 100,
      backoffMaxMs: Math.max(this.#o.pollMs, 1_000) * 6,
      onError: (error) => this.#reportError(error, 'claim'),
    });
    this.#heartbeatLoop = new Loop(this.#clock, () => this.#heartbeatStep(), {
      backoffBaseMs: Math.min(100, this.#o.heartbeatMs),
      backoffMaxMs: this.#o.heartbeatMs,
      onError: (error) => this.#reportError(error, 'heartbeat'),
    });
    this.jobs = new JobsApi(this.#jobsHost());
  }

  // ---- identity and state --------------------------------------------------------------------

  /** The app this node belongs to. */
  get app(): string {
    return this.#app;
  }

  /** This node's id. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** This node's current incarnation, or null before `start()`. */
  get incarnation(): number | null {
    return this.#node?.incarnation ?? null;
  }

  /** Where the scheduler is in its life. */
  get state(): SchedulerState {
    return this.#state;
  }

  /** True while this node holds the leader lease. */
  get isLeader(): boolean {
    return this.#isLeader;
  }

  /** How many handlers run on this node now. */
  get running(): number {
    return this.#active.size;
  }

  /** The guarded store this scheduler uses. */
  get store(): Store {
    return this.#store;
  }

  /** The names of the handlers registered on this node. */
  get handlers(): string[] {
    return [...this.#handlers.keys()];
  }

  // ---- definitions ---------------------------------------------------------------------------

  /**
   * Registers the code of a handler. Throws `ValidationError` (field `handler`) for a bad or
   * already registered name. Handlers registered after `start()` are claimed too.
   */
  handle<P = JsonValue>(name: string, fn: Handler<P>): this {
    checkName(name, 'handler');
    if (typeof fn !== 'function')
      throw new ValidationError('handler', 'type', `'${name}': the handler must be a function`);
    if (this.#handlers.has(name)) {
      throw new ValidationError('handler', 'duplicate', `'${name}' is already registered on this node`);
    }
    this.#handlers.set(name, fn as Handler<never>);
    this.#wakeClaim();
    return this;
  }

  /**
   * Declares a job in code; it is upserted on `start()` (source `code`): created when new,
   * replaced when its definition changed (keeping its next fire time unless the schedule
   * changed, and keeping an operator's disable), left alone when unchanged. The spec is checked
   * now (`ValidationError`); its handler is checked at `start()`. Before `start()` only.
   */
  job(spec: JobSpec): this {
    if (this.#state !== 'idle') {
      throw new SchedulerStateError(
        'scheduler.job() declares jobs before start(): use scheduler.jobs.upsert() now',
      );
    }
    const def = parseJobSpec(spec, { maxParamsBytes: this.#o.maxParamsBytes });
    if (this.#declared.has(def.key)) {
      throw new ValidationError('key', 'duplicate', `job '${def.key}' is declared twice`);
    }
    this.#declared.set(def.key, def);
    return this;
  }

  // ---- life ----------------------------------------------------------------------------------

  /**
   * Joins the app: connects the store, registers this node, upserts the jobs declared with
   * `job()`, then starts firing, claiming and heartbeating. Throws `ValidationError` when a
   * declared job names a handler no node runs (nothing is stored), `SchedulerStateError` when
   * called twice, and the store's error when it cannot be reached (the scheduler stays idle and
   * `start()` may be called again).
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new SchedulerStateError(
        `start() was called on a ${this.#state} scheduler: create a new Scheduler`,
      );
    }
    for (const def of this.#declared.values()) this.#checkHandler(def.handler, `jobs.${def.key}.handler`);
    this.#state = 'starting';
    try {
      await this.#store.init();
      await this.#storeNow();
      this.#node = await this.#store.registerNode(this.#nodeInfo());
      for (const def of this.#declared.values()) await this.jobs.upsertDefinition(def, { actor: 'code' });
    } catch (err) {
      const node = this.#node;
      this.#node = null;
      this.#state = 'idle';
      if (node !== null)
        await this.#store.leaveNode(this.#app, this.#nodeId, node.incarnation).catch(() => {});
      throw err;
    }
    this.#unsubscribe = this.#store.subscribe(this.#app, (event) => {
      if (event.type !== 'jobs') {
        // Our own completions announce themselves run by run on some stores: one claim after the
        // batch covers them (and anything else announced meanwhile).
        if (this.#completionInFlight) this.#runsEventDeferred = true;
        else this.#wakeClaim();
      }
      if (event.type !== 'runs') this.#fireLoop.wake();
    });
    this.#state = 'running';
    this.#accepting = true;
    // A real (not clock) handle, only to hold the process open; it does nothing.
    if (this.#o.keepAlive) this.#keepAlive = setInterval(() => {}, 2 ** 30);
    this.safeEmit('node:joined', { node: this.#node });
    this.safeEmit('partitions:assigned', { partitions: this.#partitions, generation: 0 });
    this.#heartbeatLoop.start();
    this.#fireLoop.start();
    this.#claimLoop.start();
  }

  /**
   * Leaves gracefully: stops firing and claiming, waits for running handlers up to `timeoutMs`
   * (default the `shutdownTimeout` option, 30 s) while still heartbeating their leases, then
   * aborts the rest (`ctx.signal`, reason `ShutdownError`) and records each as `failed` with
   * that error; its retry follows at once when attempts are left (at-least-once), else it is
   * `dead` and can be re-triggered. Then it flushes logs, gives up the leader lease and leaves.
   * The store is not closed. Calling it again returns the same promise.
   */
  stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    if (this.#state === 'idle' || this.#state === 'stopped') {
      this.#state = 'stopped';
      this.#stopping = Promise.resolve();
      return this.#stopping;
    }
    if (this.#state === 'starting') {
      return Promise.reject(
        new SchedulerStateError('stop() was called while start() runs: await start() first'),
      );
    }
    const timeoutMs =
      options.timeoutMs === undefined
        ? this.#o.shutdownMs
        : checkInt(options.timeoutMs, 'options.timeoutMs', 0, 2 ** 31);
    this.#stopping = this.#stop(timeoutMs);
    return this.#stopping;
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#state = 'stopping';
    this.#accepting = false;
    await Promise.all([this.#fireLoop.stop(), this.#claimLoop.stop()]);
    await this.#waitIdle(timeoutMs, () => this.#active.size === 0);
    for (const id of [...this.#active.keys()]) this.#abortRun(id, 'shutdown', timeoutMs);
    await this.#waitIdle(COMPLETE_GRACE_MS, () => this.#active.size === 0 && this.#completing.size === 0);
    this.#abandonCompletions = true;
    await this.#heartbeatLoop.stop();
    await this.#pruning;
    await this.#flushLogs();
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    const node = this.#node;
    if (node !== null) {
      try {
        await this.#store.leaveNode(this.#app, this.#nodeId, node.incarnation);
      } catch (err) {
        this.#reportError(err, 'leave');
      }
    }
    if (this.#isLeader) {
      this.#isLeader = false;
      this.safeEmit('leader:changed', { leader: null, isLeader: false });
    }
    this.#state = 'stopped';
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
    if (node !== null) this.safeEmit('node:left', { nodeId: this.#nodeId, incarnation: node.incarnation });
  }

  // ---- one-off tasks and runs ----------------------------------------------------------------

  /**
   * Enqueues a one-off task (trigger `api`): due now, after `delay`, or at `runAt` (store time).
   * With an `idempotencyKey` already used in the app, returns the existing run and inserts
   * nothing. Throws `ValidationError` naming `handler`, `params` or `options.<key>` for bad input
   * (nothing stored).
   *
   * @example await scheduler.enqueue('close-order', { orderId }, { delay: '30m', idempotencyKey: `close:${orderId}` })
   */
  async enqueue<P = unknown>(handler: string, params: P, options: EnqueueOptions = {}): Promise<RunRecord> {
    checkName(handler, 'handler');
    this.#checkHandler(handler, 'handler');
    const value = toJsonValue(params, 'params', this.#o.maxParamsBytes);
    const o = requireObject(options, 'options');
    checkKnownKeys(o, ENQUEUE_KEYS as readonly string[], 'options');
    if (o.delay !== undefined && o.runAt !== undefined) {
      throw new ValidationError('options.runAt', 'exclusive', 'give delay or runAt, not both');
    }
    const delayMs = o.delay === undefined ? undefined : parseDuration(o.delay, 'options.delay');
    const runAt = o.runAt === undefined ? undefined : checkTime(o.runAt, 'options.runAt');
    const priority =
      o.priority === undefined ? 0 : checkInt(o.priority, 'options.priority', -1_000_000, 1_000_000);
    const idempotencyKey =
      o.idempotencyKey === undefined
        ? null
        : checkString(o.idempotencyKey, 'options.idempotencyKey', {
            max: STORE_LIMITS.idempotencyKeyMaxLength,
          });
    const retry = parseRetry(o.retry, 'options.retry');
    let timeoutMs: number | null = null;
    if (o.timeout !== undefined && o.timeout !== null) {
      timeoutMs = parseDuration(o.timeout, 'options.timeout');
      if (timeoutMs === 0)
        throw new ValidationError('options.timeout', 'min', 'must be more than 0 (null for none)');
    }
    const routing = parseEnqueueRouting(o.routing);
    const now = this.#estimateNow();
    const draft: RunDraft = {
      app: this.#app,
      jobKey: null,
      handler,
      params: value,
      trigger: 'api',
      scheduledFor: runAt ?? now + (delayMs ?? 0),
      ...(runAt !== undefined ? { dueAt: runAt } : {}),
      ...(delayMs !== undefined ? { delayMs } : {}),
      attempt: 1,
      retry,
      timeoutMs,
      shardIndex: 0,
      shardTotal: 1,
      priority,
      block: 'parallel',
      routing: routing?.key !== undefined ? 'consistent-hash' : 'any',
      targetNode: routing?.node ?? null,
      idempotencyKey,
      parentRunId: null,
    };
    const key = routing?.key;
    const [run] = await this.#insertRuns([draft], key === undefined ? undefined : () => key);
    return run!;
  }

  /**
   * Cancels a run. A pending run is cancelled at once; a running one has its handler aborted
   * (`ctx.signal`, reason `RunCancelledError`) and ends `cancelled` (on this node at once, on
   * another node at its next heartbeat); a final run is returned unchanged. Returns the run as it
   * stands after the call. `NotFoundError` when it does not exist.
   */
  async cancel(runId: string, reason = 'cancelled by request'): Promise<RunRecord> {
    checkString(reason, 'reason', { max: STORE_LIMITS.textMaxLength, multiline: true });
    const prior = await this.#store.getRun(runId);
    if (prior === null || prior.app !== this.#app) throw new NotFoundError('run', runId);
    const run = await this.#store.cancelRun(runId, reason);
    if (prior.state === 'pending' && run.state === 'cancelled') {
      this.safeEmit('run:cancelled', { run });
      return run;
    }
    const local = this.#active.get(runId);
    if (run.state === 'running' && local !== undefined) {
      this.#abortRun(runId, 'cancel', 0, reason);
      return (await doneOf(local)) ?? ((await this.#store.getRun(runId)) as RunRecord);
    }
    return run;
  }

  /**
   * Runs a final run again (a dead one, typically) as a new run: same handler, params, job and
   * policies (routed as its job's fires are), attempt 1, trigger `manual`, parent the given run.
   * `NotFoundError` when it does not exist; `ConflictError` while it is still pending or running;
   * `ValidationError` when no node runs its handler.
   */
  async retrigger(runId: string): Promise<RunRecord> {
    const run = await this.#store.getRun(runId);
    if (run === null || run.app !== this.#app) throw new NotFoundError('run', runId);
    if (run.state === 'pending' || run.state === 'running') {
      throw new ConflictError(`run '${runId}' is still ${run.state}: cancel it first or wait for its end`);
    }
    this.#checkHandler(run.handler, 'handler');
    // A consistent-hash job's run goes where its job's routing key says, as its fires do.
    const routingKey =
      run.routing === 'consistent-hash' && run.jobKey !== null
        ? (await this.#store.getJob(this.#app, run.jobKey))?.routing.key
        : undefined;
    const [created] = await this.#insertRuns(
      [
        rerunDraft(run, {
          trigger: 'manual',
          scheduledFor: this.#estimateNow(),
          attempt: 1,
          idempotencyKey: null,
        }),
      ],
      routingKey === undefined ? undefined : () => routingKey,
    );
    return created!;
  }

  /** The run, or null (only runs of this app). */
  async getRun(runId: string): Promise<RunRecord | null> {
    const run = await this.#store.getRun(runId);
    return run !== null && run.app === this.#app ? run : null;
  }

  /** Runs of this app, newest first, filtered, one page; `view: 'summary'` as in `Store.listRuns`. */
  async listRuns(
    filter: Omit<RunFilter, 'app'> = {},
    page?: PageRequest,
    view?: RunView,
  ): Promise<Page<RunRecord>> {
    return this.#store.listRuns({ ...filter, app: this.#app }, page, view);
  }

  /** Log lines of a run after `afterSeq`, at most `limit` (default 500). */
  async readLogs(runId: string, afterSeq = 0, limit = 500): Promise<RunLogLine[]> {
    return this.#store.readLogs(runId, afterSeq, limit);
  }

  /** The nodes of this app. */
  async listNodes(): Promise<NodeRecord[]> {
    return this.#store.listNodes(this.#app);
  }

  /**
   * Drains a node of this app (this one by default): it finishes what it runs and claims nothing
   * new; the leader moves its partitions to active nodes. Applied by the node at its next
   * heartbeat (at once on this node). Returns the node; `NotFoundError` when unknown.
   */
  drain(nodeId: string = this.#nodeId): Promise<NodeRecord> {
    return this.#setDesired(nodeId, 'draining');
  }

  /** Pauses a node (this one by default): it claims nothing new and keeps running what it runs. */
  pause(nodeId: string = this.#nodeId): Promise<NodeRecord> {
    return this.#setDesired(nodeId, 'paused');
  }

  /** Makes a drained or paused node (this one by default) active again. */
  resume(nodeId: string = this.#nodeId): Promise<NodeRecord> {
    return this.#setDesired(nodeId, 'active');
  }

  async #setDesired(nodeId: string, desired: DesiredNodeState): Promise<NodeRecord> {
    const node = await this.#store.setNodeDesiredState(this.#app, checkName(nodeId, 'nodeId'), desired);
    if (nodeId === this.#nodeId) this.#applyDesired(desired);
    return node;
  }

  /** Fires these partitions from now on (null: all). */
  #setPartitions(partitions: number[] | null, generation: number): void {
    this.#partitions = partitions;
    this.safeEmit('partitions:assigned', { partitions, generation });
    this.#fireAt = null;
    this.#fireLoop.wake();
  }

  /** Takes an operator's desired state; a node made active again looks for work at once. */
  #applyDesired(desired: DesiredNodeState | null): void {
    if (desired === this.#desired) return;
    this.#desired = desired;
    this.#wakeClaim();
  }

  // ---- firing and claiming ------------------------------------------------------------------
  //
  // Two loops, so that a freed slot costs one claim and nothing else, and an idle node costs a
  // store call per poll and loop. The fire loop sleeps until the next fire time of its
  // partitions (or a `jobs` event, a partition change, the safety poll); the claim loop claims
  // when a slot frees or runs arrive, and otherwise sleeps until the next due run it could take.
  // A wake-up with no known reason (the safety poll, a `jobs` event) asks `nextWakeAt` first and
  // reads due jobs or claims only when something is due.

  /**
   * One fire step; returns how long to sleep, ms. Fires are materialized up to `fireAhead`
   * before their time: the step reads the jobs due within that window and sleeps until the next
   * fire time is half the window away.
   */
  async #fireStep(): Promise<number> {
    if (this.#state !== 'running' || this.#node === null) return this.#o.pollMs;
    const ahead = this.#o.fireAheadMs;
    const planned = this.#fireAt !== null && this.#estimateNow() >= this.#fireAt;
    const now = this.#fireNow || planned;
    this.#fireNow = false;
    this.#fireAt = null;
    if (!now) {
      const wake = await this.#nextFireAt();
      if (wake === null || wake - ahead > this.#estimateNow()) return this.#sleepUntilFire(wake);
    }
    const due = await this.#store.dueJobs({
      app: this.#app,
      partitions: this.#partitions,
      limit: this.#o.fireBatch,
      horizonMs: ahead,
    });
    if (due.length > 0) {
      const storeNow = await this.#storeNow();
      const fired = await this.#fire(due, storeNow);
      // More jobs in the window than one batch (and this one made progress), or a job still
      // behind or with its next fire inside the window (fire by fire): again now.
      if ((due.length >= this.#o.fireBatch && fired.planned > 0) || fired.again) {
        this.#fireNow = true;
        return 0;
      }
      // A `skip`/`replace` job waits for its own time; every job not read is due no earlier.
      if (fired.deferredUntil !== null) return this.#sleepUntil(fired.deferredUntil);
    }
    const wake = await this.#nextFireAt();
    if (due.length === 0 && ahead > 0 && wake !== null && wake - ahead <= this.#estimateNow()) {
      // Inside the window, yet not read (our clock estimate ran ahead of the store's, a job
      // changed meanwhile, or a store that ignores the horizon): look again shortly, not in a spin.
      return this.#sleepUntil(Math.min(wake, this.#estimateNow() + Math.ceil(ahead / 10)));
    }
    return this.#sleepUntilFire(wake);
  }

  /** The earliest next fire time of the enabled jobs of this node's partitions, or null. */
  #nextFireAt(): Promise<number | null> {
    return this.#store.nextWakeAt({
      app: this.#app,
      partitions: this.#partitions,
      handlers: [],
      nodeId: this.#nodeId,
    });
  }

  /**
   * Sleeps the fire loop until the next fire time `wake` (store time) is half the fire-ahead
   * window away, at most the poll interval. The step then reads every job due within the whole
   * window, so that fires close together share one step: each fire is materialized between half
   * the window and the whole window before its time.
   */
  #sleepUntilFire(wake: number | null): number {
    if (wake === null) return this.#o.pollMs;
    return this.#sleepUntil(wake - Math.ceil(this.#o.fireAheadMs / 2));
  }

  /** Sleeps the fire loop until store time `at`, at most the poll interval. */
  #sleepUntil(at: number): number {
    this.#fireAt = at;
    // At least 1 ms: a wake time that is already past but yielded nothing must not spin.
    return Math.min(this.#o.pollMs, Math.max(1, at - this.#estimateNow()));
  }

  /** Wakes the claim loop to claim at once. */
  #wakeClaim(): void {
    this.#claimNow = true;
    this.#claimLoop.wake();
  }

  /**
   * Wakes the claim loop to claim after the current tick, so that the slots of handlers ending
   * together (and those ending while a claim is in flight) go into one claim.
   */
  #wakeClaimSoon(): void {
    this.#claimNow = true;
    if (this.#claimWakeQueued) return;
    this.#claimWakeQueued = true;
    queueMicrotask(() => {
      this.#claimWakeQueued = false;
      this.#claimLoop.wake();
    });
  }

  /** One claim step; returns how long to sleep, ms. */
  async #claimStep(): Promise<number> {
    const node = this.#node;
    if (this.#state !== 'running' || node === null) return this.#o.pollMs;
    const names = this.handlers;
    // A slot frees before its outcome is stored. Outcomes waiting for the store beyond one
    // concurrency's worth hold slots back, so a slow store slows claims instead of piling up
    // unrecorded runs (whose leases the heartbeat must keep renewing).
    const backlog = Math.max(0, this.#completing.size - this.#o.concurrency);
    const free = this.#o.concurrency - this.#active.size - backlog;
    // Nothing to claim into: a freed slot, a resume or a new handler wakes the loop.
    if (free <= 0 || names.length === 0 || !this.#accepting || !claimsNewRuns(this.#desired ?? 'active')) {
      return this.#o.pollMs;
    }
    const planned = this.#claimAt !== null && this.#estimateNow() >= this.#claimAt;
    const now = this.#claimNow || planned;
    this.#claimNow = false;
    this.#claimAt = null;
    if (!now) {
      const wake = await this.#nextDueAt(names);
      if (wake === null || wake > this.#estimateNow()) return this.#sleepUntilDue(wake);
    }
    let runs: RunRecord[];
    try {
      runs = await this.#store.claimRuns({
        app: this.#app,
        nodeId: this.#nodeId,
        incarnation: node.incarnation,
        handlers: names,
        limit: free,
        leaseMs: this.#o.runLeaseMs,
      });
    } catch (err) {
      if (err instanceof FencedError && err.scope === 'node') {
        await this.#rejoin(node.incarnation);
        this.#claimNow = true;
        return 0;
      }
      throw err;
    }
    for (const run of runs) this.#execute(run);
    // Every free slot taken: the next claim comes when slots free, with no need to look ahead.
    if (runs.length >= free) {
      this.#dueRetryMs = 0;
      return this.#o.pollMs;
    }
    const wake = await this.#nextDueAt(names);
    if (wake !== null && wake <= this.#estimateNow()) {
      // Something is due that this claim did not take: either it became due between the claim and
      // this read (runs due every few ms), or it waits behind a running run of its serial job.
      // Claim again soon, backing off from 1 ms to the poll interval while claims keep coming back
      // short, so the first case is not left to the safety-net poll and the second does not spin.
      this.#dueRetryMs = runs.length > 0 ? 1 : Math.min(this.#o.pollMs, Math.max(1, this.#dueRetryMs * 2));
      this.#claimNow = true;
      return this.#dueRetryMs;
    }
    this.#dueRetryMs = 0;
    return this.#sleepUntilDue(wake);
  }

  /** The claim loop's back-off while due runs stay unclaimable (0: not backing off). */
  #dueRetryMs = 0;

  /** The earliest due time of the pending runs this node may claim, or null. */
  #nextDueAt(handlers: string[]): Promise<number | null> {
    return this.#store.nextWakeAt({ app: this.#app, partitions: [], handlers, nodeId: this.#nodeId });
  }

  /** Sleeps the claim loop until `wake` (store time), at most the poll interval. */
  #sleepUntilDue(wake: number | null): number {
    if (wake === null) return this.#o.pollMs;
    this.#claimAt = wake;
    return Math.min(this.#o.pollMs, Math.max(1, wake - this.#estimateNow()));
  }

  /**
   * Fires due jobs (read up to `fireAhead` before their time, at store time `now`) in batches.
   * `skip` and `replace` jobs are left for their own time: their block strategy is decided when
   * the run is inserted, against the job's runs of that moment. Returns how many jobs were
   * planned, whether to read again at once (a fired job's next fire time is already due, or
   * inside the window), and the earliest fire time left for later (`deferredUntil`).
   */
  async #fire(
    due: JobRecord[],
    now: number,
  ): Promise<{ planned: number; again: boolean; deferredUntil: number | null }> {
    const horizon = now + this.#o.fireAheadMs;
    let again = false;
    let deferredUntil: number | null = null;
    const defer = (at: number) => {
      if (deferredUntil === null || at < deferredUntil) deferredUntil = at;
    };
    const plans: FirePlan[] = [];
    for (const job of due) {
      if (job.nextFireAt! > now && !firesAhead(job)) {
        defer(job.nextFireAt!);
        continue;
      }
      try {
        plans.push(planFire(job, now, this.#o));
      } catch (error) {
        // A job that cannot be planned (e.g. a time zone unknown to this runtime) stops firing
        // until it is updated, instead of being read again and again.
        this.#reportError(error, `fire:${job.key}`);
        plans.push({
          request: {
            jobKey: job.key,
            expectedNextFireAt: job.nextFireAt!,
            nextFireAt: null,
            lastFireAt: job.nextFireAt!,
            runs: [],
          },
          missed: 1,
          misfired: false,
        });
      }
    }
    const byKey = new Map(due.map((job) => [job.key, job]));
    for (const plan of plans) {
      plan.request.runs = await this.#cluster.route(plan.request.runs, (d) =>
        d.jobKey === null ? undefined : byKey.get(d.jobKey)?.routing.key,
      );
    }
    // Chunks of at most `maxBatch` runs per store step.
    let chunk: FirePlan[] = [];
    let size = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const batch = chunk;
      chunk = [];
      size = 0;
      const results = await this.#store.fireJobs(
        this.#app,
        batch.map((p) => p.request),
      );
      results.forEach((result, i) => {
        const plan = batch[i]!;
        if (!result.fired) return;
        const next = plan.request.nextFireAt;
        if (next !== null && next <= horizon) {
          if (next <= now || firesAhead(byKey.get(result.jobKey)!)) again = true;
          else defer(next);
        }
        this.safeEmit('job:fired', {
          jobKey: result.jobKey,
          scheduledFor: plan.request.lastFireAt,
          runs: result.runs,
          missed: plan.missed,
          misfired: plan.misfired,
          nextFireAt: plan.request.nextFireAt,
        });
        this.#afterInsert(result.runs);
        // Claim what was just made without waiting for the store's event to come back.
        if (result.runs.some((r) => r.state === 'pending')) this.#wakeClaim();
      });
    };
    for (const plan of plans) {
      if (size + plan.request.runs.length > STORE_LIMITS.maxBatch) await flush();
      chunk.push(plan);
      size += plan.request.runs.length;
    }
    await flush();
    return { planned: plans.length, again, deferredUntil };
  }

  // ---- execution -----------------------------------------------------------------------------

  #execute(run: RunRecord): void {
    const a: ActiveRun = {
      run,
      controller: null,
      abortReason: null,
      startedAt: this.#clock.now(),
      timer: null,
      ended: false,
      progress: null,
      settled: undefined,
      done: null,
      resolveDone: null,
    };
    this.#active.set(run.id, a);
    this.safeEmit('run:started', { run });
    const handler = this.#handlers.get(run.handler);
    if (handler === undefined) {
      this.#end(a, 'failed', undefined, {
        name: 'ValidationError',
        message: `handler '${run.handler}' is not registered on node '${this.#nodeId}'`,
      });
      return;
    }
    if (run.timeoutMs !== null) {
      const ms = run.timeoutMs;
      a.timer = this.#clock.setTimer(() => {
        a.timer = null;
        this.#abortRun(run.id, 'timeout', ms);
      }, ms);
    }
    let result: Promise<unknown>;
    try {
      result = Promise.resolve((handler as unknown as Handler<JsonValue>)(this.#context(a)));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (value) => {
        if (a.ended) return;
        let json: JsonValue;
        try {
          json = toJsonValue(value === undefined ? null : value, 'result', STORE_LIMITS.maxJsonBytes);
        } catch (err) {
          this.#end(a, 'failed', undefined, toRunError(err));
          return;
        }
        this.#end(a, 'succeeded', json, null);
      },
      (err: unknown) => {
        if (a.ended) return;
        this.#end(a, 'failed', undefined, toRunError(err));
      },
    );
  }

  #context(a: ActiveRun): RunContext<JsonValue> {
    const run = a.run;
    const logs = this.#logs;
    const clock = this.#clock;
    return {
      // A copy, so a handler that changes its params cannot change what a retry runs with.
      params:
        run.params !== null && typeof run.params === 'object' ? structuredClone(run.params) : run.params,
      runId: run.id,
      jobKey: run.jobKey,
      handler: run.handler,
      attempt: run.attempt,
      maxAttempts: run.retry.maxAttempts,
      scheduledFor: run.scheduledFor,
      trigger: run.trigger,
      shard: Object.freeze({ index: run.shardIndex, total: run.shardTotal }),
      parentRunId: run.parentRunId,
      get signal(): AbortSignal {
        return signalOf(a);
      },
      log: (message: string, fields?: unknown, level: LogLevel = 'info') => {
        if (a.ended) return;
        const lvl: LogLevel = level === 'debug' || level === 'warn' || level === 'error' ? level : 'info';
        logs.add(run.id, lvl, message, fields, clock.now());
        if (logs.size >= 200) void this.#flushLogs();
      },
      progress: async (percent: number) => {
        if (typeof percent !== 'number' || Number.isNaN(percent)) return;
        a.progress = Math.max(0, Math.min(100, Math.round(percent)));
      },
    };
  }

  /**
   * Decides a run's outcome once: frees its slot at once, then records it (with its retry) in
   * the store, retrying while the store is unavailable.
   */
  #end(
    a: ActiveRun,
    outcome: CompleteRequest['outcome'],
    result: JsonValue | undefined,
    error: RunError | null,
    retryDelay?: number,
  ): void {
    if (a.ended) return;
    a.ended = true;
    if (a.timer !== null) {
      this.#clock.clearTimer(a.timer);
      a.timer = null;
    }
    this.#active.delete(a.run.id);
    this.#completing.set(a.run.id, a);
    this.#wakeClaimSoon();
    this.#checkIdle();
    const run = a.run;
    let retry: RunDraft | null = null;
    let delayMs = 0;
    if ((outcome === 'failed' || outcome === 'timed_out') && run.attempt < run.retry.maxAttempts) {
      delayMs = retryDelay ?? retryDelayMs(run.retry, run.attempt, this.#o.random);
      retry = rerunDraft(run, {
        trigger: 'retry',
        scheduledFor: run.scheduledFor,
        delayMs,
        attempt: run.attempt + 1,
        idempotencyKey: `retry:${run.id}`,
      });
    }
    const node = this.#node!;
    this.#complete(
      a,
      {
        runId: run.id,
        nodeId: this.#nodeId,
        incarnation: node.incarnation,
        outcome,
        ...(result === undefined ? {} : { result }),
        error,
        durationMs: Math.max(0, this.#clock.now() - a.startedAt),
        retry,
      },
      delayMs,
    );
  }

  /**
   * Queues a run's outcome for the store. At most one `completeRuns` batch is in flight; what
   * ends meanwhile goes in the next batch, so an idle node completes at once and a busy one in
   * batches. The drain starts in a microtask, so handlers that end in the same tick share a batch.
   */
  #complete(a: ActiveRun, request: CompleteRequest, delayMs: number): void {
    this.#completionQueue.push({ a, request, delayMs, recorded: null });
    if (this.#completionsScheduled) return;
    this.#completionsScheduled = true;
    queueMicrotask(() => {
      void this.#drainCompletions();
    });
  }

  /** Sends queued outcomes batch by batch (one in flight) until the queue is empty. */
  async #drainCompletions(): Promise<void> {
    try {
      while (this.#completionQueue.length > 0) {
        const batch = this.#completionQueue.splice(0, STORE_LIMITS.maxBatch);
        if (this.#abandonCompletions) {
          this.#settleCompletions(batch);
          continue;
        }
        await this.#completeBatch(batch);
      }
    } finally {
      this.#completionsScheduled = false;
      // Only reached with a non-empty queue if a batch threw: keep a drain scheduled for it.
      if (this.#completionQueue.length > 0) {
        this.#completionsScheduled = true;
        queueMicrotask(() => {
          void this.#drainCompletions();
        });
      }
    }
  }

  /**
   * Records one batch of outcomes: flushes the runs' logs first, then one `completeRuns`.
   * A refused item (fenced, not found) is `run:lost`; a store that is unavailable is retried with
   * back-off until `stop()` gives up; another error is retried twice, then each run alone (so one
   * bad request cannot sink the others), then dropped with an `error` event.
   */
  async #completeBatch(batch: PendingCompletion[]): Promise<void> {
    let failures = 0;
    try {
      await this.#flushLogs();
      for (;;) {
        try {
          this.#completionInFlight = true;
          let items: CompleteRunsItem[];
          try {
            items = await this.#store.completeRuns(batch.map((c) => c.request));
          } finally {
            this.#completionInFlight = false;
            if (this.#runsEventDeferred) {
              this.#runsEventDeferred = false;
              this.#wakeClaimSoon();
            }
          }
          items.forEach((item, i) => {
            const c = batch[i];
            if (c === undefined) return;
            if (item.ok) {
              c.recorded = item.run;
              this.#emitOutcome(item.run, item.retry, c.request, c.delayMs);
            } else {
              this.safeEmit('run:lost', { runId: c.a.run.id, run: null, retry: null });
            }
          });
          return;
        } catch (err) {
          failures++;
          const only = batch.length === 1 ? batch[0]!.a.run.id : undefined;
          this.#reportError(err, 'complete', only);
          const transient = err instanceof StoreUnavailableError;
          if (this.#abandonCompletions) return;
          if (!transient && failures >= 3) {
            if (batch.length > 1) {
              for (const c of batch) await this.#completeBatch([c]);
            }
            return;
          }
          await this.#sleep(Math.min(this.#o.heartbeatMs * 5, 100 * 2 ** Math.min(failures - 1, 10)));
          if (this.#abandonCompletions) return;
        }
      }
    } finally {
      this.#settleCompletions(batch);
    }
  }

  /** The runs of a batch are no longer being completed: resolve their `done` (once each). */
  #settleCompletions(batch: PendingCompletion[]): void {
    // Claims held back by the outcome backlog (see `#claimStep`) may go on once it shrinks.
    if (this.#completing.size > this.#o.concurrency) this.#wakeClaimSoon();
    for (const c of batch) {
      if (this.#completing.get(c.a.run.id) !== c.a) continue;
      this.#completing.delete(c.a.run.id);
      settle(c.a, c.recorded);
    }
    this.#checkIdle();
  }

  #emitOutcome(run: RunRecord, retry: RunRecord | null, request: CompleteRequest, delayMs: number): void {
    const error = request.error ?? { name: 'Error', message: 'unknown error' };
    switch (run.state) {
      case 'succeeded':
        this.safeEmit('run:succeeded', { run, durationMs: request.durationMs });
        break;
      case 'failed':
      case 'dead':
        this.safeEmit('run:failed', { run, error, retry });
        if (run.state === 'dead') this.safeEmit('run:dead', { run, error });
        break;
      case 'timed_out':
        this.safeEmit('run:timed_out', { run, retry });
        break;
      case 'cancelled':
        this.safeEmit('run:cancelled', { run });
        break;
      default:
        break;
    }
    if (retry !== null) this.safeEmit('run:retried', { run, retry, delayMs });
  }

  /** Aborts a running handler of this node for a reason; the run ends as that reason says. */
  #abortRun(runId: string, kind: RunAbortedError['kind'], timeoutMs = 0, reason?: string): void {
    const a = this.#active.get(runId);
    if (a === undefined || a.ended) return;
    switch (kind) {
      case 'cancel': {
        const why = new RunCancelledError(reason ?? a.run.reason ?? 'cancel requested');
        abort(a, why);
        this.#end(a, 'cancelled', undefined, toRunError(why));
        return;
      }
      case 'shutdown': {
        const why = new ShutdownError(timeoutMs);
        abort(a, why);
        this.#end(a, 'failed', undefined, toRunError(why), 0);
        return;
      }
      case 'timeout': {
        const why = new TimeoutError(timeoutMs);
        abort(a, why);
        this.#end(a, 'timed_out', undefined, toRunError(why));
        return;
      }
      case 'lost': {
        const why = new RunLostError();
        a.ended = true;
        if (a.timer !== null) this.#clock.clearTimer(a.timer);
        abort(a, why);
        this.#active.delete(runId);
        settle(a, null);
        this.safeEmit('run:lost', { runId, run: null, retry: null });
        this.#wakeClaimSoon();
        this.#checkIdle();
        return;
      }
    }
  }

  // ---- membership: heartbeat, leadership, reaping ---------------------------------------------

  async #heartbeatStep(): Promise<number> {
    const node = this.#node;
    if (node === null) return this.#o.heartbeatMs;
    await this.#flushLogs();
    const runs = [...this.#active.values(), ...this.#completing.values()].map((a) => ({
      runId: a.run.id,
      ...(a.progress === null ? {} : { progress: a.progress }),
    }));
    let res: Awaited<ReturnType<Store['heartbeat']>>;
    try {
      const beat = (chunk: typeof runs) =>
        this.#store.heartbeat({
          app: this.#app,
          nodeId: this.#nodeId,
          incarnation: node.incarnation,
          state: reportedNodeState(this.#desired, this.#state === 'stopping'),
          running: this.#active.size,
          runs: chunk,
          runLeaseMs: this.#o.runLeaseMs,
          leader:
            this.#isLeader && this.#leader !== null
              ? { epoch: this.#leader.epoch, ttlMs: this.#o.leaderTtlMs }
              : null,
        });
      // Running runs plus those whose outcome is on its way can exceed one store batch (up to
      // twice the concurrency): their leases are renewed in as many heartbeats as it takes.
      res = await beat(runs.slice(0, STORE_LIMITS.maxBatch));
      for (let i = STORE_LIMITS.maxBatch; i < runs.length; i += STORE_LIMITS.maxBatch) {
        const more = await beat(runs.slice(i, i + STORE_LIMITS.maxBatch));
        res = {
          ...more,
          cancelRunIds: [...res.cancelRunIds, ...more.cancelRunIds],
          lostRunIds: [...res.lostRunIds, ...more.lostRunIds],
        };
      }
    } catch (err) {
      if (err instanceof FencedError && err.scope === 'node') {
        await this.#rejoin(node.incarnation);
        return 0;
      }
      throw err;
    }
    this.#setNow(res.now);
    for (const id of res.cancelRunIds) this.#abortRun(id, 'cancel');
    for (const id of res.lostRunIds) this.#abortRun(id, 'lost');
    this.#applyDesired(res.desiredState);
    const partitions = await this.#cluster.syncPartitions(res.partitionGeneration);
    if (partitions !== undefined) this.#setPartitions(partitions, res.partitionGeneration);
    try {
      await this.#leadership(res.leader, res.now, res.membershipVersion);
    } catch (err) {
      this.#reportError(err, 'leader');
    }
    return this.#o.heartbeatMs;
  }

  /**
   * Keeps or takes the leader lease; as leader, reaps every `reapInterval` and rebalances the
   * partitions after a reap that found dead nodes, on the periodic check, and at once when the
   * heartbeat's membership version moved (a node joined, left, was removed or drained).
   */
  async #leadership(lease: LeaderLease | null, now: number, membershipVersion: number): Promise<void> {
    const node = this.#node;
    if (node === null || this.#state !== 'running') return;
    const mine = (l: LeaderLease | null) =>
      l !== null && l.nodeId === this.#nodeId && l.incarnation === node.incarnation && l.expiresAt > now;
    let current = lease;
    if (!mine(current) && (current === null || current.expiresAt <= now)) {
      current = await this.#store.acquireLeadership({
        app: this.#app,
        nodeId: this.#nodeId,
        incarnation: node.incarnation,
        ttlMs: this.#o.leaderTtlMs,
      });
    }
    const leads =
      current !== null && current.nodeId === this.#nodeId && current.incarnation === node.incarnation;
    const changed = leads !== this.#isLeader || (current?.epoch ?? null) !== (this.#leader?.epoch ?? null);
    this.#isLeader = leads;
    this.#leader = current;
    if (changed) {
      if (leads) this.#lastReapAt = Number.NEGATIVE_INFINITY;
      this.safeEmit('leader:changed', { leader: current, isLeader: leads });
    }
    if (this.#isLeader && this.#leader !== null) {
      this.#maybePrune(now);
      const reapDue = now - this.#lastReapAt >= this.#o.reapMs;
      if (!reapDue && !this.#cluster.membershipMoved(membershipVersion)) return;
      try {
        let offline = 0;
        if (reapDue) {
          this.#lastReapAt = now;
          const reaped = await this.#store.reapDeadNodes({
            app: this.#app,
            epoch: this.#leader.epoch,
            nodeTtlMs: this.#o.nodeTtlMs,
          });
          for (const run of reaped.lost) {
            const retry = reaped.retries.find((r) => r.parentRunId === run.id) ?? null;
            this.safeEmit('run:lost', { runId: run.id, run, retry });
            if (retry !== null) this.safeEmit('run:retried', { run, retry, delayMs: 0 });
          }
          if (reaped.lost.length > 0) this.#wakeClaim();
          offline = reaped.offlineNodes.length;
        }
        const led = await this.#cluster.lead(this.#leader.epoch, now, offline > 0, membershipVersion);
        if (led.partitions !== undefined) this.#setPartitions(led.partitions, led.written!.generation);
      } catch (err) {
        if (err instanceof FencedError && err.scope === 'leader') {
          this.#isLeader = false;
          this.safeEmit('leader:changed', { leader: null, isLeader: false });
          return;
        }
        throw err;
      }
    }
  }

  /** As leader, starts pruning history per `retention` when a minute has passed since the last time. */
  #maybePrune(now: number): void {
    const retention = this.#o.retention;
    if (retention === null || this.#pruning !== null || now - this.#lastPruneAt < PRUNE_EVERY_MS) return;
    this.#lastPruneAt = now;
    const request = {
      app: this.#app,
      limit: PRUNE_BATCH,
      ...(retention.maxAgeMs === null ? {} : { finishedBefore: now - retention.maxAgeMs }),
      ...(retention.keepLast === null ? {} : { keepLast: retention.keepLast }),
    };
    this.#pruning = (async () => {
      // Batch after batch while full ones come back, bounded per round; the next round goes on.
      for (let i = 0; i < PRUNE_MAX_BATCHES && this.#isLeader && this.#state === 'running'; i++) {
        const deleted = await this.#store.prune(request);
        if (deleted > 0) this.safeEmit('history:pruned', { deleted });
        if (deleted < PRUNE_BATCH) break;
      }
    })()
      .catch((err: unknown) => this.#reportError(err, 'prune'))
      .finally(() => {
        this.#pruning = null;
      });
  }

  /** The store declared this node dead: abort its handlers and join again with a new incarnation. */
  #rejoin(fencedIncarnation: number): Promise<void> {
    if (this.#rejoining !== null) return this.#rejoining;
    // Another loop already rejoined after the same fencing.
    if (this.#node === null || this.#node.incarnation !== fencedIncarnation) return Promise.resolve();
    this.#rejoining = (async () => {
      for (const id of [...this.#active.keys()]) this.#abortRun(id, 'lost');
      this.#cluster.reset();
      if (this.#isLeader) {
        this.#isLeader = false;
        this.safeEmit('leader:changed', { leader: null, isLeader: false });
      }
      // A node on its way out does not come back.
      if (this.#state !== 'running') return;
      this.#node = await this.#store.registerNode(this.#nodeInfo());
      this.safeEmit('node:joined', { node: this.#node });
    })().finally(() => {
      this.#rejoining = null;
    });
    return this.#rejoining;
  }

  #nodeInfo() {
    return {
      nodeId: this.#nodeId,
      app: this.#app,
      host: this.#o.host.slice(0, 200) || 'unknown',
      pid: process.pid,
      version: OASIS_VERSION,
      handlers: this.handlers,
      weight: this.#o.weight,
      concurrency: this.#o.concurrency,
    };
  }

  // ---- helpers -------------------------------------------------------------------------------

  #jobsHost(): JobsHost {
    return {
      store: this.#store,
      app: this.#app,
      limits: { maxParamsBytes: this.#o.maxParamsBytes },
      storeNow: () => this.#storeNow(),
      estimateNow: () => this.#estimateNow(),
      checkHandler: (name, field) => this.#checkHandler(name, field),
      insertRuns: (drafts, routingKey) =>
        this.#insertRuns(drafts, routingKey === undefined ? undefined : () => routingKey),
      reportError: (error, during) => this.#reportError(error, during),
    };
  }

  /** Routes (with `routingKey` for `consistent-hash`), inserts, and wakes the claim loop. */
  async #insertRuns(
    drafts: RunDraft[],
    routingKey?: (draft: RunDraft) => string | undefined,
  ): Promise<RunRecord[]> {
    const results = await this.#store.enqueueRuns(await this.#cluster.route(drafts, routingKey));
    if (results.some((r) => r.created)) this.#wakeClaim();
    this.#afterInsert(results.filter((r) => r.created).map((r) => r.run));
    return results.map((r) => r.run);
  }

  /**
   * Reports skipped inserts, and applies `replace` at once to this node's own running runs of
   * the job (the store has set their `cancelRequested`; other nodes learn it by heartbeat).
   */
  #afterInsert(runs: RunRecord[]): void {
    for (const run of runs) {
      if (run.state === 'skipped') this.safeEmit('run:skipped', { run });
      if (run.state === 'pending' && run.block === 'replace' && run.jobKey !== null) {
        for (const a of [...this.#active.values()]) {
          if (a.run.jobKey === run.jobKey && a.run.id !== run.id) {
            this.#abortRun(a.run.id, 'cancel', 0, `replaced by run ${run.id}`);
          }
        }
      }
    }
  }

  #checkHandler(name: string, field: string): void {
    if (this.#handlers.has(name)) return;
    const remote = this.#o.remoteHandlers;
    if (remote === '*' || remote.has(name)) return;
    const known = [...this.#handlers.keys(), ...remote];
    throw new ValidationError(
      field,
      'unknown-handler',
      `no handler '${name}' is registered${known.length > 0 ? ` (known: ${known.slice(0, 20).join(', ')})` : ''}: call scheduler.handle('${name}', fn) first, or list it in the remoteHandlers option if other nodes run it`,
    );
  }

  async #storeNow(): Promise<number> {
    const now = await this.#store.now();
    this.#setNow(now);
    return now;
  }

  #setNow(storeNow: number): void {
    this.#offset = storeNow - this.#clock.now();
  }

  #estimateNow(): number {
    return this.#clock.now() + this.#offset;
  }

  async #flushLogs(): Promise<void> {
    while (this.#logs.size > 0) {
      const lines = this.#logs.take(STORE_LIMITS.maxBatch);
      try {
        await this.#store.appendLogs(lines);
      } catch (err) {
        if (err instanceof StoreUnavailableError) this.#logs.putBack(lines);
        this.#reportError(err, 'logs');
        return;
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#clock.setTimer(resolve, ms);
    });
  }

  /** Resolves when `idle()` holds or after `timeoutMs` on the clock. */
  #waitIdle(timeoutMs: number, idle: () => boolean): Promise<void> {
    if (idle()) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: ClockTimer | null = null;
      const check = () => {
        if (!idle()) return;
        finish();
      };
      const finish = () => {
        this.#idleWaiters.delete(check);
        if (timer !== null) this.#clock.clearTimer(timer);
        resolve();
      };
      this.#idleWaiters.add(check);
      timer = this.#clock.setTimer(() => {
        timer = null;
        finish();
      }, timeoutMs);
    });
  }

  #checkIdle(): void {
    if (this.#idleWaiters.size === 0) return;
    for (const check of [...this.#idleWaiters]) check();
  }

  #reportError(error: unknown, during: string, runId?: string): void {
    this.safeEmit('error', runId === undefined ? { error, during } : { error, during, runId });
  }
}

/** The run's abort signal, made on first use (born aborted when the run was aborted before). */
function signalOf(a: ActiveRun): AbortSignal {
  if (a.controller === null) {
    a.controller = new AbortController();
    if (a.abortReason !== null) a.controller.abort(a.abortReason);
  }
  return a.controller.signal;
}

/** Aborts the run's signal (or records why, for a signal not made yet). */
function abort(a: ActiveRun, why: Error): void {
  if (a.abortReason !== null) return;
  a.abortReason = why;
  a.controller?.abort(why);
}

/** Resolves with the ended run once recorded (null when dropped). */
function doneOf(a: ActiveRun): Promise<RunRecord | null> {
  if (a.settled !== undefined) return Promise.resolve(a.settled);
  if (a.done === null) {
    a.done = new Promise((resolve) => {
      a.resolveDone = resolve;
    });
  }
  return a.done;
}

/** Records the ended run (once) and wakes whoever waits on `doneOf`. */
function settle(a: ActiveRun, run: RunRecord | null): void {
  if (a.settled !== undefined) return;
  a.settled = run;
  a.resolveDone?.(run);
}

/**
 * Whether a job's fires may be materialized ahead of their time: not with the `skip` or
 * `replace` block strategy, which look at the job's runs when the new run is inserted (early,
 * they would skip a fire or cancel a running run that would have ended in time).
 */
function firesAhead(job: JobRecord): boolean {
  return job.block !== 'skip' && job.block !== 'replace';
}

/** Checks `options.routing` of `enqueue`; undefined when absent. */
function parseEnqueueRouting(value: unknown): EnqueueRouting | undefined {
  if (value === undefined) return undefined;
  const o = requireObject(value, 'options.routing');
  checkKnownKeys(o, ['key', 'node'], 'options.routing');
  if ((o.key === undefined) === (o.node === undefined)) {
    throw new ValidationError(
      'options.routing',
      'exclusive',
      'give either key (consistent hash) or node (a target node), exactly one of them',
    );
  }
  if (o.key !== undefined) {
    return { key: checkString(o.key, 'options.routing.key', { max: STORE_LIMITS.keyMaxLength }) };
  }
  return { node: checkName(o.node, 'options.routing.node') };
}

/** A thrown value as a run error, cut to the store's limits. */
export function toRunError(err: unknown): RunError {
  if (err instanceof Error) {
    const out: RunError = {
      name: (err.name || 'Error').slice(0, 200),
      message: String(err.message ?? '').slice(0, ERROR_MESSAGE_MAX),
    };
    if (typeof err.stack === 'string') out.stack = err.stack.slice(0, ERROR_STACK_MAX);
    return out;
  }
  let message: string;
  try {
    message = typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    message = String(err);
  }
  return { name: 'Error', message: message.slice(0, ERROR_MESSAGE_MAX) };
}
