/**
 * The admin API's errors and the one table that maps every error code to an HTTP status.
 * Every refused request answers with the same JSON shape:
 * `{ "error": { "code", "message", "field", "rule" } }` (`field` and `rule` are null unless the
 * input was at fault).
 */
import { OasisError, type OasisErrorCode, ValidationError } from '@oasis/core';

/** Codes the admin API adds to core's: they exist only at the HTTP edge. */
export type AdminOnlyErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INTERNAL';

/** Every code an admin API error response may carry. */
export type AdminErrorCode = OasisErrorCode | AdminOnlyErrorCode;

/**
 * The HTTP status of each code, in one table. Typed over every code, so a code added to core
 * fails compilation here until it is given a status.
 */
export const STATUS_BY_CODE: Readonly<Record<AdminErrorCode, number>> = {
  VALIDATION: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  FENCED: 409,
  SCHEDULER_STATE: 409,
  STORE_UNAVAILABLE: 503,
  STORE_CLOSED: 503,
  STORE_ERROR: 500,
  SCHEMA_TOO_NEW: 500,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL: 500,
};

/** The JSON body of every error response. */
export interface AdminErrorBody {
  error: {
    /** A stable machine-readable code (core's codes plus the admin API's). */
    code: AdminErrorCode;
    /** What went wrong and what to do, for people. */
    message: string;
    /** The input at fault: a dotted path in the body or the name of a query or path parameter. */
    field: string | null;
    /** The rule it broke (`type`, `required`, `max`, `enum`, `cron`, `time-zone`, `unknown-key`…). */
    rule: string | null;
  };
}

/**
 * An error raised at the HTTP edge (auth, routing, body limits). It extends core's `OasisError`
 * so `instanceof OasisError` holds for everything the admin API throws; `adminCode` carries the
 * admin-only code that core's closed `OasisErrorCode` union has no room for, and `status` its
 * HTTP status from `STATUS_BY_CODE`.
 */
export class AdminError extends OasisError {
  /** The code sent in the response body. */
  readonly adminCode: AdminErrorCode;
  /** The HTTP status sent. */
  readonly status: number;
  /** The input at fault, when there is one. */
  readonly field: string | null;
  /** The rule broken, when there is one. */
  readonly rule: string | null;
  /** Extra response headers (`allow` for 405). */
  readonly headers: Readonly<Record<string, string>>;

  /** Creates an edge error with its code; status comes from `STATUS_BY_CODE`. */
  constructor(
    code: AdminOnlyErrorCode,
    message: string,
    details: { field?: string; rule?: string; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    // Core's code union is closed; the admin-only code lives in `adminCode`.
    super(code as unknown as OasisErrorCode, message, { cause: details.cause });
    this.adminCode = code;
    this.status = STATUS_BY_CODE[code];
    this.field = details.field ?? null;
    this.rule = details.rule ?? null;
    this.headers = { ...details.headers };
  }
}

/**
 * Thrown by `createAdminHandler` (and so by `expressAdmin` / `fastifyAdmin`) when the options
 * cannot make a safe admin API — above all, no `authorize` function without `auth: 'none'`.
 * A `ValidationError` on `options.<field>`, so it is refused before anything is mounted.
 */
export class AdminConfigError extends ValidationError {
  /** Creates a configuration error for `options.<field>`. */
  constructor(field: string, rule: string, message: string) {
    super(`options.${field}`, rule, message);
  }
}

/** Core's field paths as the HTTP client knows them: store-level prefixes are dropped. */
function clientField(field: string): string {
  return field.replace(/^(?:filter|page|query|job|batch|options)\./, '');
}

/** The status and JSON body of any thrown value; unknown errors become a bare 500. */
export function toErrorResponse(err: unknown): { status: number; body: AdminErrorBody } {
  if (err instanceof AdminError) {
    return {
      status: err.status,
      body: { error: { code: err.adminCode, message: err.message, field: err.field, rule: err.rule } },
    };
  }
  if (err instanceof ValidationError) {
    const field = clientField(err.field);
    return {
      status: STATUS_BY_CODE.VALIDATION,
      body: { error: { code: 'VALIDATION', message: err.message, field, rule: err.rule } },
    };
  }
  if (err instanceof OasisError && Object.hasOwn(STATUS_BY_CODE, err.code)) {
    const status = STATUS_BY_CODE[err.code];
    // Store internals are not for HTTP clients: keep the code, hide driver details.
    const message =
      err.code === 'STORE_ERROR' || err.code === 'SCHEMA_TOO_NEW'
        ? 'the store failed: see the server logs'
        : err.message;
    return { status, body: { error: { code: err.code, message, field: null, rule: null } } };
  }
  return {
    status: 500,
    body: {
      error: { code: 'INTERNAL', message: 'internal error: see the server logs', field: null, rule: null },
    },
  };
}
