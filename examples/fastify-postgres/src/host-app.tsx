/**
 * The example's page: `<OasisPanel baseUrl="/admin/oasis" />` in a tiny React host app. Bundled
 * with esbuild by node 1 when it starts (see `page.ts`).
 *
 * `?as=viewer|operator|admin` (DEMO ONLY) signs in with that role by adding
 * `Authorization: Bearer demo-<role>` through the panel's `fetch` option; `?theme=light|dark`.
 */
import { OasisPanel } from '@oasis/react-panel';
import { createRoot } from 'react-dom/client';

const search = new URLSearchParams(window.location.search);
const as = search.get('as');
const themeParam = search.get('theme');
const theme = themeParam === 'light' || themeParam === 'dark' ? themeParam : 'auto';

/** Adds the demo bearer token to every request of the panel (live log streams included). */
const demoFetch: typeof fetch | undefined =
  as === null
    ? undefined
    : (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set('authorization', `Bearer demo-${as}`);
        return fetch(input, { ...init, headers });
      };

function HostApp() {
  return (
    <>
      <header
        style={{ padding: '10px 16px', background: '#1f2937', color: '#f9fafb', display: 'flex', gap: 12 }}
      >
        <strong>Fastify + PostgreSQL · Oasis</strong>
        <span>signed in as: {as ?? 'admin (default)'}</span>
        <a style={{ color: '#93c5fd' }} href="/?as=viewer">
          as viewer
        </a>
        <a style={{ color: '#93c5fd' }} href="/">
          as admin
        </a>
      </header>
      <main style={{ padding: 8 }}>
        <OasisPanel baseUrl="/admin/oasis" theme={theme} {...(demoFetch ? { fetch: demoFetch } : {})} />
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<HostApp />);
