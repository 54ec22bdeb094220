import type { FencedError, NotFoundError } from '../errors';
import type {
  AuditDraft,
  AuditFilter,
  AuditRecord,
  JobDraft,
  JobFilter,
  JobRecord,
  JsonValue,
  LeaderLease,
  NodeInfo,
  NodeRecord,
  NodeState,
  Page,
  PageRequest,
  PartitionMap,
  RunDraft,
  RunError,
  RunFilter,
  RunLogDraft,
  RunLogLine,
  RunRecord,
  RunState,
  RunView,
  StatsBucket,
} from '../model';

/**
 * What a store can do beyond the contract's minimum. Core and tests branch on these flags,
 * never on the store's class.
 */
export interface StoreCapabilities {
  /** Several processes can share this store (false for the in-memory store). */
  readonly crossProcess: boolean;
  /** `subscribe` delivers wake-ups written by other processes (LISTEN/NOTIFY, pub/sub). */
  readonly notifications: boolean;
  /** Claims skip rows locked by other claimers instead of waiting (`FOR UPDATE SKIP LOCKED`). */
  readonly skipLocked: boolean;
}

/** A wake-up: something that may make work due sooner than a node planned. */
export interface StoreEvent {
  /** `runs`: runs were inserted or became claimable; `jobs`: job definitions or next-fire times changed. */
  type: 'runs' | 'jobs';
  app: string;
}

/** What `dueJobs` reads. */
export interface DueJobsQuery {
  app: string;
  /** Only jobs of these partitions; all when null. */
  partitions: number[] | null;
  /** At most this many jobs (1..`STORE_LIMITS.maxBatch`). */
  limit: number;
  /**
   * Also jobs due within this many ms after the store's now (0..`STORE_LIMITS.maxFireHorizonMs`,
   * default 0: only jobs due now).
   */
  horizonMs?: number;
}

/** One job's fire, for `fireJobs`. */
export interface FireRequest {
  jobKey: string;
  /** Compare-and-set: the job's `nextFireAt` as read by `dueJobs`. */
  expectedNextFireAt: number;
  /** The new `nextFireAt` (null: no further fire, or `delay-after` waiting for its run to end). */
  nextFireAt: number | null;
  /** The fire time being materialized (becomes `lastFireAt`). */
  lastFireAt: number;
  /**
   * The runs of this fire (several for broadcast, sharded or fire-all). Each carries an
   * idempotency key unique to the fire time and slot, so a fire materialized twice inserts nothing.
   * May be empty.
   */
  runs: RunDraft[];
}

/** What happened to one `FireRequest`. */
export interface FireResult {
  jobKey: string;
  /** False when the compare-and-set failed (another node fired it, or the job changed or vanished). */
  fired: boolean;
  /** The runs inserted by this call (those whose idempotency key already existed are left out). */
  runs: RunRecord[];
}

/** The outcome of one draft of `enqueueRuns`. */
export interface EnqueueResult {
  run: RunRecord;
  /** False when a run with the same idempotency key existed: `run` is that run, nothing was inserted. */
  created: boolean;
}

/** A node asking for work. */
export interface ClaimRequest {
  app: string;
  nodeId: string;
  incarnation: number;
  /** Only runs of these handlers. */
  handlers: string[];
  /** At most this many runs (the node's free slots). */
  limit: number;
  /** The run lease: a claimed run whose lease is not renewed by then counts as lost. */
  leaseMs: number;
}

/** A node reporting the end of a run it owns. */
export interface CompleteRequest {
  runId: string;
  nodeId: string;
  incarnation: number;
  outcome: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  result?: JsonValue;
  error?: RunError | null;
  /** Wall time of the attempt as the node measured it. */
  durationMs: number;
  /** The next attempt, inserted in the same step; null or absent when none. */
  retry?: RunDraft | null;
}

/** The ended run and its retry, if one was inserted. */
export interface CompleteResult {
  run: RunRecord;
  retry: RunRecord | null;
}

/** One hour of an app's totals: a stats bucket of every job and one-off task together. */
export type HourlyTotals = Omit<StatsBucket, 'jobKey'>;

/**
 * One entry of `completeRuns`, in request order: the ended run and its retry, or the typed error
 * that `completeRun` would have thrown for that request alone.
 */
export type CompleteRunsItem =
  | { ok: true; run: RunRecord; retry: RunRecord | null }
  | { ok: false; error: FencedError | NotFoundError };

