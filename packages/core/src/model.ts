/**
 * The persisted model shared by the engine and every store: jobs, runs, nodes, leases, logs,
 * audit entries and stats. All times are milliseconds since the Unix epoch, in store time
 * unless a field says otherwise. Records are plain JSON-friendly objects.
 */

/** A JSON value: what params, results and audit snapshots may hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** When a job fires. */
export type Schedule =
  /** Cron with 5 fields (minute precision) or 6 (seconds first), in an IANA time zone (default UTC). */
  | { kind: 'cron'; cron: string; tz?: string }
  /** Fixed rate: every `ms` milliseconds, aligned on the job's first fire time. */
  | { kind: 'every'; ms: number }
  /** Fixed delay: `ms` milliseconds after the previous run of the job ended. */
  | { kind: 'delay-after'; ms: number }
  /** Once, at a point in time (ms since the epoch). */
  | { kind: 'at'; at: number }
  /** Never by itself: manual or API triggers only. */
  | { kind: 'manual' };

/** The kinds of schedule. */
export type ScheduleKind = Schedule['kind'];

/** How a job's runs may overlap. */
export type BlockStrategy =
  /** Runs of the job queue up and run one at a time, anywhere in the cluster (default). */
  | 'serial'
  /** A new run while one is pending or running is recorded as `skipped`. */
  | 'skip'
  /** Runs may overlap freely. */
  | 'parallel'
  /** A new run cancels the pending ones and asks the running one to stop, then runs. */
  | 'replace';

/** What to do with fire times missed while no node was running the schedule. */
export type MisfirePolicy =
  /** Skip them all; record one `skipped` run that says how many were missed. */
  | 'skip'
  /** Fire once for the whole gap (default). */
  | 'fire-once'
  /** Fire each missed time, up to a bound; the rest are skipped. */
  | 'fire-all';

/** Delay growth between retries. */
export type BackoffKind = 'fixed' | 'linear' | 'exponential';

/** How failed attempts are retried. A retry is a new run with trigger `retry`. */
export interface RetryPolicy {
  /** Total attempts including the first; 1 means no retry. */
  maxAttempts: number;
  /** How the delay grows: fixed `delayMs`, `delayMs * n`, or `delayMs * 2^(n-1)` for retry n. */
  backoff: BackoffKind;
  /** The base delay in ms. */
  delayMs: number;
  /** The cap on any single delay, in ms. */
  maxDelayMs: number;
  /** Random spread as a fraction of the delay, 0 (none) to 1 (full jitter). */
  jitter: number;
}

/** Which node(s) a run goes to. */
export type RoutingStrategy =
  | 'any'
  | 'round-robin'
  | 'weighted'
  | 'random'
  | 'consistent-hash'
  | 'least-loaded'
  | 'failover'
  | 'broadcast'
  | 'sharded';

/** A job's routing: the strategy and, for `consistent-hash`, the key (default: the job key). */
export interface Routing {
  /** The strategy; `any` lets the first node with a free slot claim the run. */
  strategy: RoutingStrategy;
  /** Sticky key for `consistent-hash`. */
  key?: string;
}

/** Where a job definition came from. */
export type JobSource = 'code' | 'admin';

/** A persisted job definition, as the store holds it. */
export interface JobRecord {
  /** The application (group) the job belongs to; XXL-JOB's AppName. */
  app: string;
  /** Unique within the app. */
  key: string;
  /** The name of the handler that runs it. */
  handler: string;
  /** When it fires. */
  schedule: Schedule;
  /** Params passed to the handler (JSON). */
  params: JsonValue;
  /** Disabled jobs do not fire; manual triggers still work. */
  enabled: boolean;
  /** How its runs are routed to nodes. */
  routing: Routing;
  /** How its runs may overlap. */
  block: BlockStrategy;
  /** What to do with missed fire times. */
  misfire: MisfirePolicy;
  /** Retries of failed attempts. */
  retry: RetryPolicy;
  /** Per-attempt timeout in ms; null for none. */
  timeoutMs: number | null;
  /** For `sharded` routing: how many shards each fire makes. 1 otherwise. */
  shards: number;
  /** Higher runs first among due runs. */
  priority: number;
  /** Free text: who owns it. */
  owner: string | null;
  /** Where alerts go (emails, channels). */
  alertContacts: string[];
  /** Labels for search and filters. */
  tags: string[];
  /** Free text description. */
  description: string | null;
  /** `code` when declared in code and upserted at start, `admin` when made through the API. */
  source: JobSource;
  /** The schedule partition (a hash of the key), used to split firing among nodes. */
  partition: number;
  /** The next fire time, or null when none (manual, a spent `at`, or `delay-after` waiting for its run). */
  nextFireAt: number | null;
  /** The last fire time materialized, or null. */
  lastFireAt: number | null;
  /** Bumped by every change; used for compare-and-set. Starts at 1. */
  version: number;
  /** Store time of creation. */
  createdAt: number;
  /** Store time of the last change. */
  updatedAt: number;
}

