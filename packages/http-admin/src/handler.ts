/**
 * The framework-free handler core: one function from an `AdminRequest` to an `AdminResponse`.
 * It matches the route table, authenticates and authorizes, validates path parameters, query and
 * body with zod, runs the route and turns every error into the one JSON error shape. Nothing is
 * changed unless every check passed.
 */
import { type Scheduler, ValidationError } from '@oasis/core';
import type { z } from 'zod';
import { AdminConfigError, AdminError, toErrorResponse } from './errors';
import { AdminMetrics } from './metrics';
import { buildOpenApi } from './openapi';
import type { AnyRoute, RouteAudit, RouteContext, RouteResult } from './route';
import { ROUTES } from './routes';
import { SingleFlightCache } from './single-flight-cache';
import {
  ADMIN_ROLES,
  type AdminOptions,
  type AdminPrincipal,
  type AdminRequest,
  type AdminResponse,
  type AdminRole,
  type MultiValue,
} from './types';

/** The default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** How long one read of the dashboard is reused by default, ms. */
export const DEFAULT_DASHBOARD_CACHE_MS = 1000;

const OPTION_KEYS = [
  'authorize',
  'auth',
  'bodyLimit',
  'tailPollMs',
  'publicMetrics',
  'onError',
  'dashboardCacheMs',
  'clock',
];

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

/** The admin API's handler core; mount it with `expressAdmin` or `fastifyAdmin`, or call it yourself. */
export interface AdminHandler<Raw = unknown> {
  /** Serves one request. Never throws: every failure is an error response. */
  handle(request: AdminRequest<Raw>): Promise<AdminResponse>;
  /** The largest body accepted, bytes: mounts stop reading past it. */
  readonly bodyLimit: number;
  /** The route table. */
  readonly routes: readonly AnyRoute[];
  /** The OpenAPI 3.1 document of every route. */
  readonly openapi: Record<string, unknown>;
  /** The Prometheus metrics and their registry (its own, not prom-client's global one). */
  readonly metrics: AdminMetrics;
  /** Stops listening to the scheduler's events (call when unmounting). */
  close(): void;
}

