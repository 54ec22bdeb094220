/**
 * Small pieces every store needs the same way: keyset cursors and empty stats buckets. Shared
 * here so that every store refuses a foreign cursor with the same error and counts the same fields.
 */
import { FencedError, NotFoundError, ValidationError } from '../errors';
import type { RunDraft, RunRecord, StatsBucket } from '../model';
import type { CompleteRequest, CompleteResult, CompleteRunsItem, HourlyTotals } from './store';

/**
 * Whether a run lost with its node (or its lease) is run again: while its attempt is at most
 * `maxAttempts`. A failure takes an attempt and is retried while `attempt < maxAttempts`; a loss
 * may take one attempt more, so with the default `maxAttempts: 1` a task whose node dies runs
 * once more on another node (as BullMQ's default `maxStalledCount: 1` does), and a handler that
 * kills every node it runs on still runs at most `maxAttempts + 1` times. Every store's
 * `reapDeadNodes` applies this rule.
 */
export function lostRunRetries(run: Pick<RunRecord, 'attempt' | 'retry'>): boolean {
  return run.attempt <= run.retry.maxAttempts;
}

/**
 * A new run of what `run` ran (its job, handler, params, retry policy, timeout, shard, priority,
 * block strategy and routing), with `run` as its parent and no target node: the draft of a
 * retry, a lost run's retry or a manual re-run. `fields` gives what differs (trigger, attempt,
 * when it is scheduled for, its idempotency key, a delay).
 */
export function rerunDraft(
  run: RunRecord,
  fields: Pick<RunDraft, 'trigger' | 'scheduledFor' | 'attempt' | 'idempotencyKey'> &
    Pick<Partial<RunDraft>, 'delayMs'>,
): RunDraft {
  return {
    app: run.app,
    jobKey: run.jobKey,
    handler: run.handler,
    params: run.params,
    retry: run.retry,
    timeoutMs: run.timeoutMs,
    shardIndex: run.shardIndex,
    shardTotal: run.shardTotal,
    priority: run.priority,
    block: run.block,
    routing: run.routing,
    targetNode: null,
    parentRunId: run.id,
    ...fields,
  };
}

/**
 * `Store.completeRuns` done one `completeRun` at a time: a correct fallback for a store without a
 * batched path. Refusals (`FencedError`, `NotFoundError`) become `{ ok: false }` entries; any
 * other error ends the batch and is thrown.
 */
export async function completeEach(
  complete: (request: CompleteRequest) => Promise<CompleteResult>,
  requests: CompleteRequest[],
): Promise<CompleteRunsItem[]> {
  const items: CompleteRunsItem[] = [];
  for (const request of requests) {
    try {
      const { run, retry } = await complete(request);
      items.push({ ok: true, run, retry });
    } catch (error) {
      if (error instanceof FencedError || error instanceof NotFoundError) items.push({ ok: false, error });
      else throw error;
    }
  }
  return items;
}

/** An opaque keyset cursor made from its parts (base64url of a JSON array of strings). */
export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

/**
 * The parts of a cursor made by `encodeCursor` with `size` parts. Anything else, such as a cursor
 * of another listing or a hand-made string, is refused with a `ValidationError` on `page.cursor`.
 */
export function decodeCursor(cursor: string, size: number): string[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.length === size && parts.every((p) => typeof p === 'string')) {
      return parts as string[];
    }
  } catch {
    // not base64url JSON: refused below
  }
  throw new ValidationError(
    'page.cursor',
    'cursor',
    'is not a cursor of this listing: pass back a `nextCursor` exactly as it was returned',
  );
}

/**
 * Adds `from`'s counts and durations into `into` (the max duration is the larger one): how a
 * store sums stats buckets into per-app or per-hour totals.
 */
export function addStatsCounts(into: HourlyTotals, from: HourlyTotals): void {
  into.succeeded += from.succeeded;
  into.failed += from.failed;
  into.dead += from.dead;
  into.timedOut += from.timedOut;
  into.cancelled += from.cancelled;
  into.lost += from.lost;
  into.skipped += from.skipped;
  into.totalDurationMs += from.totalDurationMs;
  into.maxDurationMs = Math.max(into.maxDurationMs, from.maxDurationMs);
}

/** A stats bucket of one app, job (null for one-off tasks) and hour with every count at zero. */
export function emptyStatsBucket(app: string, jobKey: string | null, hour: number): StatsBucket {
  return {
    app,
    jobKey,
    hour,
    succeeded: 0,
    failed: 0,
    dead: 0,
    timedOut: 0,
    cancelled: 0,
    lost: 0,
    skipped: 0,
    totalDurationMs: 0,
    maxDurationMs: 0,
  };
}
