import { type Clock, SystemClock } from '../clock';
import { ConflictError, FencedError, NotFoundError } from '../errors';
import {
  type AuditDraft,
  type AuditFilter,
  type AuditRecord,
  FINAL_RUN_STATES,
  type JobDraft,
  type JobFilter,
  type JobRecord,
  type JsonValue,
  type LeaderLease,
  type NodeInfo,
  type NodeRecord,
  type Page,
  type PageRequest,
  type PartitionMap,
  type RunDraft,
  type RunFilter,
  type RunLogDraft,
  type RunLogLine,
  type RunRecord,
  type RunState,
  type RunView,
  type StatsBucket,
} from '../model';
import { BinaryHeap, type HeapEntry, walkHeaps } from './binary-heap';
import {
  type ClaimRequest,
  type CompleteRequest,
  type CompleteResult,
  type CompleteRunsItem,
  type DueJobsQuery,
  type EnqueueResult,
  type FireRequest,
  type FireResult,
  type HeartbeatRequest,
  type HeartbeatResult,
  type HourlyTotals,
  type PruneRequest,
  type ReapRequest,
  type ReapResult,
  type RetargetRequest,
  STORE_LIMITS,
  type Store,
  type StoreCapabilities,
  type StoreEvent,
} from './store';
import {
  addStatsCounts,
  completeEach,
  decodeCursor,
  emptyStatsBucket,
  encodeCursor,
  lostRunRetries,
  rerunDraft,
} from './store-helpers';

/** Options of `MemoryStore`. */
export interface MemoryStoreOptions {
  /** The store's clock (default `SystemClock`); tests pass a `TestClock`. */
  clock?: Clock;
  /** Log lines kept per run (default `STORE_LIMITS.maxLogLinesPerRun`). */
  maxLogLinesPerRun?: number;
}

const DEFAULT_PAGE = 50;
const FINAL = new Set<RunState>(FINAL_RUN_STATES);
const ID_WIDTH = 15;

/** `app` + `key` as one map key; app names cannot hold a NUL, keys hold no control characters. */
function k(app: string, key: string): string {
  return `${app}\u0000${key}`;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * A deep copy of a JSON value (objects, arrays, primitives): what the store keeps and hands out
 * is JSON by contract (the runtime guard checks it), and this is several times cheaper than
 * `structuredClone` for the small values of the hot paths.
 */
function copyJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyJson) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = copyJson((value as Record<string, unknown>)[key]);
  return out as T;
}

/** A copy of a stored job, for handing out. */
function copyJob(j: JobRecord): JobRecord {
  return {
    app: j.app,
    key: j.key,
    handler: j.handler,
    schedule: copyJson(j.schedule),
    params: copyJson(j.params),
    enabled: j.enabled,
    routing: copyJson(j.routing),
    block: j.block,
    misfire: j.misfire,
    retry: copyJson(j.retry),
    timeoutMs: j.timeoutMs,
    shards: j.shards,
    priority: j.priority,
    owner: j.owner,
    alertContacts: [...j.alertContacts],
    tags: [...j.tags],
    description: j.description,
    source: j.source,
    partition: j.partition,
    nextFireAt: j.nextFireAt,
    lastFireAt: j.lastFireAt,
    version: j.version,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
  };
}

/** A copy of a stored run, for handing out. */
function copyRun(r: RunRecord): RunRecord {
  return {
    ...r,
    params: copyJson(r.params),
    retry: { ...r.retry },
    result: copyJson(r.result),
    error: copyJson(r.error),
  };
}

/** An audit entry as kept: its before/after snapshots as JSON text (a fraction of the objects' size). */
type StoredAudit = Omit<AuditRecord, 'before' | 'after'> & { before: string; after: string };

/** Due jobs by (next fire, key). */
interface DueEntry {
  at: number;
  key: string;
}

function dueOrder(a: DueEntry, b: DueEntry): number {
  return a.at - b.at || cmp(a.key, b.key);
}

/** Pending runs not yet due, by due time. */
function waitingOrder(a: RunRecord, b: RunRecord): number {
  return a.dueAt - b.dueAt || cmp(a.id, b.id);
}

/** Due pending runs in claim order: priority, then due time, then age. */
function claimOrder(a: RunRecord, b: RunRecord): number {
  return b.priority - a.priority || a.dueAt - b.dueAt || cmp(a.id, b.id);
}

/** The pending runs of one app, handler and target node (or none). */
interface RunQueue {
  /** Not yet due at the last look, by due time. */
  waiting: BinaryHeap<RunRecord>;
  /** Due, in claim order. */
  ready: BinaryHeap<RunRecord>;
}

/** Where an indexed value sits, so that it can be killed when it changes. */
interface Slot<T> {
  heap: BinaryHeap<T>;
  entry: HeapEntry<T>;
}

function formatId(n: number): string {
  return String(n).padStart(ID_WIDTH, '0');
}

function pageLimit(page?: PageRequest): number {
  return page?.limit ?? DEFAULT_PAGE;
}

const STAT_FIELD: Partial<Record<RunState, keyof StatsBucket>> = {
  succeeded: 'succeeded',
  failed: 'failed',
  dead: 'dead',
  timed_out: 'timedOut',
  cancelled: 'cancelled',
  lost: 'lost',
  skipped: 'skipped',
};

/**
 * The in-memory store: one process, no persistence. For tests, demos and single-process apps.
 * Every method does all of its work synchronously before it yields, so each is atomic; records
 * handed out are copies, never the store's own objects. Time is `clock.now()`.
 *
 * @example
 * const store = new MemoryStore({ clock: new TestClock() });
 */
export class MemoryStore implements Store {
  /** Always `memory`. */
  readonly name = 'memory';
  /** One process only; in-process wake-ups; no row locks to skip. */
  readonly capabilities: StoreCapabilities = { crossProcess: false, notifications: true, skipLocked: false };

