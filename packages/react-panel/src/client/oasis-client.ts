/**
 * The panel's HTTP client of the admin API: one typed method per route, the API's error shape
 * as `OasisApiError`, and the live log tail read as Server-Sent Events through `fetch` (so a
 * host's custom fetch can add auth headers, which `EventSource` cannot). Plain TypeScript:
 * usable without React.
 */
import { OasisApiError, toApiError } from './api-error';
import type {
  AuditEntry,
  AuditQuery,
  BatchResult,
  Dashboard,
  Job,
  JobQuery,
  Json,
  LogLine,
  Me,
  NodeInfo,
  Page,
  Run,
  RunDetail,
  RunQuery,
  RunSummary,
  SchedulePreview,
} from './api-types';
import { ExternalStore } from './external-store';
import { SseParser } from './sse-parser';

/** Options of `OasisClient`. */
export interface OasisClientOptions {
  /** Where the admin API is mounted, e.g. `/admin/oasis` or `https://ops.example.com/admin/oasis`. */
  baseUrl: string;
  /**
   * The fetch to use (default the global `fetch`): pass one that adds auth headers. It is also
   * used for the live log tail.
   */
  fetch?: typeof fetch;
}

/** What the host's auth said last: nothing wrong, sign in (401), or a role too low (403). */
export type AuthNotice =
  | { kind: 'ok' }
  | { kind: 'unauthorized'; message: string }
  | { kind: 'forbidden'; message: string };

type AuthAction = { type: 'ok' } | { type: 'error'; error: OasisApiError } | { type: 'dismiss' };

/** Applies an auth outcome: a 401 stays until a request succeeds; a 403 until dismissed or a success. */
export function authReducer(state: AuthNotice, action: AuthAction): AuthNotice {
  switch (action.type) {
    case 'ok':
      return state.kind === 'unauthorized' ? { kind: 'ok' } : state;
    case 'dismiss':
      return state.kind === 'ok' ? state : { kind: 'ok' };
    case 'error':
      if (action.error.status === 401) return { kind: 'unauthorized', message: action.error.message };
      if (action.error.status === 403) return { kind: 'forbidden', message: action.error.message };
      return state;
  }
}

