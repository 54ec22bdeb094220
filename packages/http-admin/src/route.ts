/**
 * What one route of the admin API is: method, path template, the least role allowed, the zod
 * schemas of its path parameters, query and body, and the function that serves it. The route
 * table (`routes.ts`) is a list of these; the dispatcher (`handler.ts`) and the OpenAPI document
 * (`openapi.ts`) both read it.
 */
import type { AuditDraft, Scheduler, Store } from '@oasis/core';
import type { z } from 'zod';
import type { AdminMetrics } from './metrics';
import type { SingleFlightCache } from './single-flight-cache';
import type { AdminPrincipal, AdminRequest, AdminRole } from './types';

/**
 * What a route's function returns: JSON (a value, or `jsonText` already serialized), text, or a
 * stream of Server-Sent Events.
 */
export type RouteResult =
  | { status?: number; json: unknown }
  | { status?: number; jsonText: string }
  | { status?: number; text: string; contentType: string }
  | { sse: AsyncIterable<string> };

/** An audit entry as routes write it: app and actor are filled in. */
export type RouteAudit = Omit<AuditDraft, 'app' | 'actor'>;

/** What a route's function gets: the validated input, the caller, and the engine. */
export interface RouteContext<P, Q, B> {
  readonly scheduler: Scheduler;
  /** The scheduler's guarded store. */
  readonly store: Store;
  /** The scheduler's app. */
  readonly app: string;
  readonly principal: AdminPrincipal;
  readonly params: P;
  readonly query: Q;
  /** The validated body; `{}` when the route takes an optional body and none came. */
  readonly body: B;
  /** True when the request carried a non-empty body. */
  readonly hasBody: boolean;
  readonly request: AdminRequest;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  readonly metrics: AdminMetrics;
  /** The OpenAPI document of the whole API. */
  readonly openapi: Record<string, unknown>;
  readonly tailPollMs: number;
  /**
   * The dashboard's shared reads, by app: serialized answers, reused for the `dashboardCacheMs`
   * option and shared by concurrent requests. Nothing else is cached.
   */
  readonly dashboardCache: SingleFlightCache<string>;
  /** Throws 403 unless the caller has at least `role` (for routes whose role depends on the body). */
  require(role: AdminRole): void;
  /** Writes an audit entry as the caller; a failed write is reported, not thrown (the change is made). */
  audit(entry: RouteAudit): Promise<void>;
}

/** The declaration of one route. */
export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** A template below the mount point, e.g. `/jobs/:key/trigger`. */
  path: string;
  /** The least role allowed; `metrics` is viewer unless the `publicMetrics` option is set. */
  role: AdminRole | 'metrics';
  /** Whether the route changes something (documented; such routes write audit entries). */
  mutates: boolean;
  /** One line for the OpenAPI document. */
  summary: string;
  /** The OpenAPI tag (group). */
  tag: 'dashboard' | 'jobs' | 'runs' | 'nodes' | 'audit' | 'meta';
  params?: P;
  query?: Q;
  body?: B;
  /** When true the body may be absent (validated as `{}`). */
  bodyOptional?: boolean;
  /** What a success looks like (default `json`). */
  produces?: 'json' | 'text' | 'sse';
  /** Status of a success (default 200). */
  successStatus?: number;
  run(ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<RouteResult>;
}

/** A route with its types erased, as the table holds it. */
export interface AnyRoute {
  readonly method: RouteSpec<z.ZodType, z.ZodType, z.ZodType>['method'];
  readonly path: string;
  readonly role: AdminRole | 'metrics';
  readonly mutates: boolean;
  readonly summary: string;
  readonly tag: RouteSpec<z.ZodType, z.ZodType, z.ZodType>['tag'];
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly bodyOptional?: boolean;
  readonly produces?: 'json' | 'text' | 'sse';
  readonly successStatus?: number;
  /** The path split on `/`; `:name` segments are parameters. */
  readonly segments: readonly string[];
  run(ctx: RouteContext<unknown, unknown, unknown>): Promise<RouteResult>;
}

/** Declares a route; the schemas type its function's input. */
export function defineRoute<
  P extends z.ZodType = z.ZodType<Record<string, never>>,
  Q extends z.ZodType = z.ZodType<Record<string, never>>,
  B extends z.ZodType = z.ZodType<Record<string, never>>,
>(spec: RouteSpec<P, Q, B>): AnyRoute {
  return {
    ...spec,
    segments: spec.path.split('/').filter((s) => s !== ''),
  } as unknown as AnyRoute;
}