  readonly #clock: Clock;
  readonly #maxLogLines: number;
  #runSeq = 0;
  #auditSeq = 0;
  readonly #jobs = new Map<string, JobRecord>();
  /**
   * Enabled jobs with a next fire time, per app and partition, by (nextFireAt, key): dueJobs and
   * nextWakeAt read the tops instead of every job. A job's entry is replaced whenever its next
   * fire time, `enabled` or partition changes (`#indexJob`).
   */
  readonly #dueIndex = new Map<string, Map<number, BinaryHeap<DueEntry>>>();
  /** app + key -> the job's entry in `#dueIndex`. */
  readonly #dueSlots = new Map<string, Slot<DueEntry>>();
  /** Runs by id, in insertion (= id) order. */
  readonly #runs = new Map<string, RunRecord>();
  /** app -> ids of runs not yet final (pending or running), for the hot paths. */
  readonly #active = new Map<string, Set<string>>();
  /** app + job key -> ids of that job's runs not yet final, in insertion order. */
  readonly #activeByJob = new Map<string, Set<string>>();
  /** app + job key -> how many of that job's runs are running (serial jobs wait for 0). */
  readonly #runningByJob = new Map<string, number>();
  /** app -> handler + target -> pending runs (see `RunQueue`). */
  readonly #queues = new Map<string, Map<string, RunQueue>>();
  /** run id -> its entry in `#queues`, while pending. */
  readonly #queued = new Map<string, Slot<RunRecord>>();
  readonly #idempotency = new Map<string, string>();
  readonly #nodes = new Map<string, NodeRecord>();
  /** The highest incarnation ever given to a node id; survives `removeNode`. */
  readonly #incarnations = new Map<string, number>();
  readonly #leases = new Map<string, LeaderLease>();
  readonly #maps = new Map<string, PartitionMap>();
  /** Per app: bumped by every membership change (see `HeartbeatResult.membershipVersion`). */
  readonly #membership = new Map<string, number>();
  readonly #logs = new Map<string, RunLogLine[]>();
  readonly #audit: StoredAudit[] = [];
  readonly #stats = new Map<string, StatsBucket>();
  readonly #listeners = new Map<string, Set<(event: StoreEvent) => void>>();

  /** Creates an empty store. */
  constructor(options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? new SystemClock();
    this.#maxLogLines = options.maxLogLinesPerRun ?? STORE_LIMITS.maxLogLinesPerRun;
  }

  /** Nothing to connect. */
  async init(): Promise<void> {}

  /** Drops the subscribers; the data stays readable for the process's life. */
  async close(): Promise<void> {
    this.#listeners.clear();
  }

  /** The clock's now. */
  async now(): Promise<number> {
    return this.#clock.now();
  }

  // ---- jobs ----------------------------------------------------------------------------------

  /** The job, or null. */
  async getJob(app: string, key: string): Promise<JobRecord | null> {
    const job = this.#jobs.get(k(app, key));
    return job ? copyJob(job) : null;
  }

  /** Writes a job with compare-and-set on its version; see `Store.saveJob`. */
  async saveJob(draft: JobDraft, expectedVersion: number | null | 'any'): Promise<JobRecord> {
    const now = this.#clock.now();
    const id = k(draft.app, draft.key);
    const existing = this.#jobs.get(id);
    if (expectedVersion === null && existing) {
      throw new ConflictError(
        `job '${draft.key}' already exists in app '${draft.app}' (version ${existing.version}): update it with its version instead`,
      );
    }
    if (typeof expectedVersion === 'number') {
      if (!existing) {
        throw new ConflictError(
          `job '${draft.key}' of app '${draft.app}' does not exist, so version ${expectedVersion} cannot match: create it with expectedVersion null`,
        );
      }
      if (existing.version !== expectedVersion) {
        throw new ConflictError(
          `job '${draft.key}' of app '${draft.app}' is at version ${existing.version}, not ${expectedVersion}: re-read it and try again`,
        );
      }
    }
    const record = storedJob(
      draft,
      existing ? existing.version + 1 : 1,
      existing ? existing.createdAt : now,
      now,
    );
    this.#jobs.set(id, record);
    this.#indexJob(id, record);
    this.#emit({ type: 'jobs', app: draft.app });
    return copyJob(record);
  }

  /** Deletes a job and cancels its pending runs; see `Store.deleteJob`. */
  async deleteJob(app: string, key: string, expectedVersion?: number): Promise<JobRecord | null> {
    const id = k(app, key);
    const job = this.#jobs.get(id);
    if (!job) return null;
    if (expectedVersion !== undefined && job.version !== expectedVersion) {
      throw new ConflictError(
        `job '${key}' of app '${app}' is at version ${job.version}, not ${expectedVersion}: re-read it and try again`,
      );
    }
    const now = this.#clock.now();
    this.#jobs.delete(id);
    this.#indexJob(id, null);
    for (const run of this.#jobRuns(app, key)) {
      if (run.state === 'pending') this.#finish(run, 'cancelled', now, 'job deleted');
    }
    this.#emit({ type: 'jobs', app });
    return copyJob(job);
  }

