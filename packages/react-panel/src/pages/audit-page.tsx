/** The audit log: who changed what and when, with the before and after; filters and paging. */
import { useState } from 'react';
import type { AuditQuery, Json } from '../client/api-types';
import { useQuery } from '../hooks/use-oasis';
import { ErrorBox, Field, PageHead, TableWrap } from '../ui/components';
import { formatTime } from '../ui/format';

/** The keys whose values differ between two snapshots (top level). */
export function changedKeys(before: Json, after: Json): string[] {
  const obj = (v: Json) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
  const b = obj(before);
  const a = obj(after);
  const keys = new Set([...Object.keys(b), ...Object.keys(a)]);
  return [...keys].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k])).sort();
}

/** A few words on an audit entry's change: created, removed, details, or the keys that changed. */
export function auditSummary(action: string, before: Json, after: Json): string {
  if (before === null) return action.endsWith('.create') ? 'created' : 'details';
  if (after === null) return 'removed';
  const keys = changedKeys(before, after);
  return keys.length ? keys.join(', ') : 'no change';
}

/** The audit page. */
export function AuditPage() {
  const [actor, setActor] = useState('');
  const [targetType, setTargetType] = useState('');
  const [targetId, setTargetId] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const query: AuditQuery = {
    actor: actor.trim() || undefined,
    targetType: (targetType || undefined) as AuditQuery['targetType'],
    targetId: targetId.trim() || undefined,
    cursor: cursors.at(-1),
    limit: 50,
  };
  const audit = useQuery(
    `audit:${JSON.stringify(query)}`,
    (c, s) => c.listAudit(query, s),
    cursors.length === 0 ? { refetchMs: 5000 } : {},
  );
  return (
    <div>
      <PageHead title="Audit log" />
      <form className="op-filters" aria-label="Audit filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Actor">
          {({ id }) => (
            <input
              id={id}
              value={actor}
              onChange={(e) => {
                setActor(e.target.value);
                setCursors([]);
              }}
            />
          )}
        </Field>
        <Field label="Target type">
          {({ id }) => (
            <select
              id={id}
              value={targetType}
              onChange={(e) => {
                setTargetType(e.target.value);
                setCursors([]);
              }}
            >
              <option value="">any</option>
              <option value="job">job</option>
              <option value="run">run</option>
              <option value="node">node</option>
              <option value="app">app</option>
            </select>
          )}
        </Field>
        <Field label="Target">
          {({ id }) => (
            <input
              id={id}
              value={targetId}
              onChange={(e) => {
                setTargetId(e.target.value);
                setCursors([]);
              }}
            />
          )}
        </Field>
      </form>
      <ErrorBox error={audit.error} />
      <TableWrap label="Audit entries">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th>Target</th>
            <th>Change</th>
          </tr>
        </thead>
        <tbody>
          {(audit.data?.items ?? []).map((e) => {
            return (
              <tr key={e.id}>
                <td className="op-small">{formatTime(e.at)}</td>
                <td>{e.actor}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  {e.targetType} <strong>{e.targetId}</strong>
                </td>
                <td>
                  <details>
                    <summary>{auditSummary(e.action, e.before, e.after)}</summary>
                    <div className="op-diff">
                      <div>
                        <div className="op-muted">before</div>
                        <pre className="op-pre">{JSON.stringify(e.before, null, 2)}</pre>
                      </div>
                      <div>
                        <div className="op-muted">after</div>
                        <pre className="op-pre">{JSON.stringify(e.after, null, 2)}</pre>
                      </div>
                    </div>
                  </details>
                </td>
              </tr>
            );
          })}
          {audit.data?.items.length === 0 ? (
            <tr>
              <td colSpan={5} className="op-muted">
                No entries.
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
        <button
          type="button"
          className="op-btn"
          disabled={!audit.data?.nextCursor}
          onClick={() => audit.data?.nextCursor && setCursors([...cursors, audit.data.nextCursor])}
        >
          Older
        </button>
      </div>
    </div>
  );
}