/** A query string from defined, non-empty values. */
export function queryString(query: Record<string, string | number | boolean | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Events of a live log tail. */
export interface TailHandlers {
  /** The run as it was when the tail started. */
  onRun?(run: Run): void;
  /** Each log line, in order. */
  onLine(line: LogLine): void;
  /** The run ended (state null when it was deleted). */
  onEnd?(end: { state: string | null; finishedAt: number | null }): void;
}

/** The admin API client. */
export class OasisClient {
  readonly #base: string;
  readonly #fetch: typeof fetch;
  /** 401/403 outcomes of every call, for the panel's banner. */
  readonly auth = new ExternalStore<AuthNotice, AuthAction>({ kind: 'ok' }, authReducer);

  /** Creates a client for an admin API mount. */
  constructor(options: OasisClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    const f = options.fetch ?? globalThis.fetch;
    // Called unbound, the global fetch throws "Illegal invocation" in browsers.
    this.#fetch = (input, init) => f(input, init);
  }

  /** The mount's base URL, without a trailing slash. */
  get baseUrl(): string {
    return this.#base;
  }

  /**
   * Calls a route and returns its JSON. Rejects with `OasisApiError`: the API's error, or code
   * `NETWORK` (no answer) or `BAD_RESPONSE` (not JSON). Aborting `signal` rejects with its reason.
   */
  async request<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    options: { body?: unknown; signal?: AbortSignal } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const init: RequestInit = { method, headers, credentials: 'same-origin' };
    if (options.signal !== undefined) init.signal = options.signal;
    if (method !== 'GET') {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body ?? {});
    }
    let response: Response;
    try {
      response = await this.#fetch(this.#base + path, init);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new OasisApiError(0, 'NETWORK', `the admin API cannot be reached: ${(err as Error).message}`);
    }
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new OasisApiError(response.status, 'BAD_RESPONSE', `the answer of ${path} is not JSON`);
      }
    }
    if (!response.ok) {
      const error = toApiError(
        response.status,
        body,
        `${method} ${path} failed with HTTP ${response.status}`,
      );
      this.auth.dispatch({ type: 'error', error });
      throw error;
    }
    this.auth.dispatch({ type: 'ok' });
    return body as T;
  }

  // ---- meta & dashboard ----

  /** The caller's user and role. */
  me(signal?: AbortSignal): Promise<Me> {
    return this.request('GET', '/me', { signal });
  }

  /** The dashboard's figures. */
  dashboard(signal?: AbortSignal): Promise<Dashboard> {
    return this.request('GET', '/dashboard', { signal });
  }

  // ---- jobs ----

  /** One page of jobs. */
  listJobs(query: JobQuery = {}, signal?: AbortSignal): Promise<Page<Job>> {
    return this.request('GET', `/jobs${queryString({ ...query })}`, { signal });
  }

  /** One job. */
  getJob(key: string, signal?: AbortSignal): Promise<Job> {
    return this.request('GET', `/jobs/${encodeURIComponent(key)}`, { signal });
  }

  /** Creates a job from a spec (`{ key, handler, schedule, … }`). */
  createJob(spec: Record<string, unknown>): Promise<Job> {
    return this.request('POST', '/jobs', { body: spec });
  }

  /** Changes a job; with `expectedVersion` only if nobody changed it since. */
  updateJob(key: string, patch: Record<string, unknown>): Promise<Job> {
    return this.request('PATCH', `/jobs/${encodeURIComponent(key)}`, { body: patch });
  }

  /** Deletes a job (its pending runs are cancelled). */
  deleteJob(key: string): Promise<{ deleted: true }> {
    return this.request('DELETE', `/jobs/${encodeURIComponent(key)}`);
  }

  /** Enables (resumes) or disables (pauses) a job. */
  setJobEnabled(key: string, enabled: boolean): Promise<Job> {
    return this.request('POST', `/jobs/${encodeURIComponent(key)}/${enabled ? 'enable' : 'disable'}`);
  }

  /** Runs a job once now; `params` (when given) replace the job's for this run. */
  triggerJob(key: string, params?: Json): Promise<{ runs: Run[] }> {
    return this.request('POST', `/jobs/${encodeURIComponent(key)}/trigger`, {
      body: params === undefined ? {} : { params },
    });
  }

  /** Copies a job under a new key (disabled unless `enabled`). */
  copyJob(key: string, newKey: string, enabled = false): Promise<Job> {
    return this.request('POST', `/jobs/${encodeURIComponent(key)}/copy`, { body: { key: newKey, enabled } });
  }

  /** Enables, disables, triggers or deletes several jobs; each key succeeds or fails on its own. */
  batchJobs(
    action: 'enable' | 'disable' | 'trigger' | 'delete',
    keys: string[],
  ): Promise<{ results: BatchResult[] }> {
    return this.request('POST', '/jobs/batch', { body: { action, keys } });
  }

  /** The next fire times of a cron (in a time zone) or of a fixed rate. */
  previewSchedule(
    schedule: { cron: string; tz?: string } | { every: string },
    count = 5,
    signal?: AbortSignal,
  ): Promise<SchedulePreview> {
    return this.request('GET', `/schedule/preview${queryString({ ...schedule, count })}`, { signal });
  }

  // ---- runs ----

  /** One page of runs, newest first. */
  listRuns(query: RunQuery = {}, signal?: AbortSignal): Promise<Page<RunSummary>> {
    return this.request('GET', `/runs${queryString({ ...query })}`, { signal });
  }

  /** A run with its dispatch context. */
  getRun(id: string, signal?: AbortSignal): Promise<RunDetail> {
    return this.request('GET', `/runs/${encodeURIComponent(id)}`, { signal });
  }

  /** Cancels a run (pending at once, running by aborting its handler). */
  cancelRun(id: string, reason?: string): Promise<{ run: Run; changed: boolean }> {
    return this.request('POST', `/runs/${encodeURIComponent(id)}/cancel`, {
      body: reason === undefined ? {} : { reason },
    });
  }

  /** Runs a final run again with the same params. */
  retriggerRun(id: string): Promise<{ run: Run }> {
    return this.request('POST', `/runs/${encodeURIComponent(id)}/retrigger`);
  }

  /**
   * Tails a run's log: the lines written so far, then each new one, until the run ends (resolves)
   * or `signal` aborts (resolves). Rejects with `OasisApiError` when the stream cannot be opened
   * or breaks; `after` resumes after a line's `seq`.
   */
  async tailLog(id: string, handlers: TailHandlers, options: { after?: number; signal?: AbortSignal } = {}) {
    const init: RequestInit = { headers: { accept: 'text/event-stream' }, credentials: 'same-origin' };
    if (options.signal !== undefined) init.signal = options.signal;
    const url = `${this.#base}/runs/${encodeURIComponent(id)}/logs/stream${queryString({ after: options.after })}`;
    let response: Response;
    try {
      response = await this.#fetch(url, init);
    } catch (err) {
      if (options.signal?.aborted) return;
      throw new OasisApiError(0, 'NETWORK', `the log stream cannot be opened: ${(err as Error).message}`);
    }
    if (!response.ok || response.body === null) {
      const text = await response.text().catch(() => '');
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {}
      const error = toApiError(response.status, body, `the log stream failed with HTTP ${response.status}`);
      this.auth.dispatch({ type: 'error', error });
      throw error;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    // A custom fetch may not tie the body to the signal: stop reading on abort ourselves.
    const stop = () => {
      reader.cancel().catch(() => {});
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<string>;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (options.signal?.aborted) return;
          throw new OasisApiError(0, 'NETWORK', `the log stream broke: ${(err as Error).message}`);
        }
        if (chunk.done) return;
        for (const event of parser.push(chunk.value)) {
          if (event.event === 'log') handlers.onLine(JSON.parse(event.data) as LogLine);
          else if (event.event === 'run') handlers.onRun?.(JSON.parse(event.data) as Run);
          else if (event.event === 'end') {
            handlers.onEnd?.(JSON.parse(event.data) as { state: string | null; finishedAt: number | null });
            return;
          } else if (event.event === 'error') {
            throw toApiError(500, JSON.parse(event.data), 'the log stream failed');
          }
        }
      }
    } finally {
      options.signal?.removeEventListener('abort', stop);
      stop();
    }
  }

  // ---- nodes & audit ----

  /** The nodes of the app. */
  listNodes(signal?: AbortSignal): Promise<{ now: number; items: NodeInfo[] }> {
    return this.request('GET', '/nodes', { signal });
  }

  /** Asks a node to drain, pause or resume. */
  nodeAction(nodeId: string, action: 'drain' | 'pause' | 'resume'): Promise<NodeInfo> {
    return this.request('POST', `/nodes/${encodeURIComponent(nodeId)}/${action}`);
  }

  /** Forgets a node (an online one is fenced and must rejoin). */
  removeNode(nodeId: string): Promise<{ removed: true }> {
    return this.request('DELETE', `/nodes/${encodeURIComponent(nodeId)}`);
  }

  /** One page of audit entries, newest first. */
  listAudit(query: AuditQuery = {}, signal?: AbortSignal): Promise<Page<AuditEntry>> {
    return this.request('GET', `/audit${queryString({ ...query })}`, { signal });
  }
}