/** What a store is given to write a job: the record without the store-maintained fields. */
export type JobDraft = Omit<JobRecord, 'version' | 'createdAt' | 'updatedAt'>;

/** What started a run. */
export type RunTrigger = 'schedule' | 'manual' | 'api' | 'retry' | 'dependency' | 'misfire';

/** The life of a run. */
export type RunState =
  /** Waiting to be claimed (possibly not yet due). */
  | 'pending'
  /** Claimed by a node, its handler running. */
  | 'running'
  /** Ended well. */
  | 'succeeded'
  /** Ended with an error and a retry follows. */
  | 'failed'
  /** Ended with an error and no retry is left: the dead-letter list, re-triggerable. */
  | 'dead'
  /** Ran past its timeout. */
  | 'timed_out'
  /** Cancelled before or while running. */
  | 'cancelled'
  /** Its node died or lost its lease while it ran. */
  | 'lost'
  /** Never ran: block strategy or misfire policy; `reason` says which. */
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

/** States in which a run is over. */
export const FINAL_RUN_STATES: readonly RunState[] = [
  'succeeded',
  'failed',
  'dead',
  'timed_out',
  'cancelled',
  'lost',
  'skipped',
];

/** An error recorded on a run. */
export interface RunError {
  /** The error's class name. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, when known (truncated). */
  stack?: string;
}

/** One execution attempt of a job or of an enqueued one-off task. */
export interface RunRecord {
  /** Assigned by the store; opaque; unique in the store; later inserts compare greater in listings. */
  id: string;
  /** The application. */
  app: string;
  /** The job, or null for a one-off task. */
  jobKey: string | null;
  /** The handler that runs it. */
  handler: string;
  /** Params for the handler. */
  params: JsonValue;
  /** What made it. */
  trigger: RunTrigger;
  /** The fire time it stands for (schedule) or the time it was asked for. */
  scheduledFor: number;
  /** It may not be claimed before this store time. */
  dueAt: number;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  attempt: number;
  /** Retry policy copied from the job (or the enqueue options) when the run was made. */
  retry: RetryPolicy;
  /** Per-attempt timeout in ms, or null. */
  timeoutMs: number | null;
  /** Shard index, 0-based; 0 when not sharded. */
  shardIndex: number;
  /** Shard count; 1 when not sharded. */
  shardTotal: number;
  /** Higher is claimed first. */
  priority: number;
  /** Block strategy copied from the job (`parallel` for one-off tasks unless set). */
  block: BlockStrategy;
  /** The routing strategy that chose its target. */
  routing: RoutingStrategy;
  /** Only this node may claim it; null for any eligible node. */
  targetNode: string | null;
  /** The node running or that ran it. */
  ownerNode: string | null;
  /** The owner's incarnation when it claimed the run. */
  ownerIncarnation: number | null;
  /** While running: the store time after which the run counts as lost unless renewed. */
  leaseExpiresAt: number | null;
  /** Where it is in its life. */
  state: RunState;
  /** Why it was skipped, cancelled or lost; null otherwise. */
  reason: string | null;
  /** A cancel was asked while it ran; its node aborts the handler. */
  cancelRequested: boolean;
  /** Handler-reported progress, 0..100, or null. */
  progress: number | null;
  /** Store time it was made. */
  createdAt: number;
  /** Store time it was claimed. */
  startedAt: number | null;
  /** Store time it ended. */
  finishedAt: number | null;
  /** Wall time of the attempt, ms. */
  durationMs: number | null;
  /** What the handler returned (JSON). */
  result: JsonValue;
  /** Why it failed. */
  error: RunError | null;
  /** Unique per app when set; enqueueing the same key again returns this run. */
  idempotencyKey: string | null;
  /** The run this one retries or follows. */
  parentRunId: string | null;
}

/** What the engine gives a store to insert a run. The store fills id, owner, lease and times. */
export interface RunDraft {
  app: string;
  jobKey: string | null;
  handler: string;
  params: JsonValue;
  trigger: RunTrigger;
  /** The fire time; for one-off tasks the time asked for. */
  scheduledFor: number;
  /**
   * When it becomes claimable. Either absolute store time (`dueAt`) or relative to the store's
   * clock at insert (`delayMs`); with neither, it is due at once.
   */
  dueAt?: number;
  /** Milliseconds after the store's now at insert; wins over `dueAt` when both are given. */
  delayMs?: number;
  attempt: number;
  retry: RetryPolicy;
  timeoutMs: number | null;
  shardIndex: number;
  shardTotal: number;
  priority: number;
  block: BlockStrategy;
  routing: RoutingStrategy;
  targetNode: string | null;
  idempotencyKey: string | null;
  parentRunId: string | null;
  /** Insert already final as `skipped` (misfire policy); default `pending`. */
  state?: 'pending' | 'skipped';
  /** Why, for a `skipped` insert. */
  reason?: string | null;
}

