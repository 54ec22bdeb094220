/** The panel's own context: where the user is, what their role allows, and a status line. */
import { createContext, useContext } from 'react';
import type { Role } from './client/api-types';

/** A place in the panel. */
export type View =
  | { page: 'dashboard' }
  | { page: 'jobs' }
  | { page: 'job-form'; key?: string }
  | { page: 'runs'; jobKey?: string; nodeId?: string; state?: string }
  | { page: 'run'; id: string }
  | { page: 'nodes' }
  | { page: 'audit' };

/** What pages get from the panel. */
export interface PanelApi {
  view: View;
  navigate(view: View): void;
  /** The caller's role, or null while unknown. */
  role: Role | null;
  /** True when the caller's role is at least `role` (false while unknown). */
  can(role: Role): boolean;
  /** Shows a short status message (announced to screen readers). */
  notify(message: string): void;
}

/** The panel context (set by `<OasisPanel>`). */
export const PanelContext = createContext<PanelApi | null>(null);

/** The panel's navigation, role and status line. */
export function usePanel(): PanelApi {
  const api = useContext(PanelContext);
  if (api === null) throw new Error('usePanel() must be used inside <OasisPanel>');
  return api;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** True when `have` is at least `need`. */
export function roleAllows(have: Role | null, need: Role): boolean {
  return have !== null && RANK[have] >= RANK[need];
}

/** Why a button is disabled for the caller's role, or undefined when allowed. */
export function roleHint(have: Role | null, need: Role): string | undefined {
  return roleAllows(have, need) ? undefined : `needs the ${need} role (you are ${have ?? 'not signed in'})`;
}
