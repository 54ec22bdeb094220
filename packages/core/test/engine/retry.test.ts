import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, parseRetry, type RetryPolicy, retryDelayMs, ValidationError } from '../../src/index';

const policy = (p: Partial<RetryPolicy>): RetryPolicy => ({ ...DEFAULT_RETRY, jitter: 0, ...p });

describe('retryDelayMs', () => {
  it('fixed: the same delay each time', () => {
    const p = policy({ backoff: 'fixed', delayMs: 1000 });
    expect([1, 2, 3, 4].map((n) => retryDelayMs(p, n))).toEqual([1000, 1000, 1000, 1000]);
  });

  it('linear: delay × n', () => {
    const p = policy({ backoff: 'linear', delayMs: 1000 });
    expect([1, 2, 3, 4].map((n) => retryDelayMs(p, n))).toEqual([1000, 2000, 3000, 4000]);
  });

  it('exponential: delay × 2^(n−1), capped at maxDelay', () => {
    const p = policy({ backoff: 'exponential', delayMs: 1000, maxDelayMs: 5000 });
    expect([1, 2, 3, 4, 5, 60].map((n) => retryDelayMs(p, n))).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('jitter takes at most its share off the delay, never adds', () => {
    const p = policy({ backoff: 'exponential', delayMs: 1000, maxDelayMs: 60_000, jitter: 0.3 });
    expect(retryDelayMs(p, 3, () => 0)).toBe(4000);
    expect(retryDelayMs(p, 3, () => 0.999999)).toBe(2800);
    const samples = Array.from({ length: 2000 }, () => retryDelayMs(p, 3));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(2800);
    expect(Math.max(...samples)).toBeLessThanOrEqual(4000);
    expect(new Set(samples).size).toBeGreaterThan(100); // it does spread
    const full = policy({ delayMs: 1000, backoff: 'fixed', jitter: 1 });
    const fullSamples = Array.from({ length: 500 }, () => retryDelayMs(full, 1));
    expect(Math.min(...fullSamples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...fullSamples)).toBeLessThanOrEqual(1000);
  });
});

describe('parseRetry', () => {
  it('reads durations and defaults', () => {
    expect(parseRetry({ maxAttempts: 3, backoff: 'linear', delay: '2s', maxDelay: '1m', jitter: 0 })).toEqual(
      {
        maxAttempts: 3,
        backoff: 'linear',
        delayMs: 2000,
        maxDelayMs: 60_000,
        jitter: 0,
      },
    );
    expect(parseRetry(5).maxAttempts).toBe(5);
    expect(parseRetry(undefined)).toEqual(DEFAULT_RETRY);
  });

  it.each([
    [{ maxAttempts: 0 }, 'retry.maxAttempts', 'min'],
    [{ maxAttempts: 1.5 }, 'retry.maxAttempts', 'integer'],
    [{ backoff: 'quadratic' }, 'retry.backoff', 'enum'],
    [{ delay: 'soon' }, 'retry.delay', 'duration'],
    [{ jitter: 2 }, 'retry.jitter', 'range'],
    [{ delay: '10s', maxDelay: '1s' }, 'retry.maxDelay', 'range'],
    [{ attempts: 3 }, 'retry.attempts', 'unknown-key'],
  ])('refuses %j as %s (%s)', (input, field, rule) => {
    try {
      parseRetry(input);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect({ field: (err as ValidationError).field, rule: (err as ValidationError).rule }).toEqual({
        field,
        rule,
      });
    }
  });
});