  /** Jobs by key ascending (then app), filtered, one keyset page. */
  async listJobs(filter: JobFilter, page?: PageRequest): Promise<Page<JobRecord>> {
    const limit = pageLimit(page);
    const after = page?.cursor ? decodeCursor(page.cursor, 2) : null;
    const search = filter.search?.toLowerCase();
    const matches = [...this.#jobs.values()].filter(
      (j) =>
        (filter.app === undefined || j.app === filter.app) &&
        (filter.enabled === undefined || j.enabled === filter.enabled) &&
        (filter.tag === undefined || j.tags.includes(filter.tag)) &&
        (filter.handler === undefined || j.handler === filter.handler) &&
        (filter.source === undefined || j.source === filter.source) &&
        (search === undefined ||
          j.key.toLowerCase().includes(search) ||
          j.handler.toLowerCase().includes(search) ||
          (j.description ?? '').toLowerCase().includes(search)) &&
        (after === null || compareJobKey(j, after[0]!, after[1]!) > 0),
    );
    matches.sort((a, b) => compareJobKey(a, b.key, b.app));
    const items = matches.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(copyJob),
      nextCursor: matches.length > limit && last ? encodeCursor([last.key, last.app]) : null,
    };
  }

  // ---- firing --------------------------------------------------------------------------------

  /** Enabled jobs due by store now + `horizonMs`, earliest first; see `Store.dueJobs`. */
  async dueJobs(query: DueJobsQuery): Promise<JobRecord[]> {
    const until = this.#clock.now() + (query.horizonMs ?? 0);
    const due: JobRecord[] = [];
    if (query.limit <= 0) return due;
    walkHeaps(
      this.#dueHeaps(query.app, query.partitions),
      dueOrder,
      (e) => e.at <= until,
      (e) => {
        due.push(copyJob(this.#jobs.get(k(query.app, e.key))!));
        return due.length < query.limit;
      },
    );
    return due;
  }

  /** Compare-and-set fires with their runs; see `Store.fireJobs`. */
  async fireJobs(app: string, fires: FireRequest[]): Promise<FireResult[]> {
    const now = this.#clock.now();
    const results: FireResult[] = [];
    let inserted = false;
    for (const fire of fires) {
      const job = this.#jobs.get(k(app, fire.jobKey));
      if (!job?.enabled || job.nextFireAt !== fire.expectedNextFireAt) {
        results.push({ jobKey: fire.jobKey, fired: false, runs: [] });
        continue;
      }
      job.nextFireAt = fire.nextFireAt;
      job.lastFireAt = fire.lastFireAt;
      job.version += 1;
      job.updatedAt = now;
      this.#indexJob(k(app, fire.jobKey), job);
      const runs: RunRecord[] = [];
      for (const draft of fire.runs) {
        const { run, created } = this.#insert(draft, now);
        if (created) {
          runs.push(copyRun(run));
          inserted = true;
        }
      }
      results.push({ jobKey: fire.jobKey, fired: true, runs });
    }
    if (inserted) this.#emit({ type: 'runs', app });
    return results;
  }

  /** The earliest next fire or due time this node cares about; see `Store.nextWakeAt`. */
  async nextWakeAt(query: {
    app: string;
    partitions: number[] | null;
    handlers: string[];
    nodeId: string;
  }): Promise<number | null> {
    let best: number | null = null;
    for (const heap of this.#dueHeaps(query.app, query.partitions)) {
      const top = heap.peek();
      if (top !== undefined && (best === null || top.at < best)) best = top.at;
    }
    for (const queue of this.#runQueues(query.app, query.handlers, query.nodeId)) {
      const next = queue.waiting.peek();
      if (next !== undefined && (best === null || next.dueAt < best)) best = next.dueAt;
      // Due runs left unclaimed (blocked serial jobs, or no free slot): few, so a scan.
      if (queue.ready.size === 0) continue;
      for (const r of queue.ready.values()) if (best === null || r.dueAt < best) best = r.dueAt;
    }
    return best;
  }

  // ---- runs ----------------------------------------------------------------------------------

  /** Inserts runs with idempotency keys and block strategies; see `Store.enqueueRuns`. */
  async enqueueRuns(drafts: RunDraft[]): Promise<EnqueueResult[]> {
    const now = this.#clock.now();
    const results: EnqueueResult[] = [];
    const apps = new Set<string>();
    for (const draft of drafts) {
      const { run, created } = this.#insert(draft, now);
      if (created) apps.add(draft.app);
      results.push({ run: copyRun(run), created });
    }
    for (const app of apps) this.#emit({ type: 'runs', app });
    return results;
  }

  /** Claims due runs for a node; see `Store.claimRuns`. */
  async claimRuns(request: ClaimRequest): Promise<RunRecord[]> {
    const now = this.#clock.now();
    this.#requireNode(request.app, request.nodeId, request.incarnation, 'claim runs');
    if (request.limit <= 0) return [];
    const ready: BinaryHeap<RunRecord>[] = [];
    for (const queue of this.#runQueues(request.app, request.handlers, request.nodeId)) {
      this.#promote(queue, now);
      if (queue.ready.size > 0) ready.push(queue.ready);
    }
    // Jobs that have a run claimed in this call; with those running, serial ones wait.
    const busyJobs = new Set<string>();
    const picked: RunRecord[] = [];
    walkHeaps(
      ready,
      claimOrder,
      () => true,
      (r) => {
        if (r.jobKey !== null) {
          if (
            r.block !== 'parallel' &&
            (busyJobs.has(r.jobKey) || (this.#runningByJob.get(k(r.app, r.jobKey)) ?? 0) > 0)
          ) {
            return true;
          }
          busyJobs.add(r.jobKey);
        }
        picked.push(r);
        return picked.length < request.limit;
      },
    );
    const claimed: RunRecord[] = [];
    for (const r of picked) {
      this.#unqueue(r);
      if (r.jobKey !== null) {
        const jk = k(r.app, r.jobKey);
        this.#runningByJob.set(jk, (this.#runningByJob.get(jk) ?? 0) + 1);
      }
      r.state = 'running';
      r.ownerNode = request.nodeId;
      r.ownerIncarnation = request.incarnation;
      r.leaseExpiresAt = now + request.leaseMs;
      r.startedAt = now;
      claimed.push(copyRun(r));
    }
    return claimed;
  }

  /** Ends a run its node owns and inserts its retry; see `Store.completeRun`. */
  async completeRun(request: CompleteRequest): Promise<CompleteResult> {
    const now = this.#clock.now();
    const run = this.#runs.get(request.runId);
    if (!run) throw new NotFoundError('run', request.runId);
    const node = this.#nodes.get(k(run.app, request.nodeId));
    if (
      run.state !== 'running' ||
      run.ownerNode !== request.nodeId ||
      run.ownerIncarnation !== request.incarnation ||
      !node ||
      node.incarnation !== request.incarnation
    ) {
      throw new FencedError(
        'run',
        `run '${run.id}' is ${run.state} and owned by ${run.ownerNode ?? 'no node'} (incarnation ${run.ownerIncarnation ?? '-'}), not by '${request.nodeId}' incarnation ${request.incarnation}: abort its handler and drop the result`,
      );
    }
    const retrying = request.retry != null;
    const state: RunState = request.outcome === 'failed' && !retrying ? 'dead' : request.outcome;
    run.result = request.result === undefined ? null : copyJson(request.result);
    run.error = request.error ? copyJson(request.error) : null;
    run.durationMs = request.durationMs;
    // End the run before inserting its retry, so the retry's block strategy does not see it active.
    this.#finish(run, state, now, run.reason, retrying);
    const retry = request.retry ? this.#insert(request.retry, now).run : null;
    this.#emit({ type: 'runs', app: run.app });
    return { run: copyRun(run), retry: retry ? copyRun(retry) : null };
  }

  /** Ends several runs, each as `completeRun` would; see `Store.completeRuns`. */
  async completeRuns(requests: CompleteRequest[]): Promise<CompleteRunsItem[]> {
    return completeEach((r) => this.completeRun(r), requests);
  }

  /** Cancels a pending run or asks a running one to stop; see `Store.cancelRun`. */
  async cancelRun(runId: string, reason: string): Promise<RunRecord> {
    const now = this.#clock.now();
    const run = this.#runs.get(runId);
    if (!run) throw new NotFoundError('run', runId);
    if (run.state === 'pending') {
      this.#finish(run, 'cancelled', now, reason);
      this.#emit({ type: 'runs', app: run.app });
    } else if (run.state === 'running') {
      run.cancelRequested = true;
      run.reason = reason;
    }
    return copyRun(run);
  }

  /** The run, or null. */
  async getRun(runId: string): Promise<RunRecord | null> {
    const run = this.#runs.get(runId);
    return run ? copyRun(run) : null;
  }

  /** Runs newest first by id, filtered, one keyset page; always whole records (the view is a hint). */
  async listRuns(filter: RunFilter, page?: PageRequest, _view?: RunView): Promise<Page<RunRecord>> {
    const limit = pageLimit(page);
    const before = page?.cursor ? decodeCursor(page.cursor, 1)[0]! : null;
    const states = filter.states ? new Set(filter.states) : null;
    const items: RunRecord[] = [];
    let more = false;
    const all = [...this.#runs.values()];
    for (let i = all.length - 1; i >= 0; i--) {
      const r = all[i]!;
      if (before !== null && r.id >= before) continue;
      if (
        (filter.app !== undefined && r.app !== filter.app) ||
        (filter.jobKey !== undefined && r.jobKey !== filter.jobKey) ||
        (filter.handler !== undefined && r.handler !== filter.handler) ||
        (filter.nodeId !== undefined && r.ownerNode !== filter.nodeId) ||
        (states !== null && !states.has(r.state)) ||
        (filter.trigger !== undefined && r.trigger !== filter.trigger) ||
        (filter.from !== undefined && r.createdAt < filter.from) ||
        (filter.to !== undefined && r.createdAt >= filter.to) ||
        (filter.parentRunId !== undefined && r.parentRunId !== filter.parentRunId)
      ) {
        continue;
      }
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(copyRun(r));
    }
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor([last.id]) : null };
  }

  /** Counts of the app's runs in each asked state (0 included). */
  async countRuns(app: string, states: RunState[]): Promise<Partial<Record<RunState, number>>> {
    const counts: Partial<Record<RunState, number>> = {};
    for (const s of states) counts[s] = 0;
    const wanted = new Set(states);
    const onlyActive = states.every((s) => !FINAL.has(s));
    const source = onlyActive ? this.#activeRuns(app) : this.#runs.values();
    for (const r of source) {
      if (r.app === app && wanted.has(r.state)) counts[r.state] = (counts[r.state] ?? 0) + 1;
    }
    return counts;
  }

  // ---- nodes and leases ----------------------------------------------------------------------

  /** Joins a node with a new, higher incarnation; see `Store.registerNode`. */
  async registerNode(info: NodeInfo): Promise<NodeRecord> {
    const now = this.#clock.now();
    const id = k(info.app, info.nodeId);
    const previous = this.#nodes.get(id);
    const incarnation = (this.#incarnations.get(id) ?? 0) + 1;
    this.#incarnations.set(id, incarnation);
    const desiredState = previous?.desiredState ?? null;
    const record: NodeRecord = {
      nodeId: info.nodeId,
      app: info.app,
      host: info.host,
      pid: info.pid,
      version: info.version,
      handlers: [...info.handlers],
      weight: info.weight,
      concurrency: info.concurrency,
      incarnation,
      state: desiredState ?? 'active',
      desiredState,
      running: 0,
      joinedAt: now,
      lastHeartbeatAt: now,
    };
    this.#nodes.set(id, record);
    this.#bumpMembership(info.app);
    return clone(record);
  }

  /** Liveness, run leases, leader renewal and read-backs in one step; see `Store.heartbeat`. */
  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
    const now = this.#clock.now();
    const node = this.#requireNode(request.app, request.nodeId, request.incarnation, 'heartbeat');
    node.state = request.state;
    node.running = request.running;
    node.lastHeartbeatAt = now;
    const cancelRunIds: string[] = [];
    const lostRunIds: string[] = [];
    for (const reported of request.runs) {
      const run = this.#runs.get(reported.runId);
      if (
        !run ||
        run.app !== request.app ||
        run.state !== 'running' ||
        run.ownerNode !== request.nodeId ||
        run.ownerIncarnation !== request.incarnation
      ) {
        lostRunIds.push(reported.runId);
        continue;
      }
      run.leaseExpiresAt = now + request.runLeaseMs;
      if (reported.progress !== undefined) run.progress = reported.progress;
      if (run.cancelRequested) cancelRunIds.push(run.id);
    }
    const lease = this.#leases.get(request.app) ?? null;
    if (
      request.leader &&
      lease &&
      lease.epoch === request.leader.epoch &&
      lease.nodeId === request.nodeId &&
      lease.incarnation === request.incarnation &&
      lease.expiresAt > now
    ) {
      lease.expiresAt = now + request.leader.ttlMs;
    }
    return {
      now,
      cancelRunIds,
      lostRunIds,
      desiredState: node.desiredState,
      partitionGeneration: this.#maps.get(request.app)?.generation ?? 0,
      membershipVersion: this.#membership.get(request.app) ?? 0,
      leader: lease ? clone(lease) : null,
    };
  }

  /** Marks the node offline and releases its leader lease; see `Store.leaveNode`. */
  async leaveNode(app: string, nodeId: string, incarnation: number): Promise<void> {
    const now = this.#clock.now();
    const node = this.#nodes.get(k(app, nodeId));
    if (!node || node.incarnation !== incarnation) return;
    node.state = 'offline';
    this.#bumpMembership(app);
    const lease = this.#leases.get(app);
    if (lease && lease.nodeId === nodeId && lease.incarnation === incarnation && lease.expiresAt > now) {
      lease.expiresAt = now;
    }
  }

  /** Records an operator's drain, pause or resume; see `Store.setNodeDesiredState`. */
  async setNodeDesiredState(
    app: string,
    nodeId: string,
    desired: 'active' | 'draining' | 'paused',
  ): Promise<NodeRecord> {
    const node = this.#nodes.get(k(app, nodeId));
    if (!node) throw new NotFoundError('node', nodeId);
    node.desiredState = desired;
    this.#bumpMembership(app);
    return clone(node);
  }

  /** Forgets a node, fencing it, and expires its leader lease; see `Store.removeNode`. */
  async removeNode(app: string, nodeId: string): Promise<boolean> {
    const now = this.#clock.now();
    const id = k(app, nodeId);
    const node = this.#nodes.get(id);
    if (!node) return false;
    this.#nodes.delete(id);
    this.#bumpMembership(app);
    const lease = this.#leases.get(app);
    if (lease && lease.nodeId === nodeId && lease.expiresAt > now) lease.expiresAt = now;
    return true;
  }

  #bumpMembership(app: string): void {
    this.#membership.set(app, (this.#membership.get(app) ?? 0) + 1);
  }

  /** The app's nodes by id. */
  async listNodes(app: string): Promise<NodeRecord[]> {
    const nodes = [...this.#nodes.values()].filter((n) => n.app === app);
    nodes.sort((a, b) => cmp(a.nodeId, b.nodeId));
    return nodes.map(clone);
  }

  /** Takes or renews the leader lease; see `Store.acquireLeadership`. */
  async acquireLeadership(request: {
    app: string;
    nodeId: string;
    incarnation: number;
    ttlMs: number;
  }): Promise<LeaderLease> {
    const now = this.#clock.now();
    this.#requireNode(request.app, request.nodeId, request.incarnation, 'acquire leadership');
    const lease = this.#leases.get(request.app);
    if (lease && lease.expiresAt > now) {
      if (lease.nodeId === request.nodeId && lease.incarnation === request.incarnation) {
        lease.expiresAt = now + request.ttlMs;
      }
      return clone(lease);
    }
    const next: LeaderLease = {
      nodeId: request.nodeId,
      incarnation: request.incarnation,
      epoch: (lease?.epoch ?? 0) + 1,
      expiresAt: now + request.ttlMs,
    };
    this.#leases.set(request.app, next);
    return clone(next);
  }

  /** The lease, expired or not, or null. */
  async getLeader(app: string): Promise<LeaderLease | null> {
    const lease = this.#leases.get(app);
    return lease ? clone(lease) : null;
  }

  /** Expires the lease now if this node holds this epoch. */
  async resignLeadership(app: string, nodeId: string, epoch: number): Promise<void> {
    const now = this.#clock.now();
    const lease = this.#leases.get(app);
    if (lease && lease.nodeId === nodeId && lease.epoch === epoch && lease.expiresAt > now) {
      lease.expiresAt = now;
    }
  }

  /** Writes the partition map under the leader's epoch; see `Store.writePartitionMap`. */
  async writePartitionMap(request: {
    app: string;
    epoch: number;
    assignments: Record<string, number[]>;
  }): Promise<PartitionMap> {
    this.#requireLeader(request.app, request.epoch, 'write the partition map');
    const map: PartitionMap = {
      generation: (this.#maps.get(request.app)?.generation ?? 0) + 1,
      epoch: request.epoch,
      assignments: clone(request.assignments),
    };
    this.#maps.set(request.app, map);
    return clone(map);
  }

  /** The map, or generation 0 with no assignments. */
  async getPartitionMap(app: string): Promise<PartitionMap> {
    const map = this.#maps.get(app);
    return map ? clone(map) : { generation: 0, epoch: 0, assignments: {} };
  }

  /** Marks silent nodes offline and their runs lost, with retries; see `Store.reapDeadNodes`. */
  async reapDeadNodes(request: ReapRequest): Promise<ReapResult> {
    const now = this.#clock.now();
    this.#requireLeader(request.app, request.epoch, 'reap dead nodes');
    const offlineNodes: string[] = [];
    for (const node of this.#nodes.values()) {
      if (node.app !== request.app || node.state === 'offline') continue;
      if (now - node.lastHeartbeatAt > request.nodeTtlMs) {
        node.state = 'offline';
        this.#bumpMembership(request.app);
        offlineNodes.push(node.nodeId);
      }
    }
    offlineNodes.sort(cmp);
    const limit = request.limit ?? 1000;
    const lost: RunRecord[] = [];
    const retries: RunRecord[] = [];
    const running = this.#activeRuns(request.app).filter((r) => r.state === 'running');
    running.sort((a, b) => cmp(a.id, b.id));
    for (const run of running) {
      if (lost.length >= limit) break;
      const owner = this.#nodes.get(k(run.app, run.ownerNode ?? ''));
      let reason: string | null = null;
      if (!owner) reason = `node '${run.ownerNode}' was removed`;
      else if (owner.incarnation !== run.ownerIncarnation) reason = `node '${run.ownerNode}' restarted`;
      else if (owner.state === 'offline') reason = `node '${run.ownerNode}' went offline`;
      else if (run.leaseExpiresAt === null || run.leaseExpiresAt <= now) reason = 'run lease expired';
      if (reason === null) continue;
      const retrying = lostRunRetries(run);
      // End the run before inserting its retry, so the retry's block strategy does not see it active.
      this.#finish(run, 'lost', now, reason, retrying);
      lost.push(copyRun(run));
      if (retrying) {
        const retry = this.#insert(
          rerunDraft(run, {
            trigger: 'retry',
            scheduledFor: run.scheduledFor,
            attempt: run.attempt + 1,
            idempotencyKey: null,
          }),
          now,
        ).run;
        retries.push(copyRun(retry));
      }
    }
    if (lost.length > 0) this.#emit({ type: 'runs', app: request.app });
    return { offlineNodes, lost, retries };
  }

  /** Moves pending targeted runs; see `Store.retargetRuns`. */
  async retargetRuns(request: RetargetRequest): Promise<number> {
    this.#requireLeader(request.app, request.epoch, 'retarget runs');
    let moved = 0;
    for (const move of request.moves) {
      const run = this.#runs.get(move.runId);
      if (!run || run.app !== request.app || run.state !== 'pending' || run.targetNode !== move.from)
        continue;
      this.#unqueue(run);
      run.targetNode = move.to;
      this.#enqueuePending(run, this.#clock.now());
      moved++;
    }
    if (moved > 0) this.#emit({ type: 'runs', app: request.app });
    return moved;
  }

  // ---- logs, audit, stats, retention ---------------------------------------------------------

  /** Appends numbered log lines, capped per run; see `Store.appendLogs`. */
  async appendLogs(lines: RunLogDraft[]): Promise<void> {
    for (const line of lines) {
      if (!this.#runs.has(line.runId)) continue;
      let log = this.#logs.get(line.runId);
      if (!log) {
        log = [];
        this.#logs.set(line.runId, log);
      }
      const seq = log.length + 1;
      if (seq > this.#maxLogLines) continue;
      if (seq === this.#maxLogLines) {
        log.push({
          runId: line.runId,
          level: 'warn',
          message: `log truncated: this run reached its cap of ${this.#maxLogLines} lines; later lines are dropped`,
          fields: null,
          ts: line.ts,
          seq,
        });
      } else {
        log.push({
          runId: line.runId,
          level: line.level,
          message: line.message,
          fields: clone(line.fields),
          ts: line.ts,
          seq,
        });
      }
    }
  }

  /** Lines after `afterSeq`, in order, at most `limit`. */
  async readLogs(runId: string, afterSeq: number, limit: number): Promise<RunLogLine[]> {
    const log = this.#logs.get(runId) ?? [];
    // seq n sits at index n - 1
    return log.slice(Math.max(0, afterSeq), Math.max(0, afterSeq) + limit).map(clone);
  }

  /** Appends an audit entry with id and store time. */
  async appendAudit(entry: AuditDraft): Promise<AuditRecord> {
    const record: StoredAudit = {
      app: entry.app,
      actor: entry.actor,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      before: jsonText(entry.before),
      after: jsonText(entry.after),
      id: formatId(++this.#auditSeq),
      at: this.#clock.now(),
    };
    this.#audit.push(record);
    // The caller's own snapshots go back as they came (the store keeps only their text), which
    // spares parsing back what was just written.
    return { ...record, before: entry.before, after: entry.after };
  }

  /** Audit entries newest first, filtered, one keyset page. */
  async listAudit(filter: AuditFilter, page?: PageRequest): Promise<Page<AuditRecord>> {
    const limit = pageLimit(page);
    const before = page?.cursor ? decodeCursor(page.cursor, 1)[0]! : null;
    const items: AuditRecord[] = [];
    let more = false;
    for (let i = this.#audit.length - 1; i >= 0; i--) {
      const a = this.#audit[i]!;
      if (before !== null && a.id >= before) continue;
      if (
        (filter.app !== undefined && a.app !== filter.app) ||
        (filter.actor !== undefined && a.actor !== filter.actor) ||
        (filter.targetType !== undefined && a.targetType !== filter.targetType) ||
        (filter.targetId !== undefined && a.targetId !== filter.targetId) ||
        (filter.from !== undefined && a.at < filter.from) ||
        (filter.to !== undefined && a.at >= filter.to)
      ) {
        continue;
      }
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(auditOf(a));
    }
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor([last.id]) : null };
  }

  /** Hourly buckets with `hour` in [from, to), hour ascending. */
  async getStats(query: { app?: string; jobKey?: string; from: number; to: number }): Promise<StatsBucket[]> {
    const buckets = [...this.#stats.values()].filter(
      (b) =>
        b.hour >= query.from &&
        b.hour < query.to &&
        (query.app === undefined || b.app === query.app) &&
        (query.jobKey === undefined || b.jobKey === query.jobKey),
    );
    buckets.sort((a, b) => a.hour - b.hour || cmp(a.app, b.app) || cmp(a.jobKey ?? '', b.jobKey ?? ''));
    return buckets.map(clone);
  }

  /** The app's totals per hour, summed from its buckets; see `Store.getHourlyTotals`. */
  async getHourlyTotals(query: { app: string; from: number; to: number }): Promise<HourlyTotals[]> {
    const byHour = new Map<number, HourlyTotals>();
    for (const b of this.#stats.values()) {
      if (b.app !== query.app || b.hour < query.from || b.hour >= query.to) continue;
      let t = byHour.get(b.hour);
      if (!t) {
        const { jobKey: _, ...empty } = emptyStatsBucket(query.app, null, b.hour);
        t = empty;
        byHour.set(b.hour, t);
      }
      addStatsCounts(t, b);
    }
    return [...byHour.values()].sort((a, b) => a.hour - b.hour);
  }

  /** Deletes old final runs and their logs, oldest first, at most `limit`. */
  async prune(request: PruneRequest): Promise<number> {
    const byApp = new Map<string, RunRecord[]>();
    for (const r of this.#runs.values()) {
      if (!FINAL.has(r.state) || (request.app !== undefined && r.app !== request.app)) continue;
      let list = byApp.get(r.app);
      if (!list) {
        list = [];
        byApp.set(r.app, list);
      }
      list.push(r);
    }
    const doomed: RunRecord[] = [];
    for (const list of byApp.values()) {
      // list is oldest first; the newest `keepLast` are protected
      const protectedFrom = request.keepLast === undefined ? list.length : list.length - request.keepLast;
      list.forEach((r, i) => {
        const old =
          request.finishedBefore === undefined ||
          (r.finishedAt !== null && r.finishedAt < request.finishedBefore);
        const beyond = request.keepLast === undefined || i < protectedFrom;
        if (old && beyond && (request.finishedBefore !== undefined || request.keepLast !== undefined)) {
          doomed.push(r);
        }
      });
    }
    doomed.sort((a, b) => cmp(a.id, b.id));
    const victims = doomed.slice(0, request.limit);
    for (const r of victims) {
      this.#runs.delete(r.id);
      this.#logs.delete(r.id);
      if (r.idempotencyKey !== null && this.#idempotency.get(k(r.app, r.idempotencyKey)) === r.id) {
        this.#idempotency.delete(k(r.app, r.idempotencyKey));
      }
    }
    return victims.length;
  }

  /** In-process wake-ups of an app; listener errors are swallowed. */
  subscribe(app: string, listener: (event: StoreEvent) => void): () => void {
    let set = this.#listeners.get(app);
    if (!set) {
      set = new Set();
      this.#listeners.set(app, set);
    }
    // wrap so the same function subscribed twice gets two independent subscriptions
    const entry = (event: StoreEvent) => listener(event);
    set.add(entry);
    return () => {
      this.#listeners.get(app)?.delete(entry);
    };
  }

  // ---- internals -----------------------------------------------------------------------------

  #activeRuns(app: string): RunRecord[] {
    const ids = this.#active.get(app);
    if (!ids) return [];
    const runs: RunRecord[] = [];
    for (const id of ids) {
      const r = this.#runs.get(id);
      if (r) runs.push(r);
    }
    return runs;
  }

  /** The job's runs that are not final (pending or running), oldest first; a copy of the list. */
  #jobRuns(app: string, jobKey: string): RunRecord[] {
    const ids = this.#activeByJob.get(k(app, jobKey));
    if (!ids) return [];
    const runs: RunRecord[] = [];
    for (const id of ids) {
      const r = this.#runs.get(id);
      if (r) runs.push(r);
    }
    return runs;
  }

  /** Re-files a job in the due index after its next fire time, `enabled` or partition changed (null: gone). */
  #indexJob(id: string, job: JobRecord | null): void {
    const old = this.#dueSlots.get(id);
    if (old) {
      old.heap.kill(old.entry);
      this.#dueSlots.delete(id);
    }
    if (job === null || !job.enabled || job.nextFireAt === null) return;
    let parts = this.#dueIndex.get(job.app);
    if (!parts) {
      parts = new Map();
      this.#dueIndex.set(job.app, parts);
    }
    let heap = parts.get(job.partition);
    if (!heap) {
      heap = new BinaryHeap(dueOrder);
      parts.set(job.partition, heap);
    }
    this.#dueSlots.set(id, { heap, entry: heap.push({ at: job.nextFireAt, key: job.key }) });
  }

  /** The due-index heaps of these partitions of the app (every partition when null). */
  #dueHeaps(app: string, partitions: number[] | null): BinaryHeap<DueEntry>[] {
    const parts = this.#dueIndex.get(app);
    if (!parts) return [];
    if (partitions === null) return [...parts.values()];
    const heaps: BinaryHeap<DueEntry>[] = [];
    for (const p of new Set(partitions)) {
      const heap = parts.get(p);
      if (heap) heaps.push(heap);
    }
    return heaps;
  }

  /** The pending-run queues a node may claim from: its handlers, untargeted or targeted at it. */
  #runQueues(app: string, handlers: string[], nodeId: string): RunQueue[] {
    const byKey = this.#queues.get(app);
    if (!byKey) return [];
    const queues: RunQueue[] = [];
    for (const h of new Set(handlers)) {
      const untargeted = byKey.get(queueKey(h, null));
      if (untargeted) queues.push(untargeted);
      const targeted = byKey.get(queueKey(h, nodeId));
      if (targeted) queues.push(targeted);
    }
    return queues;
  }

  /** Files a pending run in its queue: ready when due at `now`, else waiting. */
  #enqueuePending(run: RunRecord, now: number): void {
    let byKey = this.#queues.get(run.app);
    if (!byKey) {
      byKey = new Map();
      this.#queues.set(run.app, byKey);
    }
    const key = queueKey(run.handler, run.targetNode);
    let queue = byKey.get(key);
    if (!queue) {
      queue = { waiting: new BinaryHeap(waitingOrder), ready: new BinaryHeap(claimOrder) };
      byKey.set(key, queue);
    }
    const heap = run.dueAt <= now ? queue.ready : queue.waiting;
    this.#queued.set(run.id, { heap, entry: heap.push(run) });
  }

  /** Takes a run out of its queue (it is no longer pending, or moves). */
  #unqueue(run: RunRecord): void {
    const slot = this.#queued.get(run.id);
    if (!slot) return;
    slot.heap.kill(slot.entry);
    this.#queued.delete(run.id);
  }

  /** Moves the queue's runs due by `now` from waiting to ready. */
  #promote(queue: RunQueue, now: number): void {
    for (let r = queue.waiting.peek(); r !== undefined && r.dueAt <= now; r = queue.waiting.peek()) {
      queue.waiting.pop();
      this.#queued.set(r.id, { heap: queue.ready, entry: queue.ready.push(r) });
    }
  }

  /** Inserts one draft, honouring its idempotency key and its job's block strategy. */
  #insert(draft: RunDraft, now: number): { run: RunRecord; created: boolean } {
    if (draft.idempotencyKey !== null) {
      const existingId = this.#idempotency.get(k(draft.app, draft.idempotencyKey));
      const existing = existingId === undefined ? undefined : this.#runs.get(existingId);
      if (existing) return { run: existing, created: false };
    }
    let state: RunState = draft.state ?? 'pending';
    let reason: string | null = draft.reason ?? null;
    if (
      state === 'pending' &&
      draft.jobKey !== null &&
      (draft.block === 'skip' || draft.block === 'replace')
    ) {
      const siblings = this.#jobRuns(draft.app, draft.jobKey);
      if (draft.block === 'skip' && siblings.length > 0) {
        state = 'skipped';
        reason = `block strategy 'skip': run ${siblings[0]!.id} of job '${draft.jobKey}' is ${siblings[0]!.state}`;
      } else if (draft.block === 'replace') {
        for (const s of siblings) {
          if (s.state === 'pending') this.#finish(s, 'cancelled', now, 'replaced by a newer run', true);
          else if (s.state === 'running') {
            s.cancelRequested = true;
            s.reason = 'replaced by a newer run';
          }
        }
      }
    }
    const id = formatId(++this.#runSeq);
    const run: RunRecord = {
      id,
      app: draft.app,
      jobKey: draft.jobKey,
      handler: draft.handler,
      params: copyJson(draft.params),
      trigger: draft.trigger,
      scheduledFor: draft.scheduledFor,
      dueAt: draft.delayMs !== undefined ? now + draft.delayMs : (draft.dueAt ?? now),
      attempt: draft.attempt,
      retry: {
        maxAttempts: draft.retry.maxAttempts,
        backoff: draft.retry.backoff,
        delayMs: draft.retry.delayMs,
        maxDelayMs: draft.retry.maxDelayMs,
        jitter: draft.retry.jitter,
      },
      timeoutMs: draft.timeoutMs,
      shardIndex: draft.shardIndex,
      shardTotal: draft.shardTotal,
      priority: draft.priority,
      block: draft.block,
      routing: draft.routing,
      targetNode: draft.targetNode,
      ownerNode: null,
      ownerIncarnation: null,
      leaseExpiresAt: null,
      state: 'pending',
      reason: null,
      cancelRequested: false,
      progress: null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      result: null,
      error: null,
      idempotencyKey: draft.idempotencyKey,
      parentRunId: draft.parentRunId,
    };
    this.#runs.set(id, run);
    if (draft.idempotencyKey !== null) this.#idempotency.set(k(draft.app, draft.idempotencyKey), id);
    let active = this.#active.get(draft.app);
    if (!active) {
      active = new Set();
      this.#active.set(draft.app, active);
    }
    active.add(id);
    if (run.jobKey !== null) {
      const jk = k(run.app, run.jobKey);
      let ofJob = this.#activeByJob.get(jk);
      if (!ofJob) {
        ofJob = new Set();
        this.#activeByJob.set(jk, ofJob);
      }
      ofJob.add(id);
    }
    if (state === 'skipped') this.#finish(run, 'skipped', now, reason, true);
    else this.#enqueuePending(run, now);
    return { run, created: true };
  }

  /**
   * Puts a run in a final state: stamps it, counts it in the hourly stats and, unless a retry
   * follows (or it was a skipped insert), re-arms its `delay-after` job.
   */
  #finish(run: RunRecord, state: RunState, now: number, reason: string | null, noRearm = false): void {
    const was = run.state;
    run.state = state;
    run.reason = reason;
    run.finishedAt = now;
    run.leaseExpiresAt = null;
    this.#active.get(run.app)?.delete(run.id);
    this.#unqueue(run);
    if (run.jobKey !== null) {
      const jk = k(run.app, run.jobKey);
      const ofJob = this.#activeByJob.get(jk);
      ofJob?.delete(run.id);
      if (ofJob?.size === 0) this.#activeByJob.delete(jk);
      if (was === 'running') {
        const n = (this.#runningByJob.get(jk) ?? 1) - 1;
        if (n > 0) this.#runningByJob.set(jk, n);
        else this.#runningByJob.delete(jk);
      }
    }
    const hour = Math.floor(now / 3_600_000) * 3_600_000;
    const statsKey = `${run.app}\u0000${run.jobKey === null ? '\u0001' : run.jobKey}\u0000${hour}`;
    let bucket = this.#stats.get(statsKey);
    if (!bucket) {
      bucket = emptyStatsBucket(run.app, run.jobKey, hour);
      this.#stats.set(statsKey, bucket);
    }
    const field = STAT_FIELD[state];
    if (field) (bucket[field] as number) += 1;
    const duration = run.durationMs ?? 0;
    bucket.totalDurationMs += duration;
    if (duration > bucket.maxDurationMs) bucket.maxDurationMs = duration;
    if (noRearm || run.jobKey === null) return;
    const job = this.#jobs.get(k(run.app, run.jobKey));
    if (job && job.schedule.kind === 'delay-after' && job.nextFireAt === null) {
      job.nextFireAt = now + job.schedule.ms;
      job.version += 1;
      job.updatedAt = now;
      this.#indexJob(k(run.app, run.jobKey), job);
      this.#emit({ type: 'jobs', app: run.app });
    }
  }

  /** The node when this incarnation is its current one and it is not offline; else fenced. */
  #requireNode(app: string, nodeId: string, incarnation: number, what: string): NodeRecord {
    const node = this.#nodes.get(k(app, nodeId));
    if (!node) {
      throw new FencedError(
        'node',
        `node '${nodeId}' of app '${app}' is not registered (removed?), so it cannot ${what}: register it again`,
      );
    }
    if (node.incarnation !== incarnation) {
      throw new FencedError(
        'node',
        `node '${nodeId}' incarnation ${incarnation} is stale (current: ${node.incarnation}), so it cannot ${what}: stop its work and register again`,
      );
    }
    if (node.state === 'offline') {
      throw new FencedError(
        'node',
        `node '${nodeId}' incarnation ${incarnation} was marked offline, so it cannot ${what}: stop its work and register again`,
      );
    }
    return node;
  }

  /** Refuses unless `epoch` is the current, unexpired leader lease of the app. */
  #requireLeader(app: string, epoch: number, what: string): void {
    const lease = this.#leases.get(app);
    const now = this.#clock.now();
    if (!lease || lease.epoch !== epoch || lease.expiresAt <= now) {
      throw new FencedError(
        'leader',
        `leader epoch ${epoch} of app '${app}' is not the current unexpired lease (current: ${lease ? `epoch ${lease.epoch}, ${lease.expiresAt <= now ? 'expired' : 'live'}` : 'none'}), so it cannot ${what}: step down and re-acquire leadership`,
      );
    }
  }

  #emit(event: StoreEvent): void {
    const set = this.#listeners.get(event.app);
    if (!set || set.size === 0) return;
    const listeners = [...set];
    queueMicrotask(() => {
      for (const listener of listeners) {
        try {
          listener(clone(event));
        } catch {
          // a throwing listener cannot break the store
        }
      }
    });
  }
}

