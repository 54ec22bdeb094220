/** Nodes: state (and the state an operator asked for), load, heartbeat age, handlers; drain, pause, resume, remove. */
import { useState } from 'react';
import type { NodeInfo } from '../client/api-types';
import { useAction, useClient, useQuery } from '../hooks/use-oasis';
import { roleHint, usePanel } from '../panel-context';
import { Badge, Dialog, ErrorBox, PageHead, TableWrap } from '../ui/components';
import { formatDuration, formatRelative } from '../ui/format';

/** The colour of a node state. */
export function nodeTone(state: NodeInfo['state']): 'ok' | 'warn' | 'bad' | 'muted' {
  if (state === 'active') return 'ok';
  if (state === 'draining' || state === 'paused' || state === 'leaving') return 'warn';
  return 'bad';
}

/** The nodes page. */
export function NodesPage() {
  const client = useClient();
  const { navigate, notify, role } = usePanel();
  const nodes = useQuery('nodes', (c, s) => c.listNodes(s), { refetchMs: 2000 });
  const [removing, setRemoving] = useState<string | null>(null);
  const act = useAction((nodeId: string, action: 'drain' | 'pause' | 'resume') =>
    client.nodeAction(nodeId, action),
  );
  const remove = useAction((nodeId: string) => client.removeNode(nodeId));
  const opHint = roleHint(role, 'operator');
  const adminHint = roleHint(role, 'admin');
  const doAction = async (nodeId: string, action: 'drain' | 'pause' | 'resume') => {
    if ((await act.run(nodeId, action)) !== undefined) {
      notify(`Asked ${nodeId} to ${action}`);
      void nodes.refetch();
    }
  };
  return (
    <div>
      <PageHead title="Nodes">
        <button type="button" className="op-btn" onClick={() => void nodes.refetch()}>
          Refresh
        </button>
      </PageHead>
      <ErrorBox error={nodes.error ?? act.error ?? remove.error} />
      <TableWrap label="Nodes">
        <thead>
          <tr>
            <th>Node</th>
            <th>State</th>
            <th>Load</th>
            <th>Heartbeat</th>
            <th>Handlers</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {(nodes.data?.items ?? []).map((n) => (
            <tr key={n.nodeId} data-node={n.nodeId} data-state={n.state} data-desired={n.desiredState ?? ''}>
              <td>
                <strong>{n.nodeId}</strong> {n.leader ? <Badge tone="info">leader</Badge> : null}
                <div className="op-muted op-small">
                  {n.host} · pid {n.pid} · v{n.version} · inc {n.incarnation}
                </div>
              </td>
              <td>
                <Badge tone={nodeTone(n.state)}>{n.state}</Badge>
                {n.desiredState !== null && n.desiredState !== n.state ? (
                  <div className="op-small op-desired">asked: {n.desiredState}</div>
                ) : null}
              </td>
              <td>
                <meter min={0} max={1} value={n.load} aria-label={`Load of ${n.nodeId}`} />{' '}
                <span className="op-small">
                  {n.running}/{n.concurrency}
                </span>
              </td>
              <td className={n.heartbeatAgeMs > 5000 ? 'op-error-text' : undefined}>
                {formatDuration(n.heartbeatAgeMs)} ago
                <div className="op-muted op-small">
                  joined {formatRelative(n.joinedAt, nodes.data?.now ?? Date.now())}
                </div>
              </td>
              <td className="op-small">{n.handlers.join(', ') || '—'}</td>
              <td>
                <div className="op-row-actions">
                  <button
                    type="button"
                    className="op-btn op-small"
                    disabled={opHint !== undefined || act.pending}
                    title={opHint}
                    onClick={() => void doAction(n.nodeId, 'drain')}
                    aria-label={`Drain ${n.nodeId}`}
                  >
                    Drain
                  </button>
                  <button
                    type="button"
                    className="op-btn op-small"
                    disabled={opHint !== undefined || act.pending}
                    title={opHint}
                    onClick={() => void doAction(n.nodeId, 'pause')}
                    aria-label={`Pause ${n.nodeId}`}
                  >
                    Pause
                  </button>
                  <button
                    type="button"
                    className="op-btn op-small"
                    disabled={opHint !== undefined || act.pending}
                    title={opHint}
                    onClick={() => void doAction(n.nodeId, 'resume')}
                    aria-label={`Resume ${n.nodeId}`}
                  >
                    Resume
                  </button>
                  <button
                    type="button"
                    className="op-btn op-small"
                    onClick={() => navigate({ page: 'runs', nodeId: n.nodeId })}
                    aria-label={`Runs of ${n.nodeId}`}
                  >
                    Runs
                  </button>
                  <button
                    type="button"
                    className="op-btn op-small op-danger"
                    disabled={adminHint !== undefined}
                    title={adminHint}
                    onClick={() => setRemoving(n.nodeId)}
                    aria-label={`Remove ${n.nodeId}`}
                  >
                    Remove
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </TableWrap>
      <p className="op-muted op-small">
        Drain, pause and resume are recorded as the node's asked-for state; the node applies them at its next
        heartbeat.
      </p>
      {removing !== null ? (
        <Dialog title={`Remove ${removing}?`} onClose={() => setRemoving(null)}>
          <p>The node is forgotten; if it is still running it is fenced and must rejoin.</p>
          <ErrorBox error={remove.error} />
          <div className="op-actions">
            <button type="button" className="op-btn" onClick={() => setRemoving(null)}>
              Keep
            </button>
            <button
              type="button"
              className="op-btn op-danger"
              onClick={async () => {
                if ((await remove.run(removing)) !== undefined) {
                  notify(`Removed ${removing}`);
                  setRemoving(null);
                  void nodes.refetch();
                }
              }}
            >
              Remove
            </button>
          </div>
        </Dialog>
      ) : null}
    </div>
  );
}
