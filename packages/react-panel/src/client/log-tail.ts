/**
 * The live log of one run as a store: the lines so far, whether the run is still going, and the
 * stream's health. It opens the tail when the first listener subscribes, resumes after the last
 * line it has when the stream breaks (after `retryMs`), and stops when the run ends or the last
 * listener leaves.
 */
import { OasisApiError } from './api-error';
import type { LogLine, Run } from './api-types';
import { ExternalStore } from './external-store';
import type { OasisClient } from './oasis-client';

/** A tail's state. */
export interface LogTailState {
  status: 'idle' | 'connecting' | 'live' | 'ended' | 'error';
  lines: LogLine[];
  /** The run as the tail first saw it. */
  run: Run | null;
  /** The run's final state once it ended (null: still going, or deleted). */
  endState: string | null;
  error: Error | null;
}

/** What changes a tail's state. */
export type LogTailAction =
  | { type: 'connect' }
  | { type: 'run'; run: Run }
  | { type: 'lines'; lines: LogLine[] }
  | { type: 'end'; state: string | null }
  | { type: 'error'; error: Error };

/** Most lines kept in memory (older ones are dropped). */
export const MAX_TAIL_LINES = 5000;

/** The one place a tail's state changes. Lines are kept in `seq` order, without duplicates. */
export function logTailReducer(state: LogTailState, action: LogTailAction): LogTailState {
  switch (action.type) {
    case 'connect':
      return { ...state, status: 'connecting', error: null };
    case 'run':
      return { ...state, status: 'live', run: action.run };
    case 'lines': {
      const last = state.lines.at(-1)?.seq ?? 0;
      const fresh = action.lines.filter((l) => l.seq > last);
      if (fresh.length === 0) return state;
      const lines = [...state.lines, ...fresh];
      return {
        ...state,
        status: state.status === 'connecting' ? 'live' : state.status,
        lines: lines.length > MAX_TAIL_LINES ? lines.slice(-MAX_TAIL_LINES) : lines,
      };
    }
    case 'end':
      return { ...state, status: 'ended', endState: action.state };
    case 'error':
      return { ...state, status: 'error', error: action.error };
  }
}

/** The live log of a run. */
export class LogTail extends ExternalStore<LogTailState, LogTailAction> {
  readonly #client: OasisClient;
  readonly #runId: string;
  readonly #retryMs: number;
  #controller: AbortController | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;

  /** Creates the tail of a run; nothing is opened until someone subscribes. */
  constructor(client: OasisClient, runId: string, options: { retryMs?: number } = {}) {
    super({ status: 'idle', lines: [], run: null, endState: null, error: null }, logTailReducer);
    this.#client = client;
    this.#runId = runId;
    this.#retryMs = options.retryMs ?? 2000;
  }

  /** Opens the stream (after the last line held); resolves when it closes. */
  async open(): Promise<void> {
    this.close();
    const controller = new AbortController();
    this.#controller = controller;
    this.dispatch({ type: 'connect' });
    const after = this.getSnapshot().lines.at(-1)?.seq ?? 0;
    // Lines arrive in bursts: hand them over once per macrotask rather than one render per line.
    let pending: LogLine[] = [];
    let flushQueued = false;
    const flush = () => {
      flushQueued = false;
      if (pending.length === 0) return;
      const lines = pending;
      pending = [];
      this.dispatch({ type: 'lines', lines });
    };
    try {
      await this.#client.tailLog(
        this.#runId,
        {
          onRun: (run) => this.dispatch({ type: 'run', run }),
          onLine: (line) => {
            pending.push(line);
            if (!flushQueued) {
              flushQueued = true;
              queueMicrotask(flush);
            }
          },
          onEnd: (end) => {
            flush();
            this.dispatch({ type: 'end', state: end.state });
          },
        },
        { after, signal: controller.signal },
      );
      flush();
      if (!controller.signal.aborted && this.getSnapshot().status !== 'ended') {
        throw new OasisApiError(0, 'NETWORK', 'the log stream closed before the run ended');
      }
    } catch (err) {
      flush();
      if (controller.signal.aborted) return;
      const error = err instanceof Error ? err : new Error(String(err));
      this.dispatch({ type: 'error', error });
      const fatal = error instanceof OasisApiError && error.status >= 400 && error.status < 500;
      if (!fatal && this.listenerCount > 0) {
        this.#retry = setTimeout(() => void this.open(), this.#retryMs);
      }
    } finally {
      if (this.#controller === controller) this.#controller = null;
    }
  }

  /** Closes the stream and cancels a pending reconnect. */
  close(): void {
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    this.#controller?.abort();
    this.#controller = null;
  }

  protected override onFirstSubscriber(): void {
    if (this.getSnapshot().status !== 'ended') void this.open();
  }

  protected override onLastUnsubscribe(): void {
    this.close();
  }
}