function rank(role: AdminRole): number {
  return ADMIN_ROLES.indexOf(role);
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): AdminResponse {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

function jsonText(status: number, body: string): AdminResponse {
  return { status, headers: { ...JSON_HEADERS }, body };
}

function first(value: MultiValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The zod issue that best names what is wrong: for a union, the deepest issue of any branch. */
function bestIssue(issue: z.core.$ZodIssue): { path: PropertyKey[]; issue: z.core.$ZodIssue } {
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    let best: { path: PropertyKey[]; issue: z.core.$ZodIssue } | null = null;
    for (const branch of issue.errors) {
      const firstIssue = branch[0];
      if (firstIssue === undefined) continue;
      const inner = bestIssue(firstIssue);
      if (best === null || inner.path.length > best.path.length) best = inner;
    }
    if (best !== null && best.path.length > 0) {
      return { path: [...issue.path, ...best.path], issue: best.issue };
    }
  }
  return { path: issue.path, issue };
}

/** The value at a path inside an input, or undefined. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

const RULES: Record<string, string> = {
  invalid_type: 'type',
  too_big: 'max',
  too_small: 'min',
  invalid_value: 'enum',
  invalid_format: 'format',
  not_multiple_of: 'multiple-of',
  unrecognized_keys: 'unknown-key',
  invalid_union: 'type',
  invalid_key: 'key',
  invalid_element: 'element',
  custom: 'custom',
};

/** A zod failure as core's `ValidationError`, naming the field (dotted path) and the rule. */
function zodError(error: z.ZodError, where: 'query' | 'body' | 'path', input: unknown): ValidationError {
  const top = error.issues[0]!;
  const { path, issue } = bestIssue(top);
  let field = path.map(String).join('.');
  let rule = RULES[issue.code] ?? issue.code;
  if (issue.code === 'unrecognized_keys') {
    field = [...path.map(String), issue.keys[0]].join('.');
  }
  if (issue.code === 'invalid_type' && valueAt(input, path) === undefined) rule = 'required';
  const custom = (issue as { params?: { rule?: unknown } }).params?.rule;
  if (typeof custom === 'string') rule = custom;
  if (field === '') field = where;
  const message =
    issue.code === 'unrecognized_keys'
      ? `is not a known ${where === 'query' ? 'query parameter' : 'field'}`
      : rule === 'required'
        ? 'is required'
        : issue.message;
  return new ValidationError(field, rule, message);
}

function parseWith<T>(schema: z.ZodType<T> | undefined, value: unknown, where: 'query' | 'body' | 'path'): T {
  if (schema === undefined) return value as T;
  const r = schema.safeParse(value);
  if (!r.success) throw zodError(r.error, where, value);
  return r.data;
}

function checkOptions(scheduler: unknown, options: unknown): void {
  const s = scheduler as Partial<Scheduler> | null;
  if (s === null || typeof s !== 'object' || typeof s.jobs !== 'object' || typeof s.app !== 'string') {
    throw new AdminConfigError('scheduler', 'type', 'pass the Scheduler of this app (new Scheduler({ … }))');
  }
  if (options === null || typeof options !== 'object') {
    throw new AdminConfigError('authorize', 'required', 'pass options with an authorize function');
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new AdminConfigError(key, 'unknown-key', `is not an option (known: ${OPTION_KEYS.join(', ')})`);
    }
  }
  if (o.auth !== undefined && o.auth !== 'none') {
    throw new AdminConfigError('auth', 'enum', "may only be 'none' (to turn authentication off on purpose)");
  }
  if (o.auth === 'none' && o.authorize !== undefined) {
    throw new AdminConfigError('auth', 'exclusive', "give authorize or auth: 'none', not both");
  }
  if (o.auth === undefined && typeof o.authorize !== 'function') {
    throw new AdminConfigError(
      'authorize',
      'required',
      "the admin API will not mount without authentication: pass authorize(request) => { user, role } | null, or auth: 'none' to run it open on purpose",
    );
  }
  const int = (key: string, min: number, max: number) => {
    const v = o[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      throw new AdminConfigError(key, 'range', `must be an integer from ${min} to ${max}`);
    }
  };
  int('bodyLimit', 1, 64 * 1024 * 1024);
  int('tailPollMs', 5, 60_000);
  int('dashboardCacheMs', 0, 60_000);
  if (o.clock !== undefined) {
    const clock = o.clock as { now?: unknown } | null;
    if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function') {
      throw new AdminConfigError('clock', 'type', 'must have a now() method (a Clock of @oasis/core)');
    }
  }
  if (o.onError !== undefined && typeof o.onError !== 'function') {
    throw new AdminConfigError('onError', 'type', 'must be a function');
  }
}

/** Is this content type JSON (`application/json`, `application/*+json`)? */
function isJsonType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Creates the handler core for a scheduler. Throws `AdminConfigError` (a `ValidationError` on
 * `options.<field>`) when there is no `authorize` function and no explicit `auth: 'none'`, or
 * for any bad option: the admin API never mounts open by accident.
 *
 * @example
 * const admin = createAdminHandler(scheduler, {
 *   authorize: (req) => (req.headers.authorization === `Bearer ${process.env.OASIS_TOKEN}` ? { user: 'ops', role: 'admin' } : null),
 * });
 * const res = await admin.handle({ method: 'GET', path: '/jobs', query: {}, headers });
 */
