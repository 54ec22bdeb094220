/**
 * The demo's `authorize`: DEMO ONLY, never use it in production.
 *
 * - No credentials at all: the caller is `demo-admin` with the `admin` role, so the demo opens
 *   with every action available.
 * - `Authorization: Bearer demo-<role>` (viewer, operator or admin): that role, as `demo-<role>`.
 *   The demo page adds this header through the panel's `fetch` option when opened as
 *   `/?as=viewer` (or `operator`); the browser tests log in this way.
 * - Any other bearer token: no valid credentials (401), to show the panel's sign-in banner
 *   (`/?as=nobody`).
 */
import type { AdminPrincipal, AdminRequest, AdminRole } from '@oasis/http-admin';

const ROLES: readonly AdminRole[] = ['viewer', 'operator', 'admin'];

/** Decides the caller of a demo request from its bearer token (see the module comment). */
export function demoAuthorize(request: AdminRequest): AdminPrincipal | null {
  const header = request.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return { user: 'demo-admin', role: 'admin' };
  const match = /^Bearer demo-([a-z]+)$/.exec(value);
  const role = match?.[1] as AdminRole | undefined;
  if (role === undefined || !ROLES.includes(role)) return null;
  return { user: `demo-${role}`, role };
}
