/**
 * Prometheus metrics of an Oasis app, on a prom-client registry of their own (never the global
 * one, so the host's metrics and ours cannot collide; merge them with `Registry.merge` if wanted).
 *
 * Two kinds:
 * - this node's runs, counted from the scheduler's events as they end (`oasis_runs_total`,
 *   `oasis_run_duration_seconds`, `oasis_run_lateness_seconds`): true counters and histograms,
 *   summed across nodes by Prometheus;
 * - the cluster as the store sees it, read at each scrape (`oasis_queue_depth`, `oasis_nodes`,
 *   `oasis_leader`, `oasis_runs_last_24h`): the same on every node.
 */
import type { OasisEventName, OasisEvents, RunRecord, Scheduler, StatsBucket } from '@oasis/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const HOUR = 3_600_000;

const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 60, 300, 900, 3600];
const LATENESS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300];

const STAT_STATES: Array<[keyof StatsBucket, string]> = [
  ['succeeded', 'succeeded'],
  ['failed', 'failed'],
  ['dead', 'dead'],
  ['timedOut', 'timed_out'],
  ['cancelled', 'cancelled'],
  ['lost', 'lost'],
  ['skipped', 'skipped'],
];

/** The job label of a run: its job key, or `task:<handler>` for one-off tasks. */
function jobLabel(run: Pick<RunRecord, 'jobKey' | 'handler'>): string {
  return run.jobKey ?? `task:${run.handler}`;
}

/** The metrics of one admin handler; created by `createAdminHandler`. */
export class AdminMetrics {
  /** The registry `/metrics` serves. */
  readonly registry: Registry;
  readonly #scheduler: Scheduler;
  readonly #runs: Counter<'app' | 'job' | 'state'>;
  readonly #duration: Histogram<'app' | 'job' | 'state'>;
  readonly #lateness: Histogram<'app' | 'job'>;
  readonly #queue: Gauge<'app' | 'state'>;
  readonly #nodes: Gauge<'app' | 'state'>;
  readonly #leader: Gauge<'app' | 'node'>;
  readonly #leaderEpoch: Gauge<'app'>;
  readonly #isLeader: Gauge<'app' | 'node'>;
  readonly #last24h: Gauge<'app' | 'job' | 'state'>;
  readonly #detach: Array<() => void> = [];
  #rendering: Promise<string> | null = null;

  /** Creates the metrics and starts counting the scheduler's run events. */
  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    this.#runs = new Counter({
      name: 'oasis_runs_total',
      help: 'Runs ended on this node, by job and final state',
      labelNames: ['app', 'job', 'state'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'oasis_run_duration_seconds',
      help: 'Wall time of runs ended on this node, by job and final state',
      labelNames: ['app', 'job', 'state'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#lateness = new Histogram({
      name: 'oasis_run_lateness_seconds',
      help: 'How late runs started on this node, after they were due (store time)',
      labelNames: ['app', 'job'],
      buckets: LATENESS_BUCKETS,
      registers,
    });
    this.#queue = new Gauge({
      name: 'oasis_queue_depth',
      help: 'Runs of the app pending or running, cluster-wide',
      labelNames: ['app', 'state'],
      registers,
    });
    this.#nodes = new Gauge({
      name: 'oasis_nodes',
      help: 'Nodes of the app by state',
      labelNames: ['app', 'state'],
      registers,
    });
    this.#leader = new Gauge({
      name: 'oasis_leader',
      help: '1 for the node holding an unexpired leader lease',
      labelNames: ['app', 'node'],
      registers,
    });
    this.#leaderEpoch = new Gauge({
      name: 'oasis_leader_epoch',
      help: 'The leader lease epoch (rises with each new leader)',
      labelNames: ['app'],
      registers,
    });
    this.#isLeader = new Gauge({
      name: 'oasis_is_leader',
      help: '1 when this node leads',
      labelNames: ['app', 'node'],
      registers,
    });
    this.#last24h = new Gauge({
      name: 'oasis_runs_last_24h',
      help: 'Runs ended in the last 24 hourly buckets, cluster-wide, by job and final state',
      labelNames: ['app', 'job', 'state'],
      registers,
    });

    const ended = (run: RunRecord, durationMs: number | null) => {
      const labels = { app: run.app, job: jobLabel(run), state: run.state };
      this.#runs.inc(labels);
      if (durationMs !== null) this.#duration.observe(labels, durationMs / 1000);
    };
    const listen = <E extends OasisEventName>(event: E, fn: (...args: OasisEvents[E]) => void) => {
      scheduler.on(event, fn as never);
      this.#detach.push(() => scheduler.off(event, fn as never));
    };
    listen('run:succeeded', (e) => ended(e.run, e.durationMs));
    listen('run:failed', (e) => ended(e.run, e.run.durationMs));
    listen('run:timed_out', (e) => ended(e.run, e.run.durationMs));
    listen('run:cancelled', (e) => ended(e.run, e.run.durationMs));
    listen('run:skipped', (e) => ended(e.run, null));
    listen('run:lost', (e) => {
      if (e.run !== null) ended(e.run, null);
    });
    listen('run:started', (e) => {
      const { run } = e;
      if (run.startedAt === null) return;
      this.#lateness.observe(
        { app: run.app, job: jobLabel(run) },
        Math.max(0, run.startedAt - run.dueAt) / 1000,
      );
    });
  }

  /**
   * Reads the cluster gauges from the store, then renders every metric (Prometheus text).
   * Concurrent scrapes share one render, so gauges are never reset under another's feet.
   */
  render(): Promise<string> {
    this.#rendering ??= this.#render().finally(() => {
      this.#rendering = null;
    });
    return this.#rendering;
  }

  async #render(): Promise<string> {
    const s = this.#scheduler;
    const store = s.store;
    const app = s.app;
    const now = await store.now();
    const to = Math.floor(now / HOUR) * HOUR + HOUR;
    const [counts, nodes, leader, stats] = await Promise.all([
      store.countRuns(app, ['pending', 'running']),
      store.listNodes(app),
      store.getLeader(app),
      store.getStats({ app, from: to - 24 * HOUR, to }),
    ]);
    this.#queue.reset();
    this.#queue.set({ app, state: 'pending' }, counts.pending ?? 0);
    this.#queue.set({ app, state: 'running' }, counts.running ?? 0);
    this.#nodes.reset();
    for (const state of ['active', 'draining', 'paused', 'leaving', 'offline']) {
      this.#nodes.set({ app, state }, nodes.filter((n) => n.state === state).length);
    }
    this.#leader.reset();
    this.#leaderEpoch.reset();
    if (leader !== null && leader.expiresAt > now) this.#leader.set({ app, node: leader.nodeId }, 1);
    if (leader !== null) this.#leaderEpoch.set({ app }, leader.epoch);
    this.#isLeader.reset();
    this.#isLeader.set({ app, node: s.nodeId }, s.isLeader ? 1 : 0);
    this.#last24h.reset();
    const sums = new Map<string, number>();
    for (const b of stats) {
      const job = b.jobKey ?? 'task';
      for (const [field, state] of STAT_STATES) {
        const key = `${job}\u0000${state}`;
        sums.set(key, (sums.get(key) ?? 0) + (b[field] as number));
      }
    }
    for (const [key, value] of sums) {
      const [job, state] = key.split('\u0000') as [string, string];
      this.#last24h.set({ app, job, state }, value);
    }
    return this.registry.metrics();
  }

  /** The content type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops counting the scheduler's events. */
  close(): void {
    for (const detach of this.#detach.splice(0)) detach();
  }
}
