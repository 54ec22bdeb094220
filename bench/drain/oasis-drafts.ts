import type { RetryPolicy, RunDraft } from '@oasis/core';

/** The app every Oasis drain run uses, unique per run so that runs never see each other's work. */
export function benchApp(runId: string): string {
  return `bench_${runId}`;
}

/** The no-op handler's name. */
export const NOOP = 'noop';

/** The `dueAt` a no-op task carries in its params, if any. */
export function dueAtOf(params: unknown): number | undefined {
  const v = (params as { dueAt?: unknown } | null)?.dueAt;
  return typeof v === 'number' ? v : undefined;
}

const NO_RETRY: RetryPolicy = { maxAttempts: 1, backoff: 'fixed', delayMs: 0, maxDelayMs: 0, jitter: 0 };

/**
 * A one-off no-op task as the engine would enqueue it: due at once (or at `dueAt`, store time,
 * which then also travels in its params), no retry, any node.
 */
export function noopDraft(app: string, i: number, now: number, dueAt?: number): RunDraft {
  return {
    app,
    jobKey: null,
    handler: NOOP,
    params: dueAt === undefined ? { i } : { i, dueAt },
    trigger: 'api',
    scheduledFor: dueAt ?? now,
    ...(dueAt === undefined ? {} : { dueAt }),
    attempt: 1,
    retry: NO_RETRY,
    timeoutMs: null,
    shardIndex: 0,
    shardTotal: 1,
    priority: 0,
    block: 'parallel',
    routing: 'any',
    targetNode: null,
    idempotencyKey: null,
    parentRunId: null,
  };
}
