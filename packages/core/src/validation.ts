/**
 * Input checks shared by the engine's public methods. Each check throws a `ValidationError`
 * naming the field (a dotted path such as `schedule.cron`, `params.items[2]`, `options.delay`)
 * and the rule broken, before anything reaches the store: bad input changes nothing.
 */
import { describeType } from './duration';
import { ValidationError } from './errors';
import type { JsonValue } from './model';
import { STORE_LIMITS } from './store/store';

/** Default cap on params and results, as UTF-8 JSON text: 64 KiB. */
export const DEFAULT_MAX_JSON_BYTES = STORE_LIMITS.maxJsonBytes;

const MAX_JSON_DEPTH = 100;

/**
 * Checks that `value` is plain JSON and at most `maxBytes` long as JSON text, and returns a
 * detached copy of it. Refused (rule `json`): `undefined`, functions, symbols, BigInt, NaN and
 * infinities, class instances (Date, Map, Set, Buffer…), cycles; (rule `depth`) nesting deeper
 * than 100; (rule `max-bytes`) a text longer than `maxBytes`.
 */
export function toJsonValue(
  value: unknown,
  field: string,
  maxBytes: number = DEFAULT_MAX_JSON_BYTES,
): JsonValue {
  checkJson(value, field, new Set(), 0);
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new ValidationError(
      field,
      'max-bytes',
      `is ${bytes} bytes as JSON, more than the limit of ${maxBytes}: store large data elsewhere and pass a reference`,
    );
  }
  return JSON.parse(text) as JsonValue;
}

function checkJson(value: unknown, path: string, ancestors: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new ValidationError(path, 'json', `${value} is not JSON: use a finite number or a string`);
      }
      return;
    case 'undefined':
      throw new ValidationError(path, 'json', 'undefined is not JSON: use null or leave the key out');
    case 'bigint':
      throw new ValidationError(path, 'json', 'a BigInt is not JSON: pass it as a string');
    case 'function':
      throw new ValidationError(path, 'json', 'a function is not JSON: pass data, not code');
    case 'symbol':
      throw new ValidationError(path, 'json', 'a symbol is not JSON');
  }
  if (value === null) return;
  const obj = value as object;
  if (depth >= MAX_JSON_DEPTH) {
    throw new ValidationError(path, 'depth', `nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  if (ancestors.has(obj)) {
    throw new ValidationError(path, 'json', 'holds a cycle (an object that contains itself): JSON cannot');
  }
  ancestors.add(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) checkJson(obj[i], `${path}[${i}]`, ancestors, depth + 1);
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? 'a class instance';
      throw new ValidationError(
        path,
        'json',
        `${name} is not plain JSON: convert it (e.g. a Date with toISOString())`,
      );
    }
    for (const key of Object.keys(obj)) {
      checkJson((obj as Record<string, unknown>)[key], joinPath(path, key), ancestors, depth + 1);
    }
  }
  ancestors.delete(obj);
}

/** `a` + `b` as a dotted path (`b` alone when `a` is empty). */
export function joinPath(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** Requires a plain object; returns it typed as a record. */
export function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
    throw new ValidationError(field, 'type', `must be an object, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Refuses keys of `obj` not in `allowed` (rule `unknown-key`), with a suggestion for a likely
 * typo: `shedule` → "did you mean 'schedule'?". Keys whose value is `undefined` count too.
 */
export function checkKnownKeys(obj: object, allowed: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const near = closest(key, allowed);
    throw new ValidationError(
      joinPath(prefix, key),
      'unknown-key',
      `unknown option '${key}'${near === null ? '' : ` (did you mean '${near}'?)`}; known: ${allowed.join(', ')}`,
    );
  }
}

const CONTROL_CHARS = /\p{Cc}/u;

/**
 * Requires a string of `min..max` characters, optionally matching `pattern`. Control characters
 * (newlines, tabs, NUL…) are refused (rule `control-characters`) unless `multiline` is set.
 */
export function checkString(
  value: unknown,
  field: string,
  opts: { min?: number; max: number; pattern?: RegExp; patternHint?: string; multiline?: boolean },
): string {
  if (typeof value !== 'string') {
    throw new ValidationError(field, 'type', `must be a string, got ${describeType(value)}`);
  }
  const min = opts.min ?? 1;
  if (value.length < min) throw new ValidationError(field, 'min-length', `must not be empty`);
  if (value.length > opts.max) {
    throw new ValidationError(
      field,
      'max-length',
      `must be at most ${opts.max} characters, got ${value.length}`,
    );
  }
  if (!opts.multiline && CONTROL_CHARS.test(value)) {
    throw new ValidationError(
      field,
      'control-characters',
      'must not contain control characters (newlines, tabs, NUL…)',
    );
  }
  if (opts.pattern !== undefined && !opts.pattern.test(value)) {
    throw new ValidationError(field, 'pattern', opts.patternHint ?? `does not match ${opts.pattern}`);
  }
  return value;
}

/** Requires a string or null (free text fields). */
export function checkOptionalText(value: unknown, field: string, max: number): string | null {
  if (value === null || value === undefined) return null;
  return checkString(value, field, { min: 0, max, multiline: true });
}

/** Requires an integer in `min..max`. */
export function checkInt(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ValidationError(field, 'integer', `must be an integer, got ${describeValue(value)}`);
  }
  if (value < min) throw new ValidationError(field, 'min', `must be at least ${min}, got ${value}`);
  if (value > max) throw new ValidationError(field, 'max', `must be at most ${max}, got ${value}`);
  return value;
}

/** Requires a finite number in `min..max`. */
export function checkNumber(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ValidationError(field, 'number', `must be a finite number, got ${describeValue(value)}`);
  }
  if (value < min || value > max) {
    throw new ValidationError(field, 'range', `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/** Requires a boolean. */
export function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') {
    throw new ValidationError(field, 'type', `must be true or false, got ${describeValue(value)}`);
  }
  return value;
}

/** Requires one of `values`. */
export function checkEnum<T extends string>(value: unknown, field: string, values: readonly T[]): T {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new ValidationError(
      field,
      'enum',
      `must be one of ${values.map((v) => `'${v}'`).join(', ')}, got ${describeValue(value)}`,
    );
  }
  return value as T;
}

/** Requires an array of at most `maxItems` strings of 1..`maxLength` characters. */
export function checkStringArray(
  value: unknown,
  field: string,
  maxItems: number,
  maxLength: number,
): string[] {
  if (!Array.isArray(value)) {
    throw new ValidationError(field, 'type', `must be an array of strings, got ${describeType(value)}`);
  }
  if (value.length > maxItems) {
    throw new ValidationError(field, 'max-items', `must hold at most ${maxItems} items, got ${value.length}`);
  }
  return value.map((v, i) => checkString(v, `${field}[${i}]`, { max: maxLength }));
}

/** Requires a point in time: a Date, ms since the epoch, or an ISO 8601 string; returns ms. */
export function checkTime(value: unknown, field: string): number {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number') ms = value;
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) ms = Date.parse(value);
  else {
    throw new ValidationError(
      field,
      'time',
      `must be a Date, ms since the epoch or an ISO 8601 string, got ${describeValue(value)}`,
    );
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > 8_640_000_000_000_000) {
    throw new ValidationError(field, 'time', `is not a valid point in time`);
  }
  return Math.round(ms);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value.slice(0, 40)}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return describeType(value);
}

function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
