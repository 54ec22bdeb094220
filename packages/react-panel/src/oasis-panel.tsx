/**
 * `<OasisPanel baseUrl="/admin/oasis" />`: the whole admin panel in one component, for any React
 * 18 or 19 app. It needs nothing from the host but where the admin API is mounted and, when the
 * API needs credentials the browser does not send by itself, a `fetch` that adds them.
 */
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import type { Role } from './client/api-types';
import { OasisClient } from './client/oasis-client';
import { ClientContext, useMe, useStore } from './hooks/use-oasis';
import { AuditPage } from './pages/audit-page';
import { DashboardPage } from './pages/dashboard-page';
import { JobFormPage } from './pages/job-form-page';
import { JobsPage } from './pages/jobs-page';
import { NodesPage } from './pages/nodes-page';
import { RunPage } from './pages/run-page';
import { RunsPage } from './pages/runs-page';
import { type PanelApi, PanelContext, roleAllows, type View } from './panel-context';
import { PANEL_CSS } from './styles';

/** Props of `<OasisPanel>`. */
export interface OasisPanelProps {
  /** Where the admin API is mounted, e.g. `/admin/oasis`. */
  baseUrl: string;
  /**
   * The fetch the panel uses for every call, including the live log streams (default the global
   * `fetch`, which sends the page's cookies to its own origin). Pass one that adds an
   * `Authorization` header when the API wants a token.
   */
  fetch?: typeof fetch;
  /** `light`, `dark`, or `auto` to follow the system (default `auto`). */
  theme?: 'light' | 'dark' | 'auto';
  /** The page to open first (default the dashboard). */
  initialView?: View;
  /** Extra class on the root element. */
  className?: string;
}

const NAV: { page: View['page']; label: string }[] = [
  { page: 'dashboard', label: 'Dashboard' },
  { page: 'jobs', label: 'Jobs' },
  { page: 'runs', label: 'Runs' },
  { page: 'nodes', label: 'Nodes' },
  { page: 'audit', label: 'Audit' },
];

/** The section a view belongs to, for the navigation's `aria-current`. */
function section(view: View): View['page'] {
  if (view.page === 'job-form') return 'jobs';
  if (view.page === 'run') return 'runs';
  return view.page;
}

const darkQuery = '(prefers-color-scheme: dark)';

/** Follows the system's dark mode (false where `matchMedia` is missing, e.g. on the server). */
function usePrefersDark(): boolean {
  return useSyncExternalStore(
    (cb) => {
      if (typeof window === 'undefined' || !window.matchMedia) return () => {};
      const mq = window.matchMedia(darkQuery);
      mq.addEventListener('change', cb);
      return () => mq.removeEventListener('change', cb);
    },
    () => (typeof window !== 'undefined' && window.matchMedia ? window.matchMedia(darkQuery).matches : false),
    () => false,
  );
}

function AuthBanner({ client, role }: { client: OasisClient; role: Role | null }) {
  const notice = useStore(client.auth);
  if (notice.kind === 'unauthorized') {
    return (
      <div className="op-banner op-banner-auth" role="alert" data-auth="unauthorized">
        <strong>Sign in required.</strong>
        <span>
          The admin API did not accept your credentials ({notice.message}). Sign in to the host app, then
          reload.
        </span>
      </div>
    );
  }
  if (notice.kind === 'forbidden') {
    return (
      <div className="op-banner op-banner-role" role="alert" data-auth="forbidden">
        <strong>Your role cannot do this.</strong>
        <span>
          {notice.message}
          {role ? ` (signed in as ${role})` : ''}
        </span>
        <button
          type="button"
          className="op-btn op-small"
          onClick={() => client.auth.dispatch({ type: 'dismiss' })}
        >
          Dismiss
        </button>
      </div>
    );
  }
  return null;
}

function Shell({ client, initialView }: { client: OasisClient; initialView: View }) {
  const [view, setView] = useState<View>(initialView);
  const [status, setStatus] = useState('');
  const me = useMe();
  const role = me.data?.role ?? null;
  const notify = useCallback((message: string) => setStatus(message), []);
  const api: PanelApi = useMemo(
    () => ({ view, navigate: setView, role, can: (need: Role) => roleAllows(role, need), notify }),
    [view, role, notify],
  );
  useEffect(() => {
    if (status === '') return;
    const t = setTimeout(() => setStatus(''), 6000);
    return () => clearTimeout(t);
  }, [status]);
  const current = section(view);
  return (
    <PanelContext.Provider value={api}>
      <header className="op-top">
        <span className="op-brand">Oasis</span>
        <nav aria-label="Oasis panel">
          <ul className="op-nav">
            {NAV.map((n) => (
              <li key={n.page}>
                <button
                  type="button"
                  aria-current={current === n.page ? 'page' : undefined}
                  onClick={() => setView({ page: n.page } as View)}
                >
                  {n.label}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <span className="op-who" data-role={role ?? ''}>
          {me.data ? (
            <>
              {me.data.user} · <strong>{me.data.role}</strong> · app {me.data.app}
            </>
          ) : null}
        </span>
      </header>
      <AuthBanner client={client} role={role} />
      {role === 'viewer' ? (
        <div className="op-banner op-banner-role" data-readonly="true">
          Read only: your role (viewer) can look but not change anything.
        </div>
      ) : null}
      <div className="op-status" role="status" aria-live="polite">
        {status}
      </div>
      <main>
        {view.page === 'dashboard' ? <DashboardPage /> : null}
        {view.page === 'jobs' ? <JobsPage /> : null}
        {view.page === 'job-form' ? <JobFormPage key={view.key ?? '(new)'} editKey={view.key} /> : null}
        {view.page === 'runs' ? <RunsPage key={JSON.stringify(view)} initial={view} /> : null}
        {view.page === 'run' ? <RunPage key={view.id} id={view.id} /> : null}
        {view.page === 'nodes' ? <NodesPage /> : null}
        {view.page === 'audit' ? <AuditPage /> : null}
      </main>
    </PanelContext.Provider>
  );
}

/**
 * The Oasis admin panel: dashboard, jobs, run log center with live logs, nodes and audit log.
 *
 * @example
 * <OasisPanel baseUrl="/admin/oasis" />
 * // with a token the API wants:
 * <OasisPanel baseUrl="/admin/oasis" fetch={(url, init) => fetch(url, { ...init, headers: { ...init?.headers, authorization: `Bearer ${token}` } })} />
 */
export function OasisPanel(props: OasisPanelProps) {
  const { baseUrl, fetch: customFetch } = props;
  const client = useMemo(
    () => new OasisClient({ baseUrl, ...(customFetch ? { fetch: customFetch } : {}) }),
    [baseUrl, customFetch],
  );
  const prefersDark = usePrefersDark();
  const theme = props.theme ?? 'auto';
  const dark = theme === 'dark' || (theme === 'auto' && prefersDark);
  return (
    <div
      className={`oasis-panel${props.className ? ` ${props.className}` : ''}`}
      data-theme={dark ? 'dark' : 'light'}
    >
      <style>{PANEL_CSS}</style>
      <ClientContext.Provider value={client}>
        <Shell key={baseUrl} client={client} initialView={props.initialView ?? { page: 'dashboard' }} />
      </ClientContext.Provider>
    </div>
  );
}
