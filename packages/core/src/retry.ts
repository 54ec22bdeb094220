/**
 * Retry policies: parsing what users write, and the delay before each retry.
 */
import { type Duration, parseDuration } from './duration';
import { ValidationError } from './errors';
import type { BackoffKind, RetryPolicy } from './model';
import { checkEnum, checkInt, checkKnownKeys, checkNumber, joinPath, requireObject } from './validation';

/**
 * A retry policy as users write it; every key optional. A number is shorthand for
 * `{ maxAttempts: n }`.
 */
export type RetryInput =
  | number
  | {
      /** Total attempts including the first (1..1000); default 1: no retry. */
      maxAttempts?: number;
      /** `fixed`, `linear` or `exponential` (default). */
      backoff?: BackoffKind;
      /** The base delay (default `'1s'`). */
      delay?: Duration;
      /** The cap on any one delay (default `'1h'`). */
      maxDelay?: Duration;
      /** Random spread, a fraction 0..1 of the delay taken off it (default 0.2; 0 for exact delays). */
      jitter?: number;
    };

/** The policy used when none is given: a single attempt. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 1,
  backoff: 'exponential',
  delayMs: 1_000,
  maxDelayMs: 3_600_000,
  jitter: 0.2,
}) as RetryPolicy;

/** The backoff kinds. */
export const BACKOFF_KINDS: readonly BackoffKind[] = ['fixed', 'linear', 'exponential'];

/**
 * Parses a retry policy over `base` (defaults to `DEFAULT_RETRY`). Also accepts the model's own
 * form (`delayMs`, `maxDelayMs`). Throws `ValidationError` naming `retry.<key>`.
 */
export function parseRetry(input: unknown, field = 'retry', base: RetryPolicy = DEFAULT_RETRY): RetryPolicy {
  if (input === undefined || input === null) return { ...base };
  if (typeof input === 'number') {
    return { ...base, maxAttempts: checkInt(input, joinPath(field, 'maxAttempts'), 1, 1000) };
  }
  const obj = requireObject(input, field);
  checkKnownKeys(
    obj,
    ['maxAttempts', 'backoff', 'delay', 'maxDelay', 'jitter', 'delayMs', 'maxDelayMs'],
    field,
  );
  const out: RetryPolicy = { ...base };
  if (obj.maxAttempts !== undefined)
    out.maxAttempts = checkInt(obj.maxAttempts, joinPath(field, 'maxAttempts'), 1, 1000);
  if (obj.backoff !== undefined)
    out.backoff = checkEnum(obj.backoff, joinPath(field, 'backoff'), BACKOFF_KINDS);
  if (obj.delay !== undefined) out.delayMs = parseDuration(obj.delay, joinPath(field, 'delay'));
  if (obj.delayMs !== undefined) out.delayMs = parseDuration(obj.delayMs, joinPath(field, 'delayMs'));
  if (obj.maxDelay !== undefined) out.maxDelayMs = parseDuration(obj.maxDelay, joinPath(field, 'maxDelay'));
  if (obj.maxDelayMs !== undefined)
    out.maxDelayMs = parseDuration(obj.maxDelayMs, joinPath(field, 'maxDelayMs'));
  if (obj.jitter !== undefined) out.jitter = checkNumber(obj.jitter, joinPath(field, 'jitter'), 0, 1);
  if (out.maxDelayMs < out.delayMs && (obj.maxDelay !== undefined || obj.maxDelayMs !== undefined)) {
    throw new ValidationError(
      joinPath(field, 'maxDelay'),
      'range',
      `(${out.maxDelayMs} ms) must not be less than delay (${out.delayMs} ms)`,
    );
  }
  if (out.maxDelayMs < out.delayMs) out.maxDelayMs = out.delayMs;
  return out;
}

/**
 * The delay before retry number `retry` (1 for the first retry, i.e. the second attempt):
 * `fixed` → delay; `linear` → delay × retry; `exponential` → delay × 2^(retry−1); capped at
 * `maxDelayMs`; then jitter takes a random share of up to `jitter` off it, so the result lies
 * in [capped × (1 − jitter), capped]. `random` returns [0, 1) (injectable for tests).
 */
export function retryDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const n = Math.max(1, retry);
  let raw: number;
  switch (policy.backoff) {
    case 'fixed':
      raw = policy.delayMs;
      break;
    case 'linear':
      raw = policy.delayMs * n;
      break;
    case 'exponential':
      raw = policy.delayMs * 2 ** Math.min(n - 1, 60);
      break;
  }
  const capped = Math.min(raw, policy.maxDelayMs);
  const spread = policy.jitter > 0 ? capped * policy.jitter * random() : 0;
  return Math.max(0, Math.round(capped - spread));
}
