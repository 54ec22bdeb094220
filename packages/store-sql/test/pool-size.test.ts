/** The default pool size of the server dialects: 2 × cores + 1, never more than pg's and mysql2's 10. */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultPoolSize } from '../src/index';

describe('defaultPoolSize', () => {
  it('is twice the cores plus one, at most 10', () => {
    expect([1, 2, 3, 4, 5, 8, 64].map((cores) => defaultPoolSize(cores))).toEqual([3, 5, 7, 9, 10, 10, 10]);
  });

  it("reads this host's cores when not told", () => {
    expect(defaultPoolSize()).toBe(Math.min(10, 2 * availableParallelism() + 1));
  });

  it('never goes below one connection', () => {
    expect(defaultPoolSize(0)).toBe(1);
    expect(defaultPoolSize(0.5)).toBe(1);
  });
});
