/** The run log center: filters (job, app, node, state, time range) and keyset paging. */
import { useState } from 'react';
import { RUN_STATES, type RunQuery } from '../client/api-types';
import { useQuery } from '../hooks/use-oasis';
import { usePanel } from '../panel-context';
import { ErrorBox, Field, PageHead, RunStateBadge, TableWrap } from '../ui/components';
import { formatDuration, formatTime, parseLocalDateTime } from '../ui/format';

/** The runs page; `initial` pre-fills the filters (from a job's "Runs" or a node). */
export function RunsPage({
  initial,
}: {
  initial: { jobKey?: string | undefined; nodeId?: string | undefined; state?: string | undefined };
}) {
  const { navigate } = usePanel();
  const [jobKey, setJobKey] = useState(initial.jobKey ?? '');
  const [app, setApp] = useState('');
  const [nodeId, setNodeId] = useState(initial.nodeId ?? '');
  const [state, setState] = useState(initial.state ?? '');
  const [trigger, setTrigger] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const query: RunQuery = {
    jobKey: jobKey.trim() || undefined,
    app: app.trim() || undefined,
    nodeId: nodeId.trim() || undefined,
    state: state || undefined,
    trigger: trigger || undefined,
    from: parseLocalDateTime(from),
    to: parseLocalDateTime(to),
    cursor: cursors.at(-1),
    limit: 50,
  };
  // The first page follows new runs; older pages hold still.
  const runs = useQuery(
    `runs:${JSON.stringify(query)}`,
    (c, s) => c.listRuns(query, s),
    cursors.length === 0 ? { refetchMs: 2000 } : {},
  );
  const reset =
    <T,>(setter: (v: T) => void) =>
    (v: T) => {
      setter(v);
      setCursors([]);
    };
  return (
    <div>
      <PageHead title="Runs">
        <button type="button" className="op-btn" onClick={() => void runs.refetch()}>
          Refresh
        </button>
      </PageHead>
      <form className="op-filters" aria-label="Run filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Job">
          {({ id }) => <input id={id} value={jobKey} onChange={(e) => reset(setJobKey)(e.target.value)} />}
        </Field>
        <Field label="App">
          {({ id }) => (
            <input
              id={id}
              value={app}
              placeholder="this app"
              onChange={(e) => reset(setApp)(e.target.value)}
            />
          )}
        </Field>
        <Field label="Node">
          {({ id }) => <input id={id} value={nodeId} onChange={(e) => reset(setNodeId)(e.target.value)} />}
        </Field>
        <Field label="State">
          {({ id }) => (
            <select id={id} value={state} onChange={(e) => reset(setState)(e.target.value)}>
              <option value="">any</option>
              <option value="failed,dead,timed_out,lost">any failure</option>
              {RUN_STATES.map((s) => (
                <option key={s} value={s}>
                  {s.replace('_', ' ')}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Trigger">
          {({ id }) => (
            <select id={id} value={trigger} onChange={(e) => reset(setTrigger)(e.target.value)}>
              <option value="">any</option>
              {['schedule', 'manual', 'api', 'retry', 'misfire', 'dependency'].map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="From">
          {({ id }) => (
            <input
              id={id}
              type="datetime-local"
              value={from}
              onChange={(e) => reset(setFrom)(e.target.value)}
            />
          )}
        </Field>
        <Field label="To">
          {({ id }) => (
            <input id={id} type="datetime-local" value={to} onChange={(e) => reset(setTo)(e.target.value)} />
          )}
        </Field>
      </form>
      <ErrorBox error={runs.error} />
      <TableWrap label="Runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Job</th>
            <th>State</th>
            <th>Trigger</th>
            <th>Node</th>
            <th>Attempt</th>
            <th>Scheduled for</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {(runs.data?.items ?? []).map((r) => (
            <tr
              key={r.id}
              data-run={r.id}
              data-job={r.jobKey ?? ''}
              data-state={r.state}
              className={r.error ? 'op-row-bad' : undefined}
            >
              <td>
                <button
                  type="button"
                  className="op-link"
                  onClick={() => navigate({ page: 'run', id: r.id })}
                  aria-label={`Open run ${r.id} of ${r.jobKey ?? r.handler}`}
                >
                  #{r.id}
                </button>
              </td>
              <td>
                {r.jobKey ?? <span className="op-muted">task: {r.handler}</span>}
                {r.shardTotal > 1 ? (
                  <span className="op-muted">
                    {' '}
                    · shard {r.shardIndex + 1}/{r.shardTotal}
                  </span>
                ) : null}
              </td>
              <td>
                <RunStateBadge state={r.state} />
                {r.cancelRequested && r.state === 'running' ? (
                  <span className="op-muted"> cancelling…</span>
                ) : null}
              </td>
              <td>{r.trigger}</td>
              <td>{r.ownerNode ?? r.targetNode ?? '—'}</td>
              <td>
                {r.attempt}/{r.retry.maxAttempts}
              </td>
              <td className="op-small">{formatTime(r.scheduledFor)}</td>
              <td>
                {r.state === 'running' && r.progress !== null
                  ? `${r.progress} %`
                  : formatDuration(r.durationMs)}
              </td>
            </tr>
          ))}
          {runs.data?.items.length === 0 ? (
            <tr>
              <td colSpan={8} className="op-muted">
                No runs match.
              </td>
            </tr>
          ) : null}
        </tbody>
      </TableWrap>
      <div className="op-pager">
        <button
          type="button"
          className="op-btn"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Newer
        </button>
        <span className="op-muted">page {cursors.length + 1}</span>
        <button
          type="button"
          className="op-btn"
          disabled={!runs.data?.nextCursor}
          onClick={() => runs.data?.nextCursor && setCursors([...cursors, runs.data.nextCursor])}
        >
          Older
        </button>
      </div>
    </div>
  );
}
