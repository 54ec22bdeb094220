/**
 * The run as lists show it: every field of the record except the three that can be large
 * (`params`, `result`, and the error's `stack`). Run lists (`GET /runs`, the dashboard's recent
 * runs and failures) answer with summaries unless asked for `view=full`; the run detail always
 * answers with the whole record.
 */
import type { RunError, RunRecord } from '@oasis/core';

/** A run without `params` and `result`, its error without `stack`. */
export type RunSummary = Omit<RunRecord, 'params' | 'result' | 'error'> & {
  error: Pick<RunError, 'name' | 'message'> | null;
};

/** The fields a summary leaves out, for the documentation. */
export const SUMMARY_OMITS = ['params', 'result', 'error.stack'] as const;

/** A run's summary: a new object, the record is not changed. */
export function summarizeRun(run: RunRecord): RunSummary {
  // One literal with every field in the record's order: V8 gives all summaries one hidden
  // class, which keeps building and serializing a page of them cheap.
  return {
    id: run.id,
    app: run.app,
    jobKey: run.jobKey,
    handler: run.handler,
    trigger: run.trigger,
    scheduledFor: run.scheduledFor,
    dueAt: run.dueAt,
    attempt: run.attempt,
    retry: run.retry,
    timeoutMs: run.timeoutMs,
    shardIndex: run.shardIndex,
    shardTotal: run.shardTotal,
    priority: run.priority,
    block: run.block,
    routing: run.routing,
    targetNode: run.targetNode,
    ownerNode: run.ownerNode,
    ownerIncarnation: run.ownerIncarnation,
    leaseExpiresAt: run.leaseExpiresAt,
    state: run.state,
    reason: run.reason,
    cancelRequested: run.cancelRequested,
    progress: run.progress,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.durationMs,
    error: run.error === null ? null : { name: run.error.name, message: run.error.message },
    idempotencyKey: run.idempotencyKey,
    parentRunId: run.parentRunId,
  };
}
