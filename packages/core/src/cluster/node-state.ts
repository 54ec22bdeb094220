/**
 * Node states as the engine applies them: what a node reports in its heartbeat, whether it
 * claims new runs, and whether it may own schedule partitions. One place, so every rule about a
 * node's state can be read together.
 *
 * - `active`: fires its partitions, claims runs.
 * - `draining`: finishes what it runs, claims nothing new, owns no partition while an active node
 *   can take it (an operator drains a node before removing it).
 * - `paused`: claims nothing new, keeps running what it runs; owns no partition either.
 * - `leaving`: a graceful stop in progress; the store marks it `offline` once it left.
 * - `offline`: silent past the node TTL, or gone.
 */
import type { NodeRecord, NodeState } from '../model';

/** What an operator may ask a node to become (`setNodeDesiredState`). */
export type DesiredNodeState = NonNullable<NodeRecord['desiredState']>;

/** The states an operator may ask for. */
export const DESIRED_NODE_STATES: readonly DesiredNodeState[] = ['active', 'draining', 'paused'];

/**
 * The state a node reports: `leaving` while it stops, else what the operator asked for
 * (`active` when nothing was asked).
 */
export function reportedNodeState(
  desired: DesiredNodeState | null,
  stopping: boolean,
): Exclude<NodeState, 'offline'> {
  if (stopping) return 'leaving';
  return desired ?? 'active';
}

/** Whether a node in this state claims new runs: only `active` ones do. */
export function claimsNewRuns(state: NodeState): boolean {
  return state === 'active';
}

/**
 * The state the leader plans with: what an operator asked for (`desiredState`) as soon as it was
 * asked, for a node that is neither leaving nor offline; else its reported state. So a drain,
 * pause or resume rebalances at the membership change it causes, not a heartbeat later.
 */
export function plannedNodeState(
  node: Pick<NodeRecord, 'state'> & Partial<Pick<NodeRecord, 'desiredState'>>,
): NodeState {
  if (node.state === 'offline' || node.state === 'leaving') return node.state;
  return node.desiredState ?? node.state;
}

/**
 * The nodes that own schedule partitions: the `active` ones (by `plannedNodeState`); when none is
 * active, the `draining` and `paused` ones, so schedules still materialize (their runs wait for a
 * node to claim them).
 */
export function partitionOwners<
  N extends Pick<NodeRecord, 'state'> & Partial<Pick<NodeRecord, 'desiredState'>>,
>(nodes: readonly N[]): N[] {
  const active = nodes.filter((n) => plannedNodeState(n) === 'active');
  if (active.length > 0) return active;
  return nodes.filter((n) => {
    const state = plannedNodeState(n);
    return state === 'draining' || state === 'paused';
  });
}
