/**
 * The example's `authorize`: DEMO ONLY, never use it in production (see the http-admin README for
 * a real bearer token or the host's session).
 *
 * - No credentials at all: `demo-admin` with the `admin` role, so the page opens with every action.
 * - `Authorization: Bearer demo-<role>` (viewer, operator or admin): that role, as `demo-<role>`.
 *   The page adds this header through the panel's `fetch` option when opened as `/?as=viewer`.
 * - Any other bearer token: refused (401).
 *
 * A small copy of `examples/express-sqlite/src/demo-auth.ts` (that example is an app, not a
 * library: it exports nothing for others to import), so this example stands on its own.
 */
import type { AdminPrincipal, AdminRequest, AdminRole } from '@oasis/http-admin';

const ROLES: readonly AdminRole[] = ['viewer', 'operator', 'admin'];

/** Decides the caller of a request from its bearer token (see the module comment). */
export function demoAuthorize(request: AdminRequest): AdminPrincipal | null {
  const header = request.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return { user: 'demo-admin', role: 'admin' };
  const match = /^Bearer demo-([a-z]+)$/.exec(value);
  const role = match?.[1] as AdminRole | undefined;
  if (role === undefined || !ROLES.includes(role)) return null;
  return { user: `demo-${role}`, role };
}
