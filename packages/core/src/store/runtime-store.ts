import { OasisError, StoreClosedError, StoreError, ValidationError } from '../errors';
import type {
  AuditDraft,
  AuditFilter,
  AuditRecord,
  JobDraft,
  JobFilter,
  JobRecord,
  LeaderLease,
  NodeInfo,
  NodeRecord,
  Page,
  PageRequest,
  PartitionMap,
  RunDraft,
  RunFilter,
  RunLogDraft,
  RunLogLine,
  RunRecord,
  RunState,
  RunView,
  StatsBucket,
} from '../model';
import type {
  ClaimRequest,
  CompleteRequest,
  CompleteResult,
  CompleteRunsItem,
  DueJobsQuery,
  EnqueueResult,
  FireRequest,
  FireResult,
  HeartbeatRequest,
  HeartbeatResult,
  HourlyTotals,
  PruneRequest,
  ReapRequest,
  ReapResult,
  RetargetRequest,
  Store,
  StoreCapabilities,
  StoreEvent,
} from './store';
import * as v from './validate';

/**
 * The runtime guard core puts around every store: `init()` runs once (concurrent callers share
 * one attempt; a failed attempt may be retried) and every call waits for it; `close()` runs once
 * and any call after it throws `StoreClosedError`; every argument is checked against
 * `STORE_LIMITS` and the model's enums before the store sees it (`ValidationError` naming the
 * field, nothing changed); any error of the store that is not an `OasisError` becomes a
 * `StoreError` naming the method, with the original as `cause`.
 *
 * @example
 * const store = wrapStore(new MemoryStore());
 * await store.init();
 */
export class RuntimeStore implements Store {
  readonly #store: Store;
  #initPromise: Promise<void> | null = null;
  /** True once `init()` has succeeded. */
  #ready = false;
  #closePromise: Promise<void> | null = null;
  readonly #unsubscribers = new Set<() => void>();

  /** Wraps `store`; prefer `wrapStore`, which does not wrap twice. */
  constructor(store: Store) {
    this.#store = store;
  }

  /** The wrapped store's name. */
  get name(): string {
    return this.#store.name;
  }

  /** The wrapped store's capabilities. */
  get capabilities(): StoreCapabilities {
    return this.#store.capabilities;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closePromise !== null;
  }

  /** True when `value` is a runtime guard already. */
  static is(value: unknown): value is RuntimeStore {
    return typeof value === 'object' && value !== null && #store in value;
  }

  /** Initializes the store once; concurrent callers share the attempt; a failed one can be retried. */
  init(): Promise<void> {
    if (this.#closePromise) return Promise.reject(new StoreClosedError('init'));
    if (!this.#initPromise) {
      this.#initPromise = this.#store.init().then(
        () => {
          this.#ready = true;
        },
        (err: unknown) => {
          this.#initPromise = null;
          throw wrapError(this.#store.name, 'init', err);
        },
      );
    }
    return this.#initPromise;
  }

  /** Closes the store once and drops its subscriptions; later calls throw `StoreClosedError`. */
  close(): Promise<void> {
    if (!this.#closePromise) {
      for (const unsubscribe of this.#unsubscribers) unsubscribe();
      this.#unsubscribers.clear();
      const pendingInit = this.#initPromise ?? Promise.resolve();
      this.#closePromise = pendingInit
        .catch(() => undefined)
        .then(() => this.#store.close())
        .catch((err: unknown) => {
          throw wrapError(this.#store.name, 'close', err);
        });
    }
    return this.#closePromise;
  }

  /** See `Store.now`. */
  now(): Promise<number> {
    return this.#call(
      'now',
      () => undefined,
      () => this.#store.now(),
    );
  }

  /** See `Store.getJob`. */
  getJob(app: string, key: string): Promise<JobRecord | null> {
    return this.#call(
      'getJob',
      () => {
        v.checkApp(app, 'app');
        v.checkKey(key, 'key');
      },
      () => this.#store.getJob(app, key),
    );
  }

  /** See `Store.saveJob`. */
  saveJob(draft: JobDraft, expectedVersion: number | null | 'any'): Promise<JobRecord> {
    return this.#call(
      'saveJob',
      () => {
        v.checkJobDraft(draft, 'draft');
        v.checkExpectedVersion(expectedVersion, 'expectedVersion');
      },
      () => this.#store.saveJob(draft, expectedVersion),
    );
  }

  /** See `Store.deleteJob`. */
  deleteJob(app: string, key: string, expectedVersion?: number): Promise<JobRecord | null> {
    return this.#call(
      'deleteJob',
      () => {
        v.checkApp(app, 'app');
        v.checkKey(key, 'key');
        if (expectedVersion !== undefined) v.checkCounter(expectedVersion, 'expectedVersion');
      },
      () => this.#store.deleteJob(app, key, expectedVersion),
    );
  }

