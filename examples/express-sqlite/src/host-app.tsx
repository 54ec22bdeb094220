/**
 * The demo's host page: a tiny React app with its own (deliberately loud) styles, showing that
 * `<OasisPanel />` drops into any React app and that its styles neither leak out nor take the
 * host's in. Bundled by the launcher with esbuild at startup.
 *
 * Query parameters (DEMO ONLY): `?as=viewer|operator|admin` signs in with that role by adding
 * `Authorization: Bearer demo-<role>` through the panel's `fetch` option (`?as=nobody` sends a
 * token the demo refuses: the panel shows its sign-in banner); `?theme=light|dark|auto`.
 */
import { OasisPanel } from '@oasis/react-panel';
import { createRoot } from 'react-dom/client';

const search = new URLSearchParams(window.location.search);
const as = search.get('as');
const themeParam = search.get('theme');
const theme = themeParam === 'light' || themeParam === 'dark' ? themeParam : 'auto';

/** Adds the demo's bearer token to every request of the panel (also its live log streams). */
const demoFetch: typeof fetch | undefined =
  as === null
    ? undefined
    : (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set('authorization', `Bearer demo-${as}`);
        return fetch(input, { ...init, headers });
      };

const hostCss = `
  body { margin: 0; font-family: Georgia, serif; background: #f3efe6; color: #3b2f1e; }
  .host-bar { padding: 10px 16px; background: #3b2f1e; color: #f3efe6; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
  .host-bar a { color: #ffd27a; }
  /* Hostile global rules: the panel must not pick these up. */
  button { background: hotpink; border: 3px dashed purple; font-family: Georgia, serif; }
  table td { padding: 20px; border: 2px solid orange; }
  h1, h2 { text-transform: uppercase; color: darkred; }
  input { background: yellow; }
  main.host-main { padding: 8px; }
`;

function HostApp() {
  return (
    <>
      <style>{hostCss}</style>
      <header className="host-bar">
        <strong>Acme shop · back office</strong>
        <span>signed in as: {as ?? 'admin (default)'}</span>
        <a href="/?as=viewer">as viewer</a>
        <a href="/?as=operator">as operator</a>
        <a href="/">as admin</a>
        <a href={`/?theme=${theme === 'dark' ? 'light' : 'dark'}${as ? `&as=${as}` : ''}`}>
          {theme === 'dark' ? 'light' : 'dark'} theme
        </a>
      </header>
      <main className="host-main">
        <OasisPanel baseUrl="/admin/oasis" theme={theme} {...(demoFetch ? { fetch: demoFetch } : {})} />
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<HostApp />);