/** One heartbeat: the node's liveness, its runs' leases and, for the leader, its lease. */
export interface HeartbeatRequest {
  app: string;
  nodeId: string;
  incarnation: number;
  /** The state the node is in now. */
  state: Exclude<NodeState, 'offline'>;
  /** How many runs it is running. */
  running: number;
  /** The runs it is running: their leases are renewed, their progress recorded. */
  runs: Array<{ runId: string; progress?: number | null }>;
  /** New lease length for those runs, ms from the store's now. */
  runLeaseMs: number;
  /** When leader: renew the lease of this epoch for `ttlMs`. */
  leader?: { epoch: number; ttlMs: number } | null;
}

/** What a heartbeat brings back. */
export interface HeartbeatResult {
  /** The store's clock. */
  now: number;
  /** Runs among those reported that an operator asked to cancel: abort their handlers. */
  cancelRunIds: string[];
  /** Runs among those reported that this node no longer owns (reaped as lost, or ended): abort them. */
  lostRunIds: string[];
  /** What an operator asked this node to become, if anything. */
  desiredState: NodeRecord['desiredState'];
  /** The partition map's generation: re-read the map when it moved. */
  partitionGeneration: number;
  /**
   * The app's membership version: it changes (grows) whenever a node of the app registers,
   * leaves, is reaped, is removed or gets a desired state. The leader rebalances when it moves.
   */
  membershipVersion: number;
  /** The leader lease after this heartbeat (renewed when this node holds it), or null when none. */
  leader: LeaderLease | null;
}

/** The leader's sweep for dead nodes and lost runs. */
export interface ReapRequest {
  app: string;
  /** The leader's epoch; the step is refused when it is stale. */
  epoch: number;
  /** A node whose last heartbeat is older than this is marked offline. */
  nodeTtlMs: number;
  /** At most this many runs are marked lost per call (default 1000). */
  limit?: number;
}

/** What a reap did. */
export interface ReapResult {
  /** Nodes marked offline by this call. */
  offlineNodes: string[];
  /** Runs marked `lost`: owned by an offline node, or with an expired lease. */
  lost: RunRecord[];
  /** Retries inserted for lost runs that had attempts left, due at once. */
  retries: RunRecord[];
}

/** A leader moving targeted runs to another node (or to any node with `to: null`). */
export interface RetargetRequest {
  app: string;
  epoch: number;
  moves: Array<{ runId: string; from: string | null; to: string | null }>;
}

/** What `prune` deletes. */
export interface PruneRequest {
  /** Only this app; all apps when absent. */
  app?: string;
  /** Delete final runs that finished before this store time. */
  finishedBefore?: number;
  /** Keep at least the newest N final runs per app; delete older final runs. */
  keepLast?: number;
  /** At most this many runs per call (with their logs). */
  limit: number;
}

/**
 * The contract every store keeps. Each method is one atomic step in the store (one transaction or
 * one Lua script): another node sees all of its effect or none. Times are the store's own clock.
 *
 * Input arrives validated by core's runtime guard (`RuntimeStore`): a store may rely on lengths,
 * enums and JSON sizes being within `STORE_LIMITS`, but must still treat every string as data
 * (bound parameters, never spliced into SQL or Lua).
 *
 * Errors: a store throws `StoreUnavailableError` when its server cannot be reached (safe to
 * retry), `FencedError` for a stale incarnation, epoch or ownership, `ConflictError` for a lost
 * compare-and-set, `NotFoundError` where a method says so, and `StoreError` for anything else.
 *
 * Rules every method keeps (the conformance suite checks them):
 * - An id of any shape that does not exist is "not found" (null or `NotFoundError` as the method
 *   says), never a driver error.
 * - A cursor the store did not issue is refused with a `ValidationError` on `page.cursor`.
 * - Empty batches and lists are no-ops, not errors.
 */
export interface Store {
  /** A short name for logs and errors, e.g. `memory`, `sqlite`, `postgres`, `redis`. */
  readonly name: string;
  /** What this store can do. */
  readonly capabilities: StoreCapabilities;

  /** Connects (and migrates when the store was told to). Idempotent. */
  init(): Promise<void>;
  /** Releases connections. Idempotent; no call may follow. */
  close(): Promise<void>;
  /** The store's clock, ms since the epoch. The only clock for leases, heartbeats and due decisions. */
  now(): Promise<number>;