  /** See `Store.listJobs`. */
  listJobs(filter: JobFilter, page?: PageRequest): Promise<Page<JobRecord>> {
    return this.#call(
      'listJobs',
      () => {
        v.checkJobFilter(filter, 'filter');
        v.checkPage(page, 'page');
      },
      () => this.#store.listJobs(filter, page),
    );
  }

  /** See `Store.dueJobs`. */
  dueJobs(query: DueJobsQuery): Promise<JobRecord[]> {
    return this.#call(
      'dueJobs',
      () => {
        v.checkObject(query, 'query');
        v.checkApp(query.app, 'query.app');
        v.checkPartitions(query.partitions, 'query.partitions');
        v.checkLimit(query.limit, 'query.limit');
        v.checkHorizon(query.horizonMs, 'query.horizonMs');
      },
      () => this.#store.dueJobs(query),
    );
  }

  /** See `Store.fireJobs`. */
  fireJobs(app: string, fires: FireRequest[]): Promise<FireResult[]> {
    return this.#call(
      'fireJobs',
      () => {
        v.checkApp(app, 'app');
        v.checkFires(app, fires, 'fires');
      },
      () => this.#store.fireJobs(app, fires),
    );
  }

  /** See `Store.nextWakeAt`. */
  nextWakeAt(query: {
    app: string;
    partitions: number[] | null;
    handlers: string[];
    nodeId: string;
  }): Promise<number | null> {
    return this.#call(
      'nextWakeAt',
      () => {
        v.checkObject(query, 'query');
        v.checkApp(query.app, 'query.app');
        v.checkPartitions(query.partitions, 'query.partitions');
        checkKeys(query.handlers, 'query.handlers');
        v.checkKey(query.nodeId, 'query.nodeId');
      },
      () => this.#store.nextWakeAt(query),
    );
  }

  /** See `Store.enqueueRuns`. */
  enqueueRuns(drafts: RunDraft[]): Promise<EnqueueResult[]> {
    return this.#call(
      'enqueueRuns',
      () => v.checkRunDrafts(drafts, 'drafts'),
      () => this.#store.enqueueRuns(drafts),
    );
  }

  /** See `Store.claimRuns`. */
  claimRuns(request: ClaimRequest): Promise<RunRecord[]> {
    return this.#call(
      'claimRuns',
      () => v.checkClaim(request, 'request'),
      () => this.#store.claimRuns(request),
    );
  }

  /** See `Store.completeRun`. */
  completeRun(request: CompleteRequest): Promise<CompleteResult> {
    return this.#call(
      'completeRun',
      () => v.checkComplete(request, 'request'),
      () => this.#store.completeRun(request),
    );
  }

  /** See `Store.completeRuns`. */
  completeRuns(requests: CompleteRequest[]): Promise<CompleteRunsItem[]> {
    return this.#call(
      'completeRuns',
      () => v.checkCompleteBatch(requests, 'requests'),
      () => this.#store.completeRuns(requests),
    );
  }

  /** See `Store.cancelRun`. */
  cancelRun(runId: string, reason: string): Promise<RunRecord> {
    return this.#call(
      'cancelRun',
      () => {
        v.checkKey(runId, 'runId');
        v.checkReason(reason, 'reason');
      },
      () => this.#store.cancelRun(runId, reason),
    );
  }

  /** See `Store.getRun`. */
  getRun(runId: string): Promise<RunRecord | null> {
    return this.#call(
      'getRun',
      () => v.checkKey(runId, 'runId'),
      () => this.#store.getRun(runId),
    );
  }

  /** See `Store.listRuns`. */
  listRuns(filter: RunFilter, page?: PageRequest, view?: RunView): Promise<Page<RunRecord>> {
    return this.#call(
      'listRuns',
      () => {
        v.checkRunFilter(filter, 'filter');
        v.checkPage(page, 'page');
        v.checkRunView(view, 'view');
      },
      () => this.#store.listRuns(filter, page, view),
    );
  }

  /** See `Store.countRuns`. */
  countRuns(app: string, states: RunState[]): Promise<Partial<Record<RunState, number>>> {
    return this.#call(
      'countRuns',
      () => {
        v.checkApp(app, 'app');
        v.checkStates(states, 'states');
      },
      () => this.#store.countRuns(app, states),
    );
  }

  /** See `Store.registerNode`. */
  registerNode(info: NodeInfo): Promise<NodeRecord> {
    return this.#call(
      'registerNode',
      () => v.checkNodeInfo(info, 'info'),
      () => this.#store.registerNode(info),
    );
  }

  /** See `Store.heartbeat`. */
  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
    return this.#call(
      'heartbeat',
      () => v.checkHeartbeat(request, 'request'),
      () => this.#store.heartbeat(request),
    );
  }

  /** See `Store.leaveNode`. */
  leaveNode(app: string, nodeId: string, incarnation: number): Promise<void> {
    return this.#call(
      'leaveNode',
      () => {
        v.checkApp(app, 'app');
        v.checkKey(nodeId, 'nodeId');
        v.checkCounter(incarnation, 'incarnation');
      },
      () => this.#store.leaveNode(app, nodeId, incarnation),
    );
  }

  /** See `Store.setNodeDesiredState`. */
  setNodeDesiredState(
    app: string,
    nodeId: string,
    desired: 'active' | 'draining' | 'paused',
  ): Promise<NodeRecord> {
    return this.#call(
      'setNodeDesiredState',
      () => {
        v.checkApp(app, 'app');
        v.checkKey(nodeId, 'nodeId');
        v.checkDesiredState(desired, 'desired');
      },
      () => this.#store.setNodeDesiredState(app, nodeId, desired),
    );
  }

  /** See `Store.removeNode`. */
  removeNode(app: string, nodeId: string): Promise<boolean> {
    return this.#call(
      'removeNode',
      () => {
        v.checkApp(app, 'app');
        v.checkKey(nodeId, 'nodeId');
      },
      () => this.#store.removeNode(app, nodeId),
    );
  }

  /** See `Store.listNodes`. */
  listNodes(app: string): Promise<NodeRecord[]> {
    return this.#call(
      'listNodes',
      () => v.checkApp(app, 'app'),
      () => this.#store.listNodes(app),
    );
  }

  /** See `Store.acquireLeadership`. */
  acquireLeadership(request: {
    app: string;
    nodeId: string;
    incarnation: number;
    ttlMs: number;
  }): Promise<LeaderLease> {
    return this.#call(
      'acquireLeadership',
      () => {
        v.checkObject(request, 'request');
        v.checkApp(request.app, 'request.app');
        v.checkKey(request.nodeId, 'request.nodeId');
        v.checkCounter(request.incarnation, 'request.incarnation');
        v.checkInt(request.ttlMs, 'request.ttlMs', 1);
      },
      () => this.#store.acquireLeadership(request),
    );
  }

  /** See `Store.getLeader`. */
  getLeader(app: string): Promise<LeaderLease | null> {
    return this.#call(
      'getLeader',
      () => v.checkApp(app, 'app'),
      () => this.#store.getLeader(app),
    );
  }

  /** See `Store.resignLeadership`. */
  resignLeadership(app: string, nodeId: string, epoch: number): Promise<void> {
    return this.#call(
      'resignLeadership',
      () => {
        v.checkApp(app, 'app');
        v.checkKey(nodeId, 'nodeId');
        v.checkCounter(epoch, 'epoch');
      },
      () => this.#store.resignLeadership(app, nodeId, epoch),
    );
  }

  /** See `Store.writePartitionMap`. */
  writePartitionMap(request: {
    app: string;
    epoch: number;
    assignments: Record<string, number[]>;
  }): Promise<PartitionMap> {
    return this.#call(
      'writePartitionMap',
      () => v.checkPartitionMapRequest(request, 'request'),
      () => this.#store.writePartitionMap(request),
    );
  }

  /** See `Store.getPartitionMap`. */
  getPartitionMap(app: string): Promise<PartitionMap> {
    return this.#call(
      'getPartitionMap',
      () => v.checkApp(app, 'app'),
      () => this.#store.getPartitionMap(app),
    );
  }

  /** See `Store.reapDeadNodes`. */
  reapDeadNodes(request: ReapRequest): Promise<ReapResult> {
    return this.#call(
      'reapDeadNodes',
      () => v.checkReap(request, 'request'),
      () => this.#store.reapDeadNodes(request),
    );
  }

  /** See `Store.retargetRuns`. */
  retargetRuns(request: RetargetRequest): Promise<number> {
    return this.#call(
      'retargetRuns',
      () => v.checkRetarget(request, 'request'),
      () => this.#store.retargetRuns(request),
    );
  }

  /** See `Store.appendLogs`. */
  appendLogs(lines: RunLogDraft[]): Promise<void> {
    return this.#call(
      'appendLogs',
      () => v.checkLogLines(lines, 'lines'),
      () => this.#store.appendLogs(lines),
    );
  }

  /** See `Store.readLogs`. */
  readLogs(runId: string, afterSeq: number, limit: number): Promise<RunLogLine[]> {
    return this.#call(
      'readLogs',
      () => {
        v.checkKey(runId, 'runId');
        v.checkInt(afterSeq, 'afterSeq', 0);
        v.checkInt(limit, 'limit', 1, 1000);
      },
      () => this.#store.readLogs(runId, afterSeq, limit),
    );
  }

  /** See `Store.appendAudit`. */
  appendAudit(entry: AuditDraft): Promise<AuditRecord> {
    return this.#call(
      'appendAudit',
      () => v.checkAuditDraft(entry, 'entry'),
      () => this.#store.appendAudit(entry),
    );
  }

  /** See `Store.listAudit`. */
  listAudit(filter: AuditFilter, page?: PageRequest): Promise<Page<AuditRecord>> {
    return this.#call(
      'listAudit',
      () => {
        v.checkAuditFilter(filter, 'filter');
        v.checkPage(page, 'page');
      },
      () => this.#store.listAudit(filter, page),
    );
  }

  /** See `Store.getStats`. */
  getStats(query: { app?: string; jobKey?: string; from: number; to: number }): Promise<StatsBucket[]> {
    return this.#call(
      'getStats',
      () => v.checkStatsQuery(query, 'query'),
      () => this.#store.getStats(query),
    );
  }

  /** See `Store.getHourlyTotals`. */
  getHourlyTotals(query: { app: string; from: number; to: number }): Promise<HourlyTotals[]> {
    return this.#call(
      'getHourlyTotals',
      () => v.checkTotalsQuery(query, 'query'),
      () => this.#store.getHourlyTotals(query),
    );
  }

  /** See `Store.prune`. */
  prune(request: PruneRequest): Promise<number> {
    return this.#call(
      'prune',
      () => v.checkPrune(request, 'request'),
      () => this.#store.prune(request),
    );
  }

  /**
   * See `Store.subscribe`. The listener is guarded (a throw is swallowed) and unsubscribed by
   * `close()`. Throws `StoreClosedError` after close and `ValidationError` for a bad app.
   */
  subscribe(app: string, listener: (event: StoreEvent) => void): () => void {
    if (this.#closePromise) throw new StoreClosedError('subscribe');
    v.checkApp(app, 'app');
    if (typeof listener !== 'function') {
      throw new ValidationError('listener', 'type', 'must be a function');
    }
    let active = true;
    let inner: (() => void) | null = null;
    const unsubscribe = () => {
      if (!active) return;
      active = false;
      this.#unsubscribers.delete(unsubscribe);
      inner?.();
    };
    try {
      inner = this.#store.subscribe(app, (event) => {
        if (!active) return;
        try {
          listener(event);
        } catch {
          // a throwing listener cannot break the store
        }
      });
    } catch (err) {
      throw wrapError(this.#store.name, 'subscribe', err);
    }
    this.#unsubscribers.add(unsubscribe);
    return unsubscribe;
  }

  /** Validates, waits for init, calls, and types the error. */
  async #call<T>(method: string, check: () => void, run: () => Promise<T>): Promise<T> {
    if (this.#closePromise) throw new StoreClosedError(method);
    check();
    // Once init has succeeded, calls skip awaiting its settled promise (a hop on every store call).
    if (!this.#ready) {
      await this.init();
      if (this.#closePromise) throw new StoreClosedError(method);
    }
    try {
      return await run();
    } catch (err) {
      throw wrapError(this.#store.name, method, err);
    }
  }
}

function checkKeys(value: unknown, field: string): void {
  if (!Array.isArray(value)) throw new ValidationError(field, 'type', 'must be an array of handler names');
  value.forEach((item, i) => {
    v.checkKey(item, `${field}[${i}]`);
  });
}

function wrapError(store: string, method: string, err: unknown): OasisError {
  if (err instanceof OasisError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(`${store} store: ${method}() failed: ${message}`, { cause: err });
}

/**
 * Wraps a store in the runtime guard (`RuntimeStore`); a store already wrapped is returned as is.
 *
 * @example
 * const store = wrapStore(new MemoryStore());
 */
export function wrapStore(store: Store): RuntimeStore {
  return RuntimeStore.is(store) ? store : new RuntimeStore(store);
}