export function createAdminHandler<Raw = unknown>(
  scheduler: Scheduler,
  options: AdminOptions<Raw>,
): AdminHandler<Raw> {
  checkOptions(scheduler, options);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const tailPollMs = options.tailPollMs ?? 250;
  const publicMetrics = options.publicMetrics === true;
  const authorize = options.authorize;
  const onError =
    options.onError ??
    ((error: unknown) => {
      console.error('[oasis http-admin]', error);
    });
  const metrics = new AdminMetrics(scheduler);
  const openapi = buildOpenApi(ROUTES, { publicMetrics });
  const dashboardCache = new SingleFlightCache<string>({
    ttlMs: options.dashboardCacheMs ?? DEFAULT_DASHBOARD_CACHE_MS,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });

  const report = (error: unknown, request: AdminRequest<Raw>) => {
    try {
      onError(error, request);
    } catch {
      // A failing reporter must not turn an answer into a crash.
    }
  };

  /** The route for a method and path, or an error response (404, 405). */
  const match = (
    method: string,
    path: string,
  ): { route: AnyRoute; params: Record<string, string> } | AdminError => {
    const segments = path.split('/').filter((s) => s !== '');
    let decoded: string[];
    try {
      decoded = segments.map((s) => decodeURIComponent(s));
    } catch {
      return new AdminError(
        'ROUTE_NOT_FOUND',
        `no route ${method} ${path.slice(0, 200)}: bad percent-encoding`,
      );
    }
    let best: { route: AnyRoute; params: Record<string, string>; literals: number } | null = null;
    const allowed = new Set<string>();
    for (const route of ROUTES) {
      if (route.segments.length !== decoded.length) continue;
      const params: Record<string, string> = {};
      let literals = 0;
      let ok = true;
      for (let i = 0; i < decoded.length; i++) {
        const seg = route.segments[i]!;
        if (seg.startsWith(':')) params[seg.slice(1)] = decoded[i]!;
        else if (seg === segments[i]) literals++;
        else {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      allowed.add(route.method);
      if (route.method !== method) continue;
      if (best === null || literals > best.literals) best = { route, params, literals };
    }
    if (best !== null) return best;
    if (allowed.size > 0) {
      const allow = [...allowed].join(', ');
      return new AdminError(
        'METHOD_NOT_ALLOWED',
        `${method} is not allowed on ${path.slice(0, 200)} (allowed: ${allow})`,
        { headers: { allow } },
      );
    }
    return new AdminError('ROUTE_NOT_FOUND', `no route ${method} ${path.slice(0, 200)}`);
  };

  const authenticate = async (request: AdminRequest<Raw>): Promise<AdminPrincipal> => {
    if (authorize === undefined) return { user: 'anonymous', role: 'admin' };
    const principal = await authorize(request);
    if (principal === null || principal === undefined) {
      throw new AdminError('UNAUTHORIZED', 'credentials are missing or not valid');
    }
    if (
      typeof principal !== 'object' ||
      typeof principal.user !== 'string' ||
      principal.user.length === 0 ||
      !ADMIN_ROLES.includes(principal.role)
    ) {
      throw new Error(
        `authorize() returned ${JSON.stringify(principal)?.slice(0, 100)}: return { user: string, role: 'viewer' | 'operator' | 'admin' } or null`,
      );
    }
    return { user: principal.user.slice(0, 200), role: principal.role };
  };

  /** The body's value and whether one was sent; `checkType` vets the content type before any parsing. */
  const readBody = (
    request: AdminRequest<Raw>,
    checkType: (present: boolean) => void,
  ): { value: unknown; present: boolean } => {
    const body = request.body;
    if (body === undefined) {
      checkType(false);
      return { value: undefined, present: false };
    }
    if (!(body instanceof Uint8Array)) {
      const parsed = body.parsed;
      const present =
        parsed !== undefined &&
        !(
          typeof parsed === 'object' &&
          parsed !== null &&
          !Array.isArray(parsed) &&
          Object.keys(parsed).length === 0
        );
      checkType(present);
      return { value: parsed, present };
    }
    if (body.byteLength > bodyLimit) {
      throw new AdminError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${bodyLimit} bytes`, {
        field: 'body',
        rule: 'max-bytes',
      });
    }
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    const present = text.trim() !== '';
    checkType(present);
    if (!present) return { value: undefined, present: false };
    try {
      return { value: JSON.parse(text), present: true };
    } catch {
      throw new ValidationError('body', 'json', 'is not valid JSON');
    }
  };

  const serve = async (request: AdminRequest<Raw>, signal: AbortSignal): Promise<AdminResponse> => {
    const method = request.method.toUpperCase();
    const path = request.path === '' ? '/' : request.path;
    const found = match(method, path);
    if (found instanceof AdminError) throw found;
    const { route } = found;
    const isPublic = route.role === 'metrics' && publicMetrics;
    const principal: AdminPrincipal = isPublic
      ? { user: 'anonymous', role: 'viewer' }
      : await authenticate(request);
    const need: AdminRole = route.role === 'metrics' ? 'viewer' : route.role;
    const requireRole = (role: AdminRole) => {
      if (rank(principal.role) < rank(role)) {
        throw new AdminError(
          'FORBIDDEN',
          `this needs the ${role} role; '${principal.user}' is ${principal.role}`,
        );
      }
    };
    requireRole(need);

    for (const [key, value] of Object.entries(request.query)) {
      if (Array.isArray(value)) throw new ValidationError(key, 'single', 'may be given once only');
    }
    const params = parseWith(route.params, found.params, 'path');
    const query = parseWith(route.query, request.query, 'query');
    let body: unknown = {};
    let hasBody = false;
    if (route.body !== undefined) {
      const contentType = first(request.headers['content-type']);
      const { value, present } = readBody(request, (present) => {
        // POST is the one method a cross-site form or a no-cors fetch can send with the
        // caller's cookies: JSON only, even when empty, so the browser must ask first (CORS).
        if ((method === 'POST' || present) && !isJsonType(contentType)) {
          throw new AdminError(
            'UNSUPPORTED_MEDIA_TYPE',
            'send content-type: application/json (also with an empty body)',
            { field: 'content-type', rule: 'json' },
          );
        }
      });
      if (!present && route.bodyOptional !== true) {
        throw new ValidationError('body', 'required', 'a JSON body is required');
      }
      hasBody = present;
      body = parseWith(route.body, present ? value : {}, 'body');
    }

    const ctx: RouteContext<unknown, unknown, unknown> = {
      scheduler,
      store: scheduler.store,
      app: scheduler.app,
      principal,
      params,
      query,
      body,
      hasBody,
      request: request as AdminRequest,
      signal,
      metrics,
      openapi,
      tailPollMs,
      dashboardCache,
      require: requireRole,
      audit: async (entry: RouteAudit) => {
        try {
          await scheduler.store.appendAudit({ ...entry, app: scheduler.app, actor: principal.user });
        } catch (err) {
          report(err, request);
        }
      },
    };
    const result: RouteResult = await route.run(ctx);
    if ('sse' in result) {
      return {
        status: 200,
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
          'x-content-type-options': 'nosniff',
        },
        stream: result.sse,
      };
    }
    if ('text' in result) {
      return {
        status: result.status ?? 200,
        headers: { 'content-type': result.contentType, 'cache-control': 'no-store' },
        body: result.text,
      };
    }
    if ('jsonText' in result) return jsonText(result.status ?? 200, result.jsonText);
    return json(result.status ?? 200, result.json);
  };

  return {
    bodyLimit,
    routes: ROUTES,
    openapi,
    metrics,
    close: () => {
      metrics.close();
      dashboardCache.clear();
    },
    async handle(request) {
      const signal = request.signal ?? new AbortController().signal;
      try {
        return await serve(request, signal);
      } catch (err) {
        const { status, body } = toErrorResponse(err);
        if (status >= 500 && !(err instanceof AdminError)) report(err, request);
        const headers: Record<string, string> = err instanceof AdminError ? { ...err.headers } : {};
        if (status === 401) headers['www-authenticate'] = 'Bearer realm="oasis-admin"';
        return json(status, body, headers);
      }
    },
  };
}
