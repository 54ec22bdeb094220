/**
 * What a handler receives (`RunContext`), the reasons its `signal` may abort with, and the
 * buffer that batches its log lines into the store.
 */
import type { JsonObject, JsonValue, LogLevel, RunLogDraft, RunTrigger } from './model';
import { STORE_LIMITS } from './store/store';
import { toJsonValue } from './validation';

/**
 * The context of one run, given to its handler.
 *
 * @example
 * scheduler.handle<{ orderId: string }>('close-order', async (ctx) => {
 *   ctx.log('closing', { orderId: ctx.params.orderId });
 *   await closeOrder(ctx.params.orderId, { signal: ctx.signal });
 *   return { closed: true };
 * });
 */
export interface RunContext<P = JsonValue> {
  /** The run's params (a copy: changing it changes nothing stored). */
  readonly params: P;
  /** The run id. */
  readonly runId: string;
  /** The job key, or null for an enqueued one-off task. */
  readonly jobKey: string | null;
  /** The handler name. */
  readonly handler: string;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** The total attempts allowed by the run's retry policy. */
  readonly maxAttempts: number;
  /** The fire time (or asked-for time) the run stands for, ms since the epoch (store time). */
  readonly scheduledFor: number;
  /** What made the run. */
  readonly trigger: RunTrigger;
  /** The shard of a sharded job (`{ index: 0, total: 1 }` otherwise). */
  readonly shard: { readonly index: number; readonly total: number };
  /** The run that this one retries or follows, or null. */
  readonly parentRunId: string | null;
  /**
   * Aborts when the run must stop: its timeout (`TimeoutError`), a cancel (`RunCancelledError`),
   * the node losing the run (`RunLostError`) or a shutdown past its bound (`ShutdownError`);
   * `signal.reason` says which. Pass it on to fetch, streams and timers: a handler that ignores it
   * still has its run ended at that moment and its late result ignored.
   */
  readonly signal: AbortSignal;
  /**
   * Appends a line to the run's log (batched to the store; never throws). Fields must be JSON;
   * messages longer than 8 KiB are cut.
   */
  log(message: string, fields?: JsonObject | null, level?: LogLevel): void;
  /** Reports progress 0..100 (clamped); recorded with the node's next heartbeat. */
  progress(percent: number): Promise<void>;
}

/** A handler: receives the run's context, returns a JSON result (or nothing). */
export type Handler<P = JsonValue> = (ctx: RunContext<P>) => unknown;

/** Why a run's signal aborted. Its `name` is recorded as the run's error name. */
export class RunAbortedError extends Error {
  /** What stopped the run. */
  readonly kind: 'timeout' | 'cancel' | 'lost' | 'shutdown';

  /** Creates an abort reason of a given kind. */
  constructor(kind: RunAbortedError['kind'], message: string) {
    super(message);
    this.kind = kind;
    this.name = new.target.name;
  }
}

/** The run ran past its timeout; it ends `timed_out`. */
export class TimeoutError extends RunAbortedError {
  /** Creates the reason for a run that ran past `timeoutMs`. */
  constructor(timeoutMs: number) {
    super('timeout', `the run took longer than its timeout of ${timeoutMs} ms`);
  }
}

/** The run was cancelled (by `scheduler.cancel`, an operator, or a `replace` block strategy). */
export class RunCancelledError extends RunAbortedError {
  /** Creates the reason for a cancelled run. */
  constructor(reason = 'cancel requested') {
    super('cancel', `the run was cancelled: ${reason}`);
  }
}

/** This node no longer owns the run (reaped as lost, or the node was fenced): its result is dropped. */
export class RunLostError extends RunAbortedError {
  /** Creates the reason for a lost run. */
  constructor(message = 'this node no longer owns the run (it was reaped as lost or the node was fenced)') {
    super('lost', message);
  }
}

/** The node stopped before the handler finished, past the stop bound. */
export class ShutdownError extends RunAbortedError {
  /** Creates the reason for a run aborted at shutdown. */
  constructor(timeoutMs: number) {
    super(
      'shutdown',
      `the node stopped and the handler did not finish within the stop bound of ${timeoutMs} ms`,
    );
  }
}

/**
 * Collects log lines of running handlers and hands them out in batches. Bounded: beyond
 * `maxBuffered` lines waiting for the store, new lines are counted and dropped, and one `warn`
 * line says how many.
 */
export class LogBuffer {
  #lines: RunLogDraft[] = [];
  #dropped = 0;
  readonly #maxBuffered: number;

  /** @param maxBuffered lines held while the store is slow or down (default 10,000). */
  constructor(maxBuffered = 10_000) {
    this.#maxBuffered = maxBuffered;
  }

  /** How many lines wait. */
  get size(): number {
    return this.#lines.length;
  }

  /** Adds a line; sanitizes the message and fields so this never throws. */
  add(runId: string, level: LogLevel, message: unknown, fields: unknown, ts: number): void {
    if (this.#lines.length >= this.#maxBuffered) {
      this.#dropped++;
      return;
    }
    let text = typeof message === 'string' ? message : safeString(message);
    if (text.length > STORE_LIMITS.logMessageMaxLength) {
      text = `${text.slice(0, STORE_LIMITS.logMessageMaxLength - 13)}… [truncated]`;
    }
    this.#lines.push({ runId, level, message: text, fields: sanitizeFields(fields), ts });
  }

  /** Takes up to `max` lines (oldest first), plus a warning about dropped lines if any. */
  take(max: number = STORE_LIMITS.maxBatch): RunLogDraft[] {
    // Room for the warning line, so a batch never exceeds `max`.
    const out = this.#lines.splice(0, this.#dropped > 0 ? Math.max(1, max - 1) : max);
    if (this.#dropped > 0 && out.length > 0) {
      const last = out[out.length - 1]!;
      out.push({
        runId: last.runId,
        level: 'warn',
        message: `${this.#dropped} log line(s) of this node were dropped: the store could not keep up`,
        fields: null,
        ts: last.ts,
      });
      this.#dropped = 0;
    }
    return out;
  }

  /** Puts lines back at the front (after a failed write). */
  putBack(lines: RunLogDraft[]): void {
    const room = Math.max(0, this.#maxBuffered - this.#lines.length);
    if (lines.length > room) this.#dropped += lines.length - room;
    this.#lines.unshift(...lines.slice(0, room));
  }
}

const MAX_FIELDS_BYTES = 8 * 1024;

function sanitizeFields(fields: unknown): JsonObject | null {
  if (fields === undefined || fields === null) return null;
  if (typeof fields !== 'object' || Array.isArray(fields)) return { value: safeString(fields) };
  try {
    return toJsonValue(fields, 'fields', MAX_FIELDS_BYTES) as JsonObject;
  } catch (err) {
    return { invalidFields: err instanceof Error ? err.message.slice(0, 500) : 'not JSON' };
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[unprintable]';
  }
}
