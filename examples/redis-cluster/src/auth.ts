/**
 * The example's `authorize`: one bearer token, compared in constant time, gives the `admin` role.
 * The launcher passes the token to the nodes (`OASIS_DEMO_TOKEN`, or a random one per start) and
 * prints the panel's address with it in the URL fragment (`/#token=…`), which the page reads and
 * adds to every request through the panel's `fetch` option. In a real app the token would come
 * from your secrets, or `authorize` would read the host's session (see the http-admin README).
 */
import { timingSafeEqual } from 'node:crypto';
import type { AdminPrincipal, AdminRequest } from '@oasis/http-admin';

/** An `authorize` that accepts `Authorization: Bearer <token>` as `ops` with the `admin` role. */
export function bearerAuthorize(token: string): (request: AdminRequest) => AdminPrincipal | null {
  const known = Buffer.from(token);
  return (request) => {
    const header = request.headers.authorization;
    const value = Array.isArray(header) ? header[0] : header;
    if (typeof value !== 'string' || !value.startsWith('Bearer ')) return null;
    const given = Buffer.from(value.slice('Bearer '.length));
    return given.length === known.length && timingSafeEqual(given, known)
      ? { user: 'ops', role: 'admin' }
      : null;
  };
}
