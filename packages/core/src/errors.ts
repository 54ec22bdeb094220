/**
 * Every error Oasis throws is an `OasisError` with a stable `code`. Bad input carries the `field`
 * at fault and the `rule` it broke; driver failures keep the original error as `cause`.
 * The admin API maps `code` to an HTTP status in one table.
 */

/** Stable error codes. Never renamed once released: callers branch on them. */
export type OasisErrorCode =
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'FENCED'
  | 'STORE_UNAVAILABLE'
  | 'STORE_ERROR'
  | 'STORE_CLOSED'
  | 'SCHEMA_TOO_NEW'
  | 'SCHEDULER_STATE';

/** Options common to every Oasis error. */
export interface OasisErrorOptions {
  /** The underlying error, such as a driver's. */
  cause?: unknown;
}

/** Base class of every error Oasis throws. */
export class OasisError extends Error {
  /** A stable machine-readable code. */
  readonly code: OasisErrorCode;

  /** Creates an error with a stable code and a message that says what to do. */
  constructor(code: OasisErrorCode, message: string, options: OasisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Bad input: refused before anything is changed. `field` names the input at fault
 * (a dotted path such as `schedule.cron` or `params`), `rule` the rule it broke.
 */
export class ValidationError extends OasisError {
  /** The dotted path of the field at fault, e.g. `schedule.tz`. */
  readonly field: string;
  /** A short name of the rule broken, e.g. `cron`, `json`, `max-bytes`, `unknown-key`. */
  readonly rule: string;

  /** Creates a validation error for `field` breaking `rule`. */
  constructor(field: string, rule: string, message: string, options: OasisErrorOptions = {}) {
    super('VALIDATION', `${field}: ${message}`, options);
    this.field = field;
    this.rule = rule;
  }
}

/** A job, run, node or other record that does not exist. */
export class NotFoundError extends OasisError {
  /** The kind of record looked for. */
  readonly entity: 'job' | 'run' | 'node' | 'audit';
  /** The id or key looked for. */
  readonly id: string;

  /** Creates a not-found error for the given record. */
  constructor(entity: 'job' | 'run' | 'node' | 'audit', id: string) {
    super(
      'NOT_FOUND',
      `${entity} '${id}' does not exist: check the ${entity === 'job' ? 'key and app' : 'id'}`,
    );
    this.entity = entity;
    this.id = id;
  }
}

/**
 * A compare-and-set lost: the record changed since it was read (a version mismatch), or a record
 * that must not exist already does. Re-read and try again.
 */
export class ConflictError extends OasisError {
  /** Creates a conflict error. */
  constructor(message: string, options: OasisErrorOptions = {}) {
    super('CONFLICT', message, options);
  }
}

/**
 * A write from a node incarnation that the cluster declared dead, from a former leader whose epoch
 * is stale, or for a run that this node no longer owns. The write was refused; the node must stop
 * what it was doing (and rejoin with a new incarnation when it was declared dead).
 */
export class FencedError extends OasisError {
  /** What was fenced: the node session, the leader lease, or the ownership of a run. */
  readonly scope: 'node' | 'leader' | 'run';

  /** Creates a fencing error. */
  constructor(scope: 'node' | 'leader' | 'run', message: string) {
    super('FENCED', message);
    this.scope = scope;
  }
}

/**
 * The store cannot be reached (connection refused or dropped, server restarting). Transient: the
 * engine backs off and retries; nothing was changed by the failed call, or it is safe to retry.
 */
export class StoreUnavailableError extends OasisError {
  /** Creates an unavailability error around the driver's error. */
  constructor(message: string, options: OasisErrorOptions = {}) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/** Any other failure inside a store, with the driver's error as `cause`. */
export class StoreError extends OasisError {
  /** Creates a store error around the driver's error. */
  constructor(message: string, options: OasisErrorOptions = {}) {
    super('STORE_ERROR', message, options);
  }
}

/** A call on a store after `close()`. */
export class StoreClosedError extends OasisError {
  /** Creates a closed-store error naming the method called. */
  constructor(method: string) {
    super('STORE_CLOSED', `store.${method}() was called after close(): create a new store`);
  }
}

/** The database holds a schema newer than this version of Oasis knows: upgrade Oasis. */
export class SchemaTooNewError extends OasisError {
  /** Creates the error with the versions found and known. */
  constructor(found: string, known: string) {
    super(
      'SCHEMA_TOO_NEW',
      `the store's schema is at migration '${found}' but this Oasis knows only up to '${known}': upgrade @oasis packages on this node`,
    );
  }
}

/** A scheduler method called in a state that does not allow it (e.g. `start()` twice). */
export class SchedulerStateError extends OasisError {
  /** Creates a scheduler state error. */
  constructor(message: string) {
    super('SCHEDULER_STATE', message);
  }
}

/** True when `err` is an Oasis error with the given code. */
export function isOasisError(err: unknown, code?: OasisErrorCode): err is OasisError {
  return err instanceof OasisError && (code === undefined || err.code === code);
}
