import { ValidationError } from './errors';

/**
 * A length of time: milliseconds as a number, or a string with a unit — `'500ms'`, `'5s'`,
 * `'2m'`, `'1h'`, `'1d'` (decimals allowed: `'1.5s'`).
 */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** The longest duration accepted anywhere: about ten years. */
export const MAX_DURATION_MS = 10 * 366 * 86_400_000;

/**
 * Parses a `Duration` into whole milliseconds (rounded). Throws `ValidationError` naming `field`
 * (rule `duration`) for anything else: a negative or non-finite number, a string without a known
 * unit (`'5'`, `'5 sec'`), or more than `MAX_DURATION_MS`.
 *
 * @example parseDuration('1.5s', 'timeout') // 1500
 */
export function parseDuration(value: unknown, field: string): number {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new ValidationError(field, 'duration', `must be a finite number of ms, got ${value}`);
    }
    ms = value;
  } else if (typeof value === 'string') {
    const m = DURATION_RE.exec(value.trim());
    if (m === null) {
      throw new ValidationError(
        field,
        'duration',
        `'${value.slice(0, 40)}' is not a duration: use ms as a number or a string like '500ms', '5s', '2m', '1h', '1d'`,
      );
    }
    ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  } else {
    throw new ValidationError(
      field,
      'duration',
      `must be ms as a number or a string like '5s', got ${describeType(value)}`,
    );
  }
  if (ms < 0) throw new ValidationError(field, 'min', `must not be negative, got ${ms}`);
  if (ms > MAX_DURATION_MS) {
    throw new ValidationError(field, 'max', `must be at most ${MAX_DURATION_MS} ms (about ten years)`);
  }
  return Math.round(ms);
}

/** A short description of a value's type for error messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a Date';
  return typeof value === 'object' ? 'an object' : typeof value;
}
