/** One run: its state, dispatch context, error and result, the live log, cancel and re-trigger. */
import { useEffect, useRef } from 'react';
import { isFinal, type Json, type LogLine } from '../client/api-types';
import { useAction, useClient, useLogTail, useQuery } from '../hooks/use-oasis';
import { roleHint, usePanel } from '../panel-context';
import { ErrorBox, PageHead, RunStateBadge } from '../ui/components';
import { formatDuration, formatJson, formatTime } from '../ui/format';

/** True for a line to highlight: level error, or warn. */
export function lineTone(line: LogLine): 'error' | 'warn' | null {
  if (line.level === 'error') return 'error';
  if (line.level === 'warn') return 'warn';
  return null;
}

function LiveLog({ runId }: { runId: string }) {
  const tail = useLogTail(runId);
  const box = useRef<HTMLOListElement>(null);
  const follow = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll on each new batch of lines.
  useEffect(() => {
    const el = box.current;
    if (el !== null && follow.current) el.scrollTop = el.scrollHeight;
  }, [tail.lines.length]);
  const status =
    tail.status === 'live'
      ? 'live'
      : tail.status === 'ended'
        ? `ended${tail.endState ? ` (${tail.endState.replace('_', ' ')})` : ''}`
        : tail.status === 'error'
          ? `reconnecting: ${tail.error?.message ?? ''}`
          : 'connecting…';
  return (
    <section className="op-panel-box" aria-labelledby="op-log-h">
      <h3 id="op-log-h">
        Log <span className={`op-log-status op-log-${tail.status}`}>{status}</span>
      </h3>
      <ol
        className="op-log"
        ref={box}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the log scrolls; keyboard users must reach it.
        tabIndex={0}
        aria-label="Run log"
        aria-live="polite"
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
        }}
      >
        {tail.lines.map((l) => {
          const tone = lineTone(l);
          return (
            <li key={l.seq} className={tone ? `op-log-${tone}` : undefined} data-level={l.level}>
              <span className="op-log-ts">{formatTime(l.ts).slice(11)}</span>
              <span className="op-log-level">{l.level}</span>
              <span className="op-log-msg">{l.message}</span>
              {l.fields ? <span className="op-log-fields">{JSON.stringify(l.fields)}</span> : null}
            </li>
          );
        })}
        {tail.lines.length === 0 ? <li className="op-muted">No lines yet.</li> : null}
      </ol>
    </section>
  );
}

function Entries({ entries }: { entries: [string, Json | string | number | null | undefined][] }) {
  return (
    <dl className="op-dl">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            {v === null || v === undefined ? '—' : typeof v === 'object' ? formatJson(v as Json) : String(v)}
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** The run page. */
export function RunPage({ id }: { id: string }) {
  const client = useClient();
  const { navigate, notify, role } = usePanel();
  const detail = useQuery(`run:${id}`, (c, s) => c.getRun(id, s), { refetchMs: 2000 });
  const cancel = useAction(() => client.cancelRun(id));
  const retrigger = useAction(() => client.retriggerRun(id));
  const opHint = roleHint(role, 'operator');
  const d = detail.data;
  if (d === undefined)
    return detail.error ? <ErrorBox error={detail.error} /> : <p className="op-muted">Loading…</p>;
  const run = d.run;
  const final = isFinal(run.state);
  return (
    <div>
      <PageHead title={`Run #${run.id}`}>
        <button
          type="button"
          className="op-btn"
          onClick={() => navigate({ page: 'runs', jobKey: run.jobKey ?? undefined })}
        >
          Back to runs
        </button>
        <button
          type="button"
          className="op-btn op-danger"
          disabled={final || run.cancelRequested || cancel.pending || opHint !== undefined}
          title={opHint ?? (final ? 'the run is over' : undefined)}
          onClick={async () => {
            if ((await cancel.run()) !== undefined) {
              notify(`Cancel requested for run #${run.id}`);
              void detail.refetch();
            }
          }}
        >
          {run.cancelRequested && !final ? 'Cancelling…' : 'Cancel run'}
        </button>
        <button
          type="button"
          className="op-btn"
          disabled={!final || retrigger.pending || opHint !== undefined}
          title={opHint ?? (!final ? 'the run is not over yet' : undefined)}
          onClick={async () => {
            const res = await retrigger.run();
            if (res !== undefined) {
              notify(`Re-triggered as run #${res.run.id}`);
              navigate({ page: 'run', id: res.run.id });
            }
          }}
        >
          Re-trigger
        </button>
      </PageHead>
      <ErrorBox error={cancel.error ?? retrigger.error} />
      <div className="op-run-head">
        <RunStateBadge state={run.state} />
        <strong>{run.jobKey ?? `task: ${run.handler}`}</strong>
        {run.state === 'running' && run.progress !== null ? (
          <progress max={100} value={run.progress} aria-label="Progress">
            {run.progress} %
          </progress>
        ) : null}
        {run.reason ? <span className="op-muted">{run.reason}</span> : null}
      </div>
      {run.error ? (
        <div className="op-error-box" role="alert">
          <strong>{run.error.name}</strong>: {run.error.message}
          {run.error.stack ? <pre>{run.error.stack}</pre> : null}
        </div>
      ) : null}
      <div className="op-grid-2">
        <section className="op-panel-box" aria-labelledby="op-dispatch-h">
          <h3 id="op-dispatch-h">Dispatch context</h3>
          <Entries
            entries={[
              ['trigger', run.trigger],
              ['routing', run.routing],
              ['target node', run.targetNode],
              ['ran on', run.ownerNode ? `${run.ownerNode} (incarnation ${run.ownerIncarnation})` : null],
              ['attempt', `${run.attempt} of ${run.retry.maxAttempts}`],
              ['shard', run.shardTotal > 1 ? `${run.shardIndex + 1} of ${run.shardTotal}` : 'not sharded'],
              ['priority', run.priority],
              ['overlap', run.block],
              ['scheduled for', formatTime(run.scheduledFor)],
              ['due at', formatTime(run.dueAt)],
              ['started', formatTime(run.startedAt)],
              ['finished', formatTime(run.finishedAt)],
              ['late by', formatDuration(d.dispatch.lateMs as number | null)],
              ['duration', formatDuration(run.durationMs)],
              ['idempotency key', run.idempotencyKey],
              ['params', run.params],
            ]}
          />
          {run.parentRunId ? (
            <p>
              Follows{' '}
              <button
                type="button"
                className="op-link"
                onClick={() => navigate({ page: 'run', id: run.parentRunId! })}
              >
                run #{run.parentRunId}
              </button>
            </p>
          ) : null}
          {d.children.length ? (
            <p>
              Follow-ups:{' '}
              {d.children.map((c) => (
                <button
                  key={c.id}
                  type="button"
                  className="op-link"
                  onClick={() => navigate({ page: 'run', id: c.id })}
                >
                  #{c.id} ({c.state})
                </button>
              ))}
            </p>
          ) : null}
          {run.result !== null && run.result !== undefined ? (
            <>
              <h3>Result</h3>
              <pre className="op-pre">{formatJson(run.result)}</pre>
            </>
          ) : null}
        </section>
        <LiveLog runId={run.id} />
      </div>
    </div>
  );
}