/** The lifecycle states of a node. */
export type NodeState = 'active' | 'draining' | 'paused' | 'leaving' | 'offline';

/** What a node says about itself when it joins and with each heartbeat. */
export interface NodeInfo {
  /** Unique within the app and stable across restarts if the user sets it; else generated. */
  nodeId: string;
  app: string;
  host: string;
  pid: number;
  /** The Oasis version the node runs. */
  version: string;
  /** The handler names it can run. */
  handlers: string[];
  /** Relative capacity for weighted routing and partition assignment (default 1). */
  weight: number;
  /** How many runs it may run at once. */
  concurrency: number;
}

/** A node as the store holds it. */
export interface NodeRecord extends NodeInfo {
  /** Bumped each time the node (re)joins; writes from an older incarnation are fenced. */
  incarnation: number;
  state: NodeState;
  /** The state an operator asked for (drain, pause, resume), applied by the node at its next heartbeat. */
  desiredState: 'active' | 'draining' | 'paused' | null;
  /** How many runs it reported running at its last heartbeat. */
  running: number;
  /** Store time of its join. */
  joinedAt: number;
  /** Store time of its last heartbeat. */
  lastHeartbeatAt: number;
}

/** The leader lease. */
export interface LeaderLease {
  /** The holder. */
  nodeId: string;
  /** The holder's incarnation. */
  incarnation: number;
  /** Rises by one with each new holder; writes with an older epoch are fenced. */
  epoch: number;
  /** Store time after which another node may take it. */
  expiresAt: number;
}

/** Which node evaluates which schedule partitions. */
export interface PartitionMap {
  /** Rises with each write; 0 before the first. */
  generation: number;
  /** The leader epoch that wrote it. */
  epoch: number;
  /** nodeId to the partitions it owns. */
  assignments: Record<string, number[]>;
}

/** Log levels of run log lines. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A log line to append to a run's log. */
export interface RunLogDraft {
  runId: string;
  level: LogLevel;
  message: string;
  /** Structured fields (JSON object) or null. */
  fields: JsonObject | null;
  /** Node time the line was written. */
  ts: number;
}

/** A stored run log line. */
export interface RunLogLine extends RunLogDraft {
  /** 1, 2, 3… per run, in append order. */
  seq: number;
}

/** An audit entry to append: who changed what, with the before and after. */
export interface AuditDraft {
  app: string;
  /** Who did it (a user name or `system`). */
  actor: string;
  /** What was done, e.g. `job.update`, `run.cancel`, `node.drain`. */
  action: string;
  /** The kind of thing changed. */
  targetType: 'job' | 'run' | 'node' | 'app';
  /** Its id or key. */
  targetId: string;
  before: JsonValue;
  after: JsonValue;
}

/** A stored audit entry. */
export interface AuditRecord extends AuditDraft {
  /** Assigned by the store; later entries compare greater in listings. */
  id: string;
  /** Store time. */
  at: number;
}

/** Run outcomes counted per hour. */
export interface StatsBucket {
  app: string;
  /** The job, or null for one-off tasks. */
  jobKey: string | null;
  /** Start of the hour, store time (UTC). */
  hour: number;
  succeeded: number;
  failed: number;
  dead: number;
  timedOut: number;
  cancelled: number;
  lost: number;
  skipped: number;
  /** Sum of durations of the runs counted, ms. */
  totalDurationMs: number;
  /** Largest duration counted, ms. */
  maxDurationMs: number;
}

/** One page of a keyset listing. */
export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; null on the last page. */
  nextCursor: string | null;
}

/** Paging options of every listing. */
export interface PageRequest {
  /** Items per page, 1..1000 (default 50). */
  limit?: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string | null;
}

/** Filters of `listJobs`. */
export interface JobFilter {
  app?: string;
  /** Substring of the key, handler or description (case-insensitive). */
  search?: string;
  enabled?: boolean;
  tag?: string;
  handler?: string;
  source?: JobSource;
}

/** Filters of `listRuns`. Times filter `createdAt`; `from` inclusive, `to` exclusive. */
export interface RunFilter {
  app?: string;
  jobKey?: string;
  handler?: string;
  /** Owner node. */
  nodeId?: string;
  states?: RunState[];
  trigger?: RunTrigger;
  from?: number;
  to?: number;
  /** Only runs whose parent is this run. */
  parentRunId?: string;
}

/**
 * How whole the runs of a `listRuns` page are. `'full'` (the default): every field. `'summary'`:
 * what lists show. The store may then leave out what can be large, `params` and `result` (read
 * as `null`) and the error's `stack`, and read less to answer; every other field is whole. A
 * hint: a store may answer whole records to it.
 */
export type RunView = 'full' | 'summary';

/** Every `RunView`, for validation. */
export const RUN_VIEWS: readonly RunView[] = ['full', 'summary'];

/** Filters of `listAudit`. */
export interface AuditFilter {
  app?: string;
  actor?: string;
  targetType?: AuditDraft['targetType'];
  targetId?: string;
  from?: number;
  to?: number;
}