  // ---- jobs ----------------------------------------------------------------------------------

  /** The job, or null. */
  getJob(app: string, key: string): Promise<JobRecord | null>;
  /**
   * Writes a job definition as given (including `nextFireAt`, computed by the engine).
   * `expectedVersion`: `null` creates and throws `ConflictError` when it exists; a number updates
   * only if the stored version equals it, else `ConflictError` (also when it does not exist);
   * `'any'` creates or overwrites. Returns the stored record with `version` bumped
   * (1 on create). Emits a `jobs` event.
   */
  saveJob(draft: JobDraft, expectedVersion: number | null | 'any'): Promise<JobRecord>;
  /**
   * Deletes a job and, in the same step, cancels its pending runs (reason `job deleted`); running
   * runs go on and their history stays. With `expectedVersion`, only if it matches
   * (`ConflictError` otherwise). Returns the deleted record, or null when there was none.
   */
  deleteJob(app: string, key: string, expectedVersion?: number): Promise<JobRecord | null>;
  /** Jobs by key ascending, filtered, one keyset page. */
  listJobs(filter: JobFilter, page?: PageRequest): Promise<Page<JobRecord>>;

  // ---- firing --------------------------------------------------------------------------------

  /**
   * Enabled jobs of the app whose `nextFireAt` is at or before the store's now plus `horizonMs`
   * (default 0: due now), in the given partitions (all when null), earliest first, at most
   * `limit`. Reads only. A horizon lets the engine materialize fires a little ahead of their
   * time (their runs carry `dueAt` = the fire time, so none is claimable before it); it is at
   * most `STORE_LIMITS.maxFireHorizonMs`.
   */
  dueJobs(query: DueJobsQuery): Promise<JobRecord[]>;
  /**
   * For each request, in one step: if the job still exists, is enabled and its `nextFireAt`
   * equals `expectedNextFireAt`, set `nextFireAt` and `lastFireAt`, bump `version`, and insert its runs (as
   * `enqueueRuns` would: idempotency keys and block strategies apply); otherwise change nothing
   * for that job and report `fired: false`. Guarantees each fire time is materialized once.
   */
  fireJobs(app: string, fires: FireRequest[]): Promise<FireResult[]>;
  /**
   * The earliest time something may become due for this node: the smallest `nextFireAt` of the
   * enabled jobs in `partitions` (all when null) and the smallest `dueAt` of the pending runs of
   * `handlers` that this node may claim. Null when nothing is scheduled.
   */
  nextWakeAt(query: {
    app: string;
    partitions: number[] | null;
    handlers: string[];
    nodeId: string;
  }): Promise<number | null>;

  // ---- runs ----------------------------------------------------------------------------------

  /**
   * Inserts runs in one step. A draft whose idempotency key exists in its app inserts nothing
   * and returns the existing run (`created: false`). For a draft with a job key, the job's block
   * strategy (`draft.block`) applies against that job's pending and running runs: `skip` inserts
   * the draft as `skipped` when one exists; `replace` cancels the pending ones and sets
   * `cancelRequested` on the running one. Emits a `runs` event.
   */
  enqueueRuns(drafts: RunDraft[]): Promise<EnqueueResult[]>;
  /**
   * Claims up to `limit` due pending runs for the node, each to one claimer only: runs of its
   * handlers, untargeted or targeted at it, highest priority first, then earliest `dueAt`, then
   * oldest. `serial`, `skip` and `replace` runs are claimed only while no run of the same job is
   * running, and at most one per job per call. Sets them `running`, owned by the node's
   * incarnation, with a lease of `leaseMs`. Returns [] when nothing fits. Throws `FencedError`
   * (node) when the incarnation is not the node's current one or the node is offline.
   */
  claimRuns(request: ClaimRequest): Promise<RunRecord[]>;
  /**
   * Ends a run the node owns, and inserts its retry in the same step. The state becomes the
   * outcome, except `failed` without a retry, which becomes `dead`. Updates the hourly stats.
   * When the run's job has a `delay-after` schedule and no retry follows, sets the job's
   * `nextFireAt` to now + its delay. Throws `FencedError` (run) unless the run is `running` and
   * owned by this node and incarnation (for example after it was reaped as lost), and
   * `NotFoundError` when the run does not exist.
   */
  completeRun(request: CompleteRequest): Promise<CompleteResult>;
  /**
   * Ends several runs, each exactly as `completeRun` would, in as few round trips as the store
   * can (one transaction or one script). Each request stands alone: one that `completeRun` would
   * refuse comes back as `{ ok: false, error }` (`FencedError` or `NotFoundError`) in its place,
   * and the others still end. At most `STORE_LIMITS.maxBatch` requests, each run at most once.
   * Throws only for the whole batch (`StoreUnavailableError`: nothing or all of it may have been
   * applied, as with `completeRun`). Results come in request order. Emits what `completeRun`
   * emits, once per batch where the store can.
   */
  completeRuns(requests: CompleteRequest[]): Promise<CompleteRunsItem[]>;
  /**
   * Cancels a run: `pending` becomes `cancelled` at once (with `reason`); `running` gets
   * `cancelRequested` (its node aborts it and reports `cancelled`); a final run is returned
   * unchanged. Throws `NotFoundError` when it does not exist.
   */
  cancelRun(runId: string, reason: string): Promise<RunRecord>;
  /** The run, or null. */
  getRun(runId: string): Promise<RunRecord | null>;
  /**
   * Runs newest first (by id), filtered, one keyset page, stable under concurrent inserts.
   * `view: 'summary'` lets the store leave out `params`, `result` and the error's stack (see
   * `RunView`); pages and cursors are the same in both views.
   */
  listRuns(filter: RunFilter, page?: PageRequest, view?: RunView): Promise<Page<RunRecord>>;
  /** How many runs of the app are in each of the given states (meant for `pending`, `running`). */
  countRuns(app: string, states: RunState[]): Promise<Partial<Record<RunState, number>>>;