/**
 * The stored form of a job: the draft's own fields only (extra properties a caller left on it are
 * not stored), deep-copied, in one fixed shape. Built as one literal rather than a spread of a
 * `structuredClone`: V8 gave each record made that way its own hidden class (about 0.6 KB each).
 */
function storedJob(d: JobDraft, version: number, createdAt: number, updatedAt: number): JobRecord {
  return {
    app: d.app,
    key: d.key,
    handler: d.handler,
    schedule: interned(d.schedule),
    params: isEmptyObject(d.params) ? NO_PARAMS : copyJson(d.params),
    enabled: d.enabled,
    routing: interned(d.routing),
    block: d.block,
    misfire: d.misfire,
    retry: interned(d.retry),
    timeoutMs: d.timeoutMs,
    shards: d.shards,
    priority: d.priority,
    owner: d.owner,
    alertContacts: d.alertContacts.length === 0 ? NO_STRINGS : [...d.alertContacts],
    tags: d.tags.length === 0 ? NO_STRINGS : [...d.tags],
    description: d.description,
    source: d.source,
    partition: d.partition,
    nextFireAt: d.nextFireAt,
    lastFireAt: d.lastFireAt,
    version,
    createdAt,
    updatedAt,
  };
}

/** The empty list every stored job without tags or contacts shares (hand-outs get their own copy). */
const NO_STRINGS: string[] = Object.freeze([]) as unknown as string[];
/** The empty params every stored job without params shares. */
const NO_PARAMS: JsonValue = Object.freeze({}) as JsonValue;

