/**
 * The scheduler's typed events (eventemitter3), one payload object each, and the emitter that
 * keeps a throwing (or rejecting) listener from hurting the engine.
 */
import { EventEmitter } from 'eventemitter3';
import type { LeaderLease, NodeRecord, RunError, RunRecord } from './model';

/** A run began on this node. */
export interface RunStartedEvent {
  run: RunRecord;
}
/** A run of this node ended well. */
export interface RunSucceededEvent {
  run: RunRecord;
  /** Wall time of the attempt, ms. */
  durationMs: number;
}
/** A run of this node ended with an error (state `failed` when a retry follows, `dead` when not). */
export interface RunFailedEvent {
  run: RunRecord;
  error: RunError;
  /** The retry inserted, or null. */
  retry: RunRecord | null;
}
/** A retry was inserted for a run that failed, timed out or was lost. */
export interface RunRetriedEvent {
  run: RunRecord;
  retry: RunRecord;
  /** Ms until the retry is due. */
  delayMs: number;
}
/** A run of this node ran past its timeout. */
export interface RunTimedOutEvent {
  run: RunRecord;
  retry: RunRecord | null;
}
/** A run was cancelled: pending (at once) or running (its handler aborted). */
export interface RunCancelledEvent {
  run: RunRecord;
}
/**
 * A run was lost: this node learned it no longer owns it (`run` is null then, only `runId`),
 * or this node, as leader, reaped it from a dead node (`run` and `retry` set).
 */
export interface RunLostEvent {
  runId: string;
  run: RunRecord | null;
  retry: RunRecord | null;
}
/** A run failed with no attempt left: it is in the dead-letter list. */
export interface RunDeadEvent {
  run: RunRecord;
  error: RunError;
}
/** A run was recorded as skipped (block strategy or misfire policy); `run.reason` says why. */
export interface RunSkippedEvent {
  run: RunRecord;
}
/** This node materialized a fire of a job. */
export interface JobFiredEvent {
  jobKey: string;
  /** The fire time (the latest one, for a misfire). */
  scheduledFor: number;
  /** The runs inserted (pending or skipped). */
  runs: RunRecord[];
  /** How many fire times this fire stands for (more than 1 after a misfire). */
  missed: number;
  /** True when the misfire policy applied. */
  misfired: boolean;
  /** The job's next fire time, or null. */
  nextFireAt: number | null;
}
/** This node joined (or rejoined after being fenced) with a new incarnation. */
export interface NodeJoinedEvent {
  node: NodeRecord;
}
/** This node left the cluster. */
export interface NodeLeftEvent {
  nodeId: string;
  incarnation: number;
}
/** The leader changed as this node sees it. */
export interface LeaderChangedEvent {
  /** The lease now, or null when none holds it. */
  leader: LeaderLease | null;
  /** True when this node leads. */
  isLeader: boolean;
}
/** This node's schedule partitions changed. */
export interface PartitionsAssignedEvent {
  /** The partitions this node fires; null means all (a single node, before the cluster layer assigns). */
  partitions: number[] | null;
  /** The partition map generation. */
  generation: number;
}
/** Something went wrong in a background loop or a listener; the engine carries on. */
export interface ErrorEvent {
  error: unknown;
  /** Where: `fire`, `claim`, `heartbeat`, `leader`, `complete`, `logs`, `listener`, … */
  during: string;
  /** The run concerned, when one is. */
  runId?: string;
}

/** The leader deleted old final runs (and their logs) per the `retention` option. */
export interface HistoryPrunedEvent {
  /** How many runs this batch deleted. */
  deleted: number;
}

/** Every event of a scheduler, by name. */
export interface OasisEvents {
  'run:started': [RunStartedEvent];
  'run:succeeded': [RunSucceededEvent];
  'run:failed': [RunFailedEvent];
  'run:retried': [RunRetriedEvent];
  'run:timed_out': [RunTimedOutEvent];
  'run:cancelled': [RunCancelledEvent];
  'run:lost': [RunLostEvent];
  'run:dead': [RunDeadEvent];
  'run:skipped': [RunSkippedEvent];
  'job:fired': [JobFiredEvent];
  'node:joined': [NodeJoinedEvent];
  'node:left': [NodeLeftEvent];
  'leader:changed': [LeaderChangedEvent];
  'partitions:assigned': [PartitionsAssignedEvent];
  'history:pruned': [HistoryPrunedEvent];
  error: [ErrorEvent];
}

/** The name of an event. */
export type OasisEventName = keyof OasisEvents;

type Listener = (...args: never[]) => unknown;

/**
 * An `EventEmitter<OasisEvents>` whose listeners are guarded: a listener that throws, or returns
 * a promise that rejects, has its error reported as an `error` event (`during: 'listener'`) and
 * the other listeners and the engine carry on. An `error` listener that fails is ignored.
 */
export class OasisEmitter extends EventEmitter<OasisEvents> {
  #guards = new WeakMap<Listener, Map<OasisEventName, Listener>>();

  #guard(event: OasisEventName, fn: Listener): Listener {
    let byEvent = this.#guards.get(fn);
    if (byEvent === undefined) {
      byEvent = new Map();
      this.#guards.set(fn, byEvent);
    }
    let g = byEvent.get(event);
    if (g === undefined) {
      const report = (error: unknown) => {
        // A failing `error` listener has nowhere left to report to (and must not loop).
        if (event === 'error') return;
        try {
          super.emit('error', { error, during: 'listener' });
        } catch {
          // Guarded listeners do not throw; this is only a belt for the braces.
        }
      };
      g = function (this: unknown, ...args: never[]) {
        try {
          const r = fn.apply(this, args) as unknown;
          if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
            (r as Promise<unknown>).then(undefined, report);
          }
        } catch (err) {
          report(err);
        }
      };
      byEvent.set(event, g);
    }
    return g;
  }

  /** Adds a guarded listener. */
  override on<T extends OasisEventName>(
    event: T,
    fn: EventEmitter.EventListener<OasisEvents, T>,
    context?: unknown,
  ): this {
    return super.on(event, this.#guard(event, fn as Listener) as never, context);
  }

  /** Adds a guarded listener. */
  override addListener<T extends OasisEventName>(
    event: T,
    fn: EventEmitter.EventListener<OasisEvents, T>,
    context?: unknown,
  ): this {
    return super.on(event, this.#guard(event, fn as Listener) as never, context);
  }

  /** Adds a guarded one-time listener. */
  override once<T extends OasisEventName>(
    event: T,
    fn: EventEmitter.EventListener<OasisEvents, T>,
    context?: unknown,
  ): this {
    return super.once(event, this.#guard(event, fn as Listener) as never, context);
  }

  /** Removes a listener added with `on`, `addListener` or `once`. */
  override off<T extends OasisEventName>(
    event: T,
    fn?: EventEmitter.EventListener<OasisEvents, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    const g = fn === undefined ? undefined : this.#guards.get(fn as Listener)?.get(event);
    return super.removeListener(event, (g ?? fn) as never, context, once);
  }

  /** Removes a listener added with `on`, `addListener` or `once`. */
  override removeListener<T extends OasisEventName>(
    event: T,
    fn?: EventEmitter.EventListener<OasisEvents, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    return this.off(event, fn, context, once);
  }

  /**
   * Emits an event; never throws (listeners are guarded). Meant for the engine; returns true
   * when the event had listeners.
   */
  safeEmit<T extends OasisEventName>(event: T, ...args: OasisEvents[T]): boolean {
    try {
      return super.emit(event, ...(args as never));
    } catch {
      return true;
    }
  }
}
