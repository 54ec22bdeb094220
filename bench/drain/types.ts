import type { BenchConfig } from '../lib/config';

/**
 * The drain workload, shared by every system: enqueue `tasks` no-op tasks in bulk, then drain them
 * with `processes` worker processes of `concurrency` each.
 */
export interface DrainContext {
  /** The system under test, a key of `DRAIN_SYSTEMS`. */
  system: string;
  /** Unique per run: names the schema, queue, key prefix or file of this run. */
  runId: string;
  tasks: number;
  concurrency: number;
  config: BenchConfig;
}

/** The parent's side of a system: a fresh queue, the bulk enqueue and the completion count. */
export interface DrainParent {
  /** Creates a fresh, empty queue (schema, tables, queue name, key prefix) for this run. */
  setup(): Promise<void>;
  /** Enqueues `count` no-op tasks in bulk. This call is what "enqueue time" measures. */
  enqueue(count: number): Promise<void>;
  /**
   * Enqueues one no-op task per due time (ms since the epoch), in bulk, each due then and
   * carrying its due time in its payload (`dueAt`) so the handler can measure its lateness.
   */
  enqueueDelayed(dueTimes: number[]): Promise<void>;
  /** How many of the enqueued tasks are not completed yet, read from the database or Redis. */
  remaining(): Promise<number>;
  /** Removes what `setup` made (its own schema, queue or keys only) and closes connections. */
  teardown(): Promise<void>;
}

/** Callbacks a worker calls from its no-op handler. */
export interface WorkerHooks {
  /** At the start of each handler call, with the task's `dueAt` when it has one. */
  started(dueAt?: number): void;
  /** When a handler call returns. */
  done(): void;
  /** A failure the run cannot recover from (e.g. the store refused a completion): ends the run. */
  fail(error: unknown): void;
}

/** The worker process's side of a system. */
export interface DrainWorker {
  /** Starts consuming (connections are already open); the handler calls the hooks. */
  start(hooks: WorkerHooks): Promise<void>;
  /** Stops consuming and closes connections. */
  stop(): Promise<void>;
}

/** One system under test: how to make its parent side and its worker side. */
export interface DrainSystemModule {
  /** The parent side, in the harness process. */
  parent(ctx: DrainContext): Promise<DrainParent>;
  /** The worker side, in a worker process: connect now, consume only on `start`. */
  worker(ctx: DrainContext): Promise<DrainWorker>;
}

/** Messages from a worker process to the harness. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; firstStartAt: number | null; started: number; done: number }
  | { type: 'lateness'; values: number[] }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

/** Messages from the harness to a worker process. */
export type ParentMessage = { type: 'go' } | { type: 'stop' };
