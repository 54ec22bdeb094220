import { partitionOf, STORE_LIMITS, ValidationError } from '@oasis/core';
import { describe, expect, it } from 'vitest';

describe('partitionOf', () => {
  it('is FNV-1a 32-bit of the UTF-8 key modulo the partition count', () => {
    // FNV-1a('') = 0x811c9dc5, FNV-1a('a') = 0xe40c292c, FNV-1a('foobar') = 0xbf9cf968
    expect(partitionOf('')).toBe(0x811c9dc5 % 64);
    expect(partitionOf('a')).toBe(0xe40c292c % 64);
    expect(partitionOf('foobar', 1000)).toBe(0xbf9cf968 % 1000);
    expect(partitionOf('foobar', 1)).toBe(0);
  });

  it('hashes UTF-8 bytes, not UTF-16 code units', () => {
    // 'é' is the bytes c3 a9 in UTF-8 (FNV-1a 0x1e9de8c1) but the single code unit e9 in UTF-16
    expect(partitionOf('é', 2 ** 32 - 1)).toBe(0x1e9de8c1 % (2 ** 32 - 1));
  });

  it('stays in range and spreads keys over the partitions', () => {
    const counts = new Array<number>(STORE_LIMITS.partitions).fill(0);
    for (let i = 0; i < 6400; i++) {
      const p = partitionOf(`job-${i}`);
      expect(Number.isInteger(p) && p >= 0 && p < STORE_LIMITS.partitions).toBe(true);
      counts[p]!++;
    }
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(150);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => partitionOf('a', 0)).toThrow(ValidationError);
    expect(() => partitionOf('a', 1.5)).toThrow(ValidationError);
  });
});
