// @oasis/http-admin: the framework-free admin API core. Named exports only.
// The framework mounts are subpaths: `@oasis/http-admin/express` and `@oasis/http-admin/fastify`.

export type { Dashboard, OutcomeCounts, TrendHour } from './dashboard';
export {
  AdminConfigError,
  AdminError,
  type AdminErrorBody,
  type AdminErrorCode,
  type AdminOnlyErrorCode,
  STATUS_BY_CODE,
  toErrorResponse,
} from './errors';
export {
  type AdminHandler,
  createAdminHandler,
  DEFAULT_BODY_LIMIT,
  DEFAULT_DASHBOARD_CACHE_MS,
} from './handler';
export { tailRunLog } from './log-tail';
export { AdminMetrics } from './metrics';
export { buildOpenApi } from './openapi';
export type { AnyRoute, RouteContext, RouteResult, RouteSpec } from './route';
export { ROUTES } from './routes';
export { type RunSummary, summarizeRun } from './run-summary';
export * as schemas from './schemas';
export {
  ADMIN_ROLES,
  type AdminOptions,
  type AdminPrincipal,
  type AdminRequest,
  type AdminResponse,
  type AdminRole,
  type AdminStreamResponse,
  type AdminTextResponse,
  type AuthorizeFn,
  type MultiValue,
} from './types';