  // ---- nodes and leases ----------------------------------------------------------------------

  /**
   * Joins (or rejoins) a node: creates or replaces its record with a new, higher incarnation,
   * state `active` (or the operator's `desiredState` when one is set), heartbeat now.
   * The old incarnation's runs stay as they are until reaped.
   */
  registerNode(info: NodeInfo): Promise<NodeRecord>;
  /**
   * In one step: records the node's liveness and load, renews the leases of its reported runs
   * that it still owns, renews the leader lease when asked and still held, and reads back cancel
   * requests, runs it lost, the desired state, the partition generation and the leader lease.
   * Throws `FencedError` (node) when the incarnation is not current or the node was marked offline.
   */
  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult>;
  /**
   * A graceful leave: marks the node `leaving` then `offline` at once and releases the leader
   * lease if it holds it, so the leader rebalances without waiting for the TTL. Its running
   * runs are left to be completed (a node that left may still complete them) or reaped.
   * Ignores a stale incarnation.
   */
  leaveNode(app: string, nodeId: string, incarnation: number): Promise<void>;
  /** An operator's request (drain, pause, resume); returns the node. `NotFoundError` when unknown. */
  setNodeDesiredState(
    app: string,
    nodeId: string,
    desired: 'active' | 'draining' | 'paused',
  ): Promise<NodeRecord>;
  /**
   * Forgets a node. An online one is fenced: its next heartbeat or claim throws `FencedError`.
   * Returns false when there was none.
   */
  removeNode(app: string, nodeId: string): Promise<boolean>;
  /** The nodes of the app (every state), by node id. */
  listNodes(app: string): Promise<NodeRecord[]>;

  /**
   * Takes the leader lease when it is free or expired (epoch + 1), or renews it when this node
   * incarnation holds it and it has not expired (same epoch). An expired lease is never renewed,
   * even by its former holder: it is taken again with a new epoch. Returns the lease as it stands afterwards: compare its
   * `nodeId` to know whether this node leads. Throws `FencedError` (node) for a stale incarnation.
   */
  acquireLeadership(request: {
    app: string;
    nodeId: string;
    incarnation: number;
    ttlMs: number;
  }): Promise<LeaderLease>;
  /** The current lease, expired or not, or null when none was ever taken. */
  getLeader(app: string): Promise<LeaderLease | null>;
  /** Gives the lease up (expires it now) if this epoch holds it; otherwise does nothing. */
  resignLeadership(app: string, nodeId: string, epoch: number): Promise<void>;
  /**
   * Writes the partition map with generation + 1. Throws `FencedError` (leader) unless `epoch` is
   * the current lease's epoch and the lease has not expired.
   */
  writePartitionMap(request: {
    app: string;
    epoch: number;
    assignments: Record<string, number[]>;
  }): Promise<PartitionMap>;
  /** The map; generation 0 with no assignments before the first write. */
  getPartitionMap(app: string): Promise<PartitionMap>;
  /**
   * In one step: marks nodes silent for `nodeTtlMs` offline, marks `lost` the running runs owned
   * by offline nodes or whose lease expired, and inserts their retries (due at once, untargeted)
   * while `attempt <= retry.maxAttempts` (see `lostRunRetries`); final lost runs of `delay-after`
   * jobs re-arm the job. Throws
   * `FencedError` (leader) for a stale epoch.
   */
  reapDeadNodes(request: ReapRequest): Promise<ReapResult>;
  /**
   * Moves pending targeted runs: each move applies only if the run is still `pending` with
   * target `from`. Returns how many moved. Throws `FencedError` (leader) for a stale epoch.
   */
  retargetRuns(request: RetargetRequest): Promise<number>;

