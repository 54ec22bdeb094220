/** The error every failed admin API call rejects with. */

/** An admin API error: its HTTP status and the API's `{ code, message, field, rule }`. */
export class OasisApiError extends Error {
  /** The HTTP status (0 when the request never got an answer). */
  readonly status: number;
  /** The API's stable code (`VALIDATION`, `FORBIDDEN`…), or `NETWORK` / `BAD_RESPONSE`. */
  readonly code: string;
  /** The input at fault (`cron`, `schedule.tz`, `retry.maxAttempts`…), or null. */
  readonly field: string | null;
  /** The rule it broke (`cron`, `required`, `max`…), or null. */
  readonly rule: string | null;

  /** Creates an error from the parts of the API's error body. */
  constructor(
    status: number,
    code: string,
    message: string,
    field: string | null = null,
    rule: string | null = null,
  ) {
    super(message);
    this.name = 'OasisApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.rule = rule;
  }

  /** True for 401: the caller must sign in. */
  get unauthorized(): boolean {
    return this.status === 401;
  }

  /** True for 403: the caller's role may not do this. */
  get forbidden(): boolean {
    return this.status === 403;
  }
}

/** Reads an error body of the admin API (or anything else) into an `OasisApiError`. */
export function toApiError(status: number, body: unknown, fallback: string): OasisApiError {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  if (error !== null && typeof error === 'object') {
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    return new OasisApiError(
      status,
      str(error.code) ?? 'HTTP_' + status,
      str(error.message) ?? fallback,
      str(error.field),
      str(error.rule),
    );
  }
  return new OasisApiError(status, `HTTP_${status}`, fallback);
}