function isEmptyObject(value: JsonValue): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  for (const _ in value) return false;
  return true;
}

/**
 * Stored jobs' schedules, routings and retry policies are small and mostly the same few values:
 * one frozen instance of each distinct value is shared by every job that holds it (records are
 * copied whenever they are handed out, and the store never changes these parts in place). The
 * table stops growing at `INTERN_MAX` values; beyond, values are copied as they come.
 */
const internTable = new Map<string, unknown>();
const INTERN_MAX = 10_000;

function interned<T extends object>(value: T): T {
  const key = JSON.stringify(value);
  const known = internTable.get(key);
  if (known !== undefined) return known as T;
  const copy = deepFreeze(copyJson(value));
  if (internTable.size < INTERN_MAX) internTable.set(key, copy);
  return copy;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** JSON text of a snapshot; `null` (most `before`s) as the one shared literal. */
function jsonText(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return 'null';
  const text = JSON.stringify(value);
  // V8 builds the text as a tree of pieces; reading a character flattens it into one string,
  // which keeps a job's snapshot in ~0.58 KB instead of ~0.75 KB (measured, 534 characters).
  text.charCodeAt(0);
  return text;
}

/** An audit record as handed out: a fresh copy, snapshots parsed from their JSON text. */
function auditOf(a: StoredAudit): AuditRecord {
  return { ...a, before: JSON.parse(a.before) as JsonValue, after: JSON.parse(a.after) as JsonValue };
}

/** The key of a run queue: handler and target node (none for untargeted runs). */
function queueKey(handler: string, target: string | null): string {
  return target === null ? handler : `${handler}\u0000${target}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareJobKey(job: JobRecord, key: string, app: string): number {
  return cmp(job.key, key) || cmp(job.app, app);
}
