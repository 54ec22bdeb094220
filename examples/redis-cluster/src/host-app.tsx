/**
 * The example's page: `<OasisPanel baseUrl="/admin/oasis" />` in a tiny React host app. Bundled
 * with esbuild by node 1 when it starts (see `page.ts`).
 *
 * The admin token comes in the URL fragment (`/#token=…`, printed by the launcher; a fragment is
 * never sent to the server) and is kept in sessionStorage; the panel's `fetch` option adds it as
 * `Authorization: Bearer <token>` to every request, live log streams included.
 */
import { OasisPanel } from '@oasis/react-panel';
import { createRoot } from 'react-dom/client';

const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('token');
if (fromHash !== null) {
  sessionStorage.setItem('oasis-demo-token', fromHash);
  history.replaceState(null, '', window.location.pathname + window.location.search);
}
const token = sessionStorage.getItem('oasis-demo-token') ?? '';

/** Adds the admin token to every request of the panel. */
const withToken: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

function HostApp() {
  return (
    <>
      <header style={{ padding: '10px 16px', background: '#7f1d1d', color: '#fef2f2' }}>
        <strong>Redis cluster · Oasis</strong>
      </header>
      <main style={{ padding: 8 }}>
        <OasisPanel baseUrl="/admin/oasis" fetch={withToken} />
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<HostApp />);
