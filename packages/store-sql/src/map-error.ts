import { OasisError, StoreError, StoreUnavailableError } from '@oasis/core';

/** Node socket errors that mean the server cannot be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOTCONN',
]);

/** PostgreSQL SQLSTATEs of a server going away or not accepting connections. */
const PG_UNAVAILABLE = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '53300', // too_many_connections
]);

/** mysql2 / MySQL codes of a lost or refused connection. */
const MYSQL_UNAVAILABLE = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_CONNECTION_KILLED',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
  'CR_CONN_HOST_ERROR',
]);

/** Driver messages of a dropped connection that carry no code (pg). */
const UNAVAILABLE_MESSAGE =
  /connection terminated|terminating connection|server closed the connection|timeout exceeded when trying to connect|connection is closed|closed state|Connection lost|the database system is (starting up|shutting down|in recovery)/i;

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when `err` (or its cause, or an aggregate's member) says the server cannot be reached. */
export function isUnavailable(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 4) return false;
  const code = codeOf(err);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || PG_UNAVAILABLE.has(code) || MYSQL_UNAVAILABLE.has(code)) return true;
    // PostgreSQL class 08: connection exception
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (err instanceof Error && UNAVAILABLE_MESSAGE.test(err.message)) return true;
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.some((e) => isUnavailable(e, depth + 1))) return true;
  return isUnavailable((err as { cause?: unknown }).cause, depth + 1);
}

/** True for a unique/primary key violation (PostgreSQL 23505, MySQL 1062, SQLite constraint). */
export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return (
    code === '23505' ||
    code === 'ER_DUP_ENTRY' ||
    (err as { errno?: unknown })?.errno === 1062 ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/**
 * True for a deadlock or serialization failure (PostgreSQL 40P01/40001, MySQL 1213): the database
 * rolled the transaction back and it is safe to run it again.
 */
export function isRetryableConflict(err: unknown): boolean {
  const code = codeOf(err);
  return (
    code === '40P01' ||
    code === '40001' ||
    code === 'ER_LOCK_DEADLOCK' ||
    (err as { errno?: unknown })?.errno === 1213
  );
}

/** True when the unique violation is on the index whose name ends with `indexSuffix`. */
export function isViolationOf(err: unknown, indexSuffix: string): boolean {
  if (!isUniqueViolation(err)) return false;
  const e = err as { constraint?: string; message?: string };
  return (e.constraint ?? '').endsWith(indexSuffix) || (e.message ?? '').includes(indexSuffix);
}

/**
 * Turns a driver error into an Oasis error: Oasis errors pass through; a server that cannot be
 * reached becomes `StoreUnavailableError` (retry later); anything else `StoreError`. SQLite's
 * SQLITE_BUSY after the busy timeout is a `StoreError`: the file is there, only contended.
 */
export function toOasisError(err: unknown, store: string, method: string): OasisError {
  if (err instanceof OasisError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isUnavailable(err)) {
    return new StoreUnavailableError(
      `${store} store is unavailable during ${method}(): ${message}; the call changed nothing that was not rolled back, retry when the database is back`,
      { cause: err },
    );
  }
  return new StoreError(`${store} store failed in ${method}(): ${message}`, { cause: err });
}