  // ---- logs, audit, stats, retention ---------------------------------------------------------

  /**
   * Appends log lines, numbered per run in order. A run keeps at most its store's line cap
   * (`STORE_LIMITS.maxLogLinesPerRun` by default): the line that reaches the cap is replaced by a
   * `warn` line saying the log was truncated, and later lines are dropped. Lines of unknown runs
   * are dropped.
   */
  appendLogs(lines: RunLogDraft[]): Promise<void>;
  /** Lines of a run with `seq` greater than `afterSeq`, in order, at most `limit`. */
  readLogs(runId: string, afterSeq: number, limit: number): Promise<RunLogLine[]>;

  /** Appends an audit entry; returns it with id and store time. */
  appendAudit(entry: AuditDraft): Promise<AuditRecord>;
  /** Audit entries newest first, filtered, one keyset page. */
  listAudit(filter: AuditFilter, page?: PageRequest): Promise<Page<AuditRecord>>;

  /**
   * Hourly buckets of final runs with `hour` in [from, to), by app and job, hour ascending.
   * Maintained by every step that ends a run, so reading them never scans run history.
   */
  getStats(query: { app?: string; jobKey?: string; from: number; to: number }): Promise<StatsBucket[]>;
  /**
   * The app's totals per hour (every job and one-off task together) for hours in [from, to),
   * hour ascending, hours without any ending left out. Each equals the sum of that hour's
   * `getStats` buckets (`maxDurationMs`: their maximum). Kept in the same step as the buckets, so a
   * dashboard reads about one row per hour however many jobs the app has.
   */
  getHourlyTotals(query: { app: string; from: number; to: number }): Promise<HourlyTotals[]>;

  /**
   * Deletes final runs (and their logs), at most `limit`, oldest first; returns how many. With both
   * `finishedBefore` and `keepLast`, only runs that match both go (old AND beyond the newest N).
   */
  prune(request: PruneRequest): Promise<number>;

  /**
   * Listens for wake-ups of an app; returns the unsubscribe function. Stores without
   * `capabilities.notifications` deliver only events of this process (or none): nodes keep a
   * slow poll as the safety net either way. A throwing listener cannot break the store.
   */
  subscribe(app: string, listener: (event: StoreEvent) => void): () => void;
}

/**
 * Upper bounds the runtime guard enforces on what reaches a store, so stores can size columns.
 * Larger input is refused with a `ValidationError` naming the field.
 */
export const STORE_LIMITS = {
  /** app names: 1..64 of `[A-Za-z0-9_.:-]`. */
  appMaxLength: 64,
  /** job keys, handler names, node ids: 1..200 printable characters. */
  keyMaxLength: 200,
  /** idempotency keys: 1..255. */
  idempotencyKeyMaxLength: 255,
  /** each tag 1..64, at most 32 tags. */
  tagMaxLength: 64,
  maxTags: 32,
  /** params and results, as JSON text. */
  maxJsonBytes: 64 * 1024,
  /** a log line's message (longer ones are cut by the engine). */
  logMessageMaxLength: 8 * 1024,
  /** log lines kept per run. */
  maxLogLinesPerRun: 1000,
  /** free-text fields (owner, description, reason, error message). */
  textMaxLength: 4 * 1024,
  /** runs per batch call. */
  maxBatch: 1000,
  /** partitions a job key hashes into. */
  partitions: 64,
  /** `dueJobs`' look-ahead, ms (the engine's `fireAhead` option is bounded by it). */
  maxFireHorizonMs: 60_000,
} as const;
