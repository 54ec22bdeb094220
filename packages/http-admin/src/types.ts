/**
 * The small request and response objects the handler core works on, the roles, and the
 * options of `createAdminHandler`. Framework mounts translate to and from these and nothing else.
 */

/** Header and query values as Node frameworks hand them over. */
export type MultiValue = string | string[] | undefined;

/**
 * One HTTP request, framework-free. `Raw` is the framework's own request (Express `Request`,
 * Fastify `FastifyRequest`), handed to `authorize` so it can read the host's session.
 */
export interface AdminRequest<Raw = unknown> {
  /** Upper-case method: `GET`, `POST`, `PATCH`, `DELETE`… */
  method: string;
  /** The path below the mount point, still percent-encoded, starting with `/` (no query string). */
  path: string;
  /** Query parameters, decoded; repeated ones as arrays. */
  query: Record<string, MultiValue>;
  /** Request headers, lower-case names. */
  headers: Record<string, MultiValue>;
  /**
   * The body: raw bytes as read by the mount (parsed as JSON by the core, within the body limit),
   * or `{ parsed }` when the host already parsed it (e.g. a global `express.json()`).
   */
  body?: Uint8Array | { parsed: unknown } | undefined;
  /** Aborted when the client goes away (ends SSE tails). */
  signal?: AbortSignal;
  /** The framework's request, for `authorize`. */
  raw?: Raw;
}

/** A complete response: status, headers and a text body. */
export interface AdminTextResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A streamed response (Server-Sent Events): the mount writes each chunk as it comes. */
export interface AdminStreamResponse {
  status: number;
  headers: Record<string, string>;
  /** Chunks of text; ends when the stream is over. Stop iterating (`return()`) to stop it early. */
  stream: AsyncIterable<string>;
}

/** What the handler core answers. */
export type AdminResponse = AdminTextResponse | AdminStreamResponse;

/** Who may do what: each role may also do everything of the roles before it. */
export type AdminRole = 'viewer' | 'operator' | 'admin';

/** Every role, least to most. */
export const ADMIN_ROLES: readonly AdminRole[] = ['viewer', 'operator', 'admin'];

/** The caller as `authorize` sees them: a name for the audit log and a role. */
export interface AdminPrincipal {
  /** Written as the actor of audit entries (1..200 characters). */
  user: string;
  role: AdminRole;
}

/**
 * Decides who is calling: a principal, or null when the request carries no valid credentials
 * (answered 401). A throw is answered 500 and reported through `onError`.
 */
export type AuthorizeFn<Raw = unknown> = (
  request: AdminRequest<Raw>,
) => AdminPrincipal | null | Promise<AdminPrincipal | null>;

/** Options of `createAdminHandler` (and of the Express and Fastify mounts). */
export interface AdminOptions<Raw = unknown> {
  /**
   * Required unless `auth: 'none'`: who is calling, with which role. Without it (and without
   * `auth: 'none'`) creation throws `AdminConfigError`.
   */
  authorize?: AuthorizeFn<Raw>;
  /**
   * `'none'` turns authentication off: every caller is `anonymous` with the `admin` role.
   * For local development only; it must be written out, never defaulted.
   */
  auth?: 'none';
  /** Largest request body accepted, bytes (default 1 MiB); larger ones get 413. */
  bodyLimit?: number;
  /** How often a live log tail reads new lines from the store, ms (default 250). */
  tailPollMs?: number;
  /** `/metrics` without credentials, for scrapers that cannot send any (default false: viewer). */
  publicMetrics?: boolean;
  /** Unexpected errors (answered 500) are passed here (default `console.error`). */
  onError?: (error: unknown, request: AdminRequest<Raw>) => void;
  /**
   * How long one read of the dashboard is served, ms (default 1000, at most 60000): dashboard data
   * can be up to this old. Past half of it, the next request starts the replacing read in the
   * background. Concurrent dashboard requests always share one read, also with 0. The run list,
   * run detail and every other route are never cached.
   */
  dashboardCacheMs?: number;
  /**
   * The time source of the dashboard cache's age (default `Date.now`); core's `Clock` (e.g.
   * `TestClock`) fits, only `now()` is used.
   */
  clock?: { now(): number };
}
