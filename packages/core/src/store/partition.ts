import { ValidationError } from '../errors';
import { STORE_LIMITS } from './store';

const encoder = new TextEncoder();

/**
 * The schedule partition of a job key: the FNV-1a 32-bit hash of the key's UTF-8 bytes modulo
 * `partitions`. Stable across processes, platforms and versions, so every node (and every store)
 * agrees on which partition a job falls in.
 *
 * @param key the job key.
 * @param partitions how many partitions there are (default `STORE_LIMITS.partitions`, 64).
 * @returns an integer in `[0, partitions)`.
 * @example partitionOf('nightly-report') // a number from 0 to 63
 */
export function partitionOf(key: string, partitions: number = STORE_LIMITS.partitions): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new ValidationError('partitions', 'range', `must be a positive integer, got ${partitions}`);
  }
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
