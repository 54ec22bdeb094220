import {
  ConflictError,
  FencedError,
  NotFoundError,
  OasisError,
  StoreError,
  StoreUnavailableError,
} from '@oasis/core';

/** Redis replies that mean the server cannot serve now, though it may soon (retry later). */
const UNAVAILABLE_REPLIES = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|BUSY|NOREPLICAS)\b/;

/** Client-side failures that mean the server cannot be reached. */
const UNAVAILABLE_MESSAGES =
  /Connection is closed|Stream isn't writeable|max retries per request|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|connect ETIMEDOUT|None of startup nodes|Cluster isn't ready/i;

/** Redis 7 appends where a Lua error was raised; the Oasis part is what comes before. */
const SCRIPT_SUFFIX = / script: [0-9a-f]+, on @user_script:\d+\.?$/;

/**
 * The typed error of a refusal a Lua step reports in its reply (rather than raising it):
 * `FENCED run …` → `FencedError`, `NOTFOUND run …` → `NotFoundError`.
 */
export function refusalOf(message: string): FencedError | NotFoundError {
  const fenced = /^FENCED (node|leader|run) ([\s\S]*)$/.exec(message);
  if (fenced) return new FencedError(fenced[1] as 'node' | 'leader' | 'run', `${fenced[1]} ${fenced[2]}`);
  const missing = /^NOTFOUND (job|run|node|audit) ([\s\S]*)$/.exec(message);
  if (missing) return new NotFoundError(missing[1] as 'job' | 'run' | 'node' | 'audit', missing[2]!);
  throw new StoreError(`redis replied with an unknown refusal: ${message}`);
}

/**
 * Turns whatever a Redis call threw into a typed Oasis error: error replies of the Lua steps
 * (`FENCED <scope> …`, `CONFLICT …`, `NOTFOUND <entity> <id>`) into `FencedError`,
 * `ConflictError` and `NotFoundError`; an unreachable or restarting server into
 * `StoreUnavailableError`; anything else into `StoreError` with the original as `cause`.
 */
export function toOasisError(err: unknown, operation: string): OasisError {
  if (err instanceof OasisError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const message = e.message.replace(SCRIPT_SUFFIX, '');
  if (e.name === 'ReplyError') {
    const fenced = /^FENCED (node|leader|run) ([\s\S]*)$/.exec(message);
    if (fenced) return new FencedError(fenced[1] as 'node' | 'leader' | 'run', `${fenced[1]} ${fenced[2]}`);
    const conflict = /^CONFLICT ([\s\S]*)$/.exec(message);
    if (conflict) return new ConflictError(conflict[1]!, { cause: e });
    const missing = /^NOTFOUND (job|run|node|audit) ([\s\S]*)$/.exec(message);
    if (missing) return new NotFoundError(missing[1] as 'job' | 'run' | 'node' | 'audit', missing[2]!);
    if (UNAVAILABLE_REPLIES.test(message)) {
      return new StoreUnavailableError(`redis cannot serve ${operation} now (${message}): retry later`, {
        cause: e,
      });
    }
    return new StoreError(`redis refused ${operation}: ${message}`, { cause: e });
  }
  if (UNAVAILABLE_MESSAGES.test(message) || e.name === 'MaxRetriesPerRequestError') {
    return new StoreUnavailableError(
      `redis is unreachable during ${operation} (${message}): check the server; the call is safe to retry`,
      { cause: e },
    );
  }
  return new StoreError(`redis failed during ${operation}: ${message}`, { cause: e });
}
