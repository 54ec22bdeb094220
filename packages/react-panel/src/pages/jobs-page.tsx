/**
 * Jobs: search and filters, state colours (active, paused, failing), next fire time, quick
 * actions (pause/resume, trigger with a params override, runs, edit, copy, delete with
 * confirmation) and batch actions on the selected jobs.
 */
import { useState } from 'react';
import { FAILURE_STATES, type Job, type Json, type RunSummary } from '../client/api-types';
import { useAction, useClient, useQuery } from '../hooks/use-oasis';
import { roleHint, usePanel } from '../panel-context';
import { Badge, Dialog, ErrorBox, Field, fieldMessage, PageHead, TableWrap } from '../ui/components';
import { describeSchedule, formatRelative, formatTime } from '../ui/format';

/** What colour a job shows: paused when disabled, failing when its last finished run failed. */
export function jobStatus(job: Job, lastRun: RunSummary | undefined): 'active' | 'paused' | 'failing' {
  if (!job.enabled) return 'paused';
  if (lastRun !== undefined && (FAILURE_STATES as readonly string[]).includes(lastRun.state))
    return 'failing';
  return 'active';
}

/** The latest finished run of each job in a newest-first list of runs. */
export function lastFinishedRuns(runs: readonly RunSummary[]): Map<string, RunSummary> {
  const last = new Map<string, RunSummary>();
  for (const run of runs) {
    if (run.jobKey === null || run.state === 'pending' || run.state === 'running' || run.state === 'skipped')
      continue;
    if (!last.has(run.jobKey)) last.set(run.jobKey, run);
  }
  return last;
}

type Pending =
  | { kind: 'trigger'; job: Job }
  | { kind: 'copy'; job: Job }
  | { kind: 'delete'; keys: string[] }
  | null;

function TriggerDialog({ job, onDone }: { job: Job; onDone: () => void }) {
  const client = useClient();
  const { notify, navigate } = usePanel();
  const [text, setText] = useState(JSON.stringify(job.params, null, 2));
  const [parseError, setParseError] = useState<string | null>(null);
  const action = useAction((params: Json) => client.triggerJob(job.key, params));
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    let params: Json;
    try {
      params = JSON.parse(text) as Json;
    } catch {
      setParseError('is not valid JSON');
      return;
    }
    setParseError(null);
    const res = await action.run(params);
    if (res !== undefined) {
      notify(`Triggered ${job.key}: ${res.runs.length} run(s)`);
      onDone();
      const first = res.runs[0];
      if (first !== undefined) navigate({ page: 'run', id: first.id });
    }
  };
  return (
    <Dialog title={`Trigger ${job.key}`} onClose={onDone}>
      <form onSubmit={submit} className="op-form">
        <Field
          label="Params for this run (JSON)"
          error={
            parseError ??
            ((action.error as { field?: string | null } | null)?.field === 'params'
              ? fieldMessage(action.error)
              : null)
          }
          hint="Replaces the job's params for this run only."
        >
          {({ id, describedBy, invalid }) => (
            <textarea
              id={id}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              rows={6}
              value={text}
              onChange={(e) => setText(e.target.value)}
            />
          )}
        </Field>
        <ErrorBox error={action.error} />
        <div className="op-actions">
          <button type="button" className="op-btn" onClick={onDone}>
            Cancel
          </button>
          <button type="submit" className="op-btn op-primary" disabled={action.pending}>
            Trigger now
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function CopyDialog({ job, onDone }: { job: Job; onDone: () => void }) {
  const client = useClient();
  const { notify } = usePanel();
  const [key, setKey] = useState(`${job.key}-copy`);
  const action = useAction((k: string) => client.copyJob(job.key, k));
  const error = action.error as (Error & { field?: string | null }) | null;
  return (
    <Dialog title={`Copy ${job.key}`} onClose={onDone}>
      <form
        className="op-form"
        onSubmit={async (e) => {
          e.preventDefault();
          if ((await action.run(key)) !== undefined) {
            notify(`Copied ${job.key} to ${key} (paused)`);
            onDone();
          }
        }}
      >
        <Field
          label="New key"
          error={error?.field === 'key' ? fieldMessage(error) : null}
          hint="The copy starts paused."
        >
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              value={key}
              onChange={(e) => setKey(e.target.value)}
            />
          )}
        </Field>
        {error?.field !== 'key' ? <ErrorBox error={error} /> : null}
        <div className="op-actions">
          <button type="button" className="op-btn" onClick={onDone}>
            Cancel
          </button>
          <button type="submit" className="op-btn op-primary" disabled={action.pending}>
            Copy
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteDialog({ keys, onDone }: { keys: string[]; onDone: (deleted: boolean) => void }) {
  const client = useClient();
  const { notify } = usePanel();
  const action = useAction(async () => {
    if (keys.length === 1) {
      await client.deleteJob(keys[0]!);
      return 1;
    }
    const res = await client.batchJobs('delete', keys);
    return res.results.filter((r) => r.ok).length;
  });
  return (
    <Dialog
      title={keys.length === 1 ? `Delete ${keys[0]}?` : `Delete ${keys.length} jobs?`}
      onClose={() => onDone(false)}
    >
      <p>
        This deletes {keys.length === 1 ? 'the job' : 'these jobs'} and cancels{' '}
        {keys.length === 1 ? 'its' : 'their'} pending runs. It cannot be undone.
      </p>
      {keys.length > 1 ? <p className="op-muted">{keys.join(', ')}</p> : null}
      <ErrorBox error={action.error} />
      <div className="op-actions">
        <button type="button" className="op-btn" onClick={() => onDone(false)}>
          Keep
        </button>
        <button
          type="button"
          className="op-btn op-danger"
          disabled={action.pending}
          onClick={async () => {
            const n = await action.run();
            if (n !== undefined) {
              notify(`Deleted ${n} job(s)`);
              onDone(true);
            }
          }}
        >
          Delete
        </button>
      </div>
    </Dialog>
  );
}

/** The jobs page. */
export function JobsPage() {
  const client = useClient();
  const { navigate, notify, role } = usePanel();
  const [search, setSearch] = useState('');
  const [state, setState] = useState<'' | 'enabled' | 'disabled'>('');
  const [tag, setTag] = useState('');
  const [handler, setHandler] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<Pending>(null);
  const cursor = cursors.at(-1);
  const filter = { search, state: state || undefined, tag, handler, cursor, limit: 50 };
  const jobs = useQuery(`jobs:${JSON.stringify(filter)}`, (c, s) => c.listJobs(filter, s), {
    refetchMs: 5000,
  });
  const runs = useQuery('jobs:last-runs', (c, s) => c.listRuns({ limit: 200 }, s), { refetchMs: 5000 });
  const last = lastFinishedRuns(runs.data?.items ?? []);
  const now = Date.now();
  const opHint = roleHint(role, 'operator');
  const adminHint = roleHint(role, 'admin');
  const toggle = useAction((job: Job) => client.setJobEnabled(job.key, !job.enabled));
  const batch = useAction((action: 'enable' | 'disable' | 'trigger', keys: string[]) =>
    client.batchJobs(action, keys),
  );
  const items = jobs.data?.items ?? [];
  const allSelected = items.length > 0 && items.every((j) => selected.has(j.key));

  const runBatch = async (action: 'enable' | 'disable' | 'trigger') => {
    const res = await batch.run(action, [...selected]);
    if (res !== undefined) {
      const ok = res.results.filter((r) => r.ok).length;
      const failed = res.results.filter((r) => !r.ok);
      notify(
        `${action}: ${ok} done${failed.length ? `, ${failed.length} failed (${failed.map((f) => `${f.key}: ${f.error?.message}`).join('; ')})` : ''}`,
      );
      void jobs.refetch();
    }
  };

  return (
    <div>
      <PageHead title="Jobs">
        <button
          type="button"
          className="op-btn op-primary"
          disabled={adminHint !== undefined}
          title={adminHint}
          onClick={() => navigate({ page: 'job-form' })}
        >
          New job
        </button>
      </PageHead>
      <form className="op-filters" aria-label="Job filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search">
          {({ id }) => (
            <input
              id={id}
              type="search"
              value={search}
              placeholder="key, handler, description"
              onChange={(e) => {
                setSearch(e.target.value);
                setCursors([]);
              }}
            />
          )}
        </Field>
        <Field label="State">
          {({ id }) => (
            <select
              id={id}
              value={state}
              onChange={(e) => {
                setState(e.target.value as typeof state);
                setCursors([]);
              }}
            >
              <option value="">any</option>
              <option value="enabled">active</option>
              <option value="disabled">paused</option>
            </select>
          )}
        </Field>
        <Field label="Tag">
          {({ id }) => (
            <input
              id={id}
              value={tag}
              onChange={(e) => {
                setTag(e.target.value);
                setCursors([]);
              }}
            />
          )}
        </Field>
        <Field label="Handler">
          {({ id }) => (
            <input
              id={id}
              value={handler}
              onChange={(e) => {
                setHandler(e.target.value);
                setCursors([]);
              }}
            />
          )}
        </Field>
      </form>
      {selected.size > 0 ? (
        <div className="op-batch" role="toolbar" aria-label="Batch actions">
          <span>{selected.size} selected</span>
          <button
            type="button"
            className="op-btn"
            disabled={opHint !== undefined || batch.pending}
            title={opHint}
            onClick={() => void runBatch('enable')}
          >
            Resume
          </button>
          <button
            type="button"
            className="op-btn"
            disabled={opHint !== undefined || batch.pending}
            title={opHint}
            onClick={() => void runBatch('disable')}
          >
            Pause
          </button>
          <button
            type="button"
            className="op-btn"
            disabled={opHint !== undefined || batch.pending}
            title={opHint}
            onClick={() => void runBatch('trigger')}
          >
            Trigger
          </button>
          <button
            type="button"
            className="op-btn op-danger"
            disabled={adminHint !== undefined}
            title={adminHint}
            onClick={() => setPending({ kind: 'delete', keys: [...selected] })}
          >
            Delete…
          </button>
          <button type="button" className="op-btn op-ghost" onClick={() => setSelected(new Set())}>
            Clear
          </button>
        </div>
      ) : null}
      <ErrorBox error={jobs.error ?? toggle.error ?? batch.error} />
      <TableWrap label="Jobs" className="op-cardify">
        <thead>
          <tr>
            <th>
              <input
                type="checkbox"
                aria-label="Select all jobs on this page"
                checked={allSelected}
                onChange={() => setSelected(allSelected ? new Set() : new Set(items.map((j) => j.key)))}
              />
            </th>
            <th>Job</th>
            <th>State</th>
            <th>Schedule</th>
            <th>Next fire</th>
            <th>Last run</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {items.map((job) => {
            const lastRun = last.get(job.key);
            const status = jobStatus(job, lastRun);
            return (
              <tr key={job.key} data-job={job.key} className={`op-job-${status}`}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${job.key}`}
                    checked={selected.has(job.key)}
                    onChange={() => {
                      const next = new Set(selected);
                      if (next.has(job.key)) next.delete(job.key);
                      else next.add(job.key);
                      setSelected(next);
                    }}
                  />
                </td>
                <td>
                  <strong>{job.key}</strong>
                  <div className="op-muted op-small">
                    {job.handler}
                    {job.tags.length ? ` · ${job.tags.join(', ')}` : ''}
                    {job.source === 'code' ? ' · in code' : ''}
                  </div>
                </td>
                <td>
                  <Badge tone={status === 'active' ? 'ok' : status === 'failing' ? 'bad' : 'muted'}>
                    {status}
                  </Badge>
                </td>
                <td className="op-small op-full" data-label="Schedule">
                  {describeSchedule(job.schedule)}
                </td>
                <td className="op-small op-full" data-label="Next fire" title={formatTime(job.nextFireAt)}>
                  {job.enabled ? formatRelative(job.nextFireAt, now) : '—'}
                </td>
                <td className="op-small op-full" data-label="Last run">
                  {lastRun
                    ? `${lastRun.state.replace('_', ' ')} ${formatRelative(lastRun.finishedAt, now)}`
                    : '—'}
                </td>
                <td className="op-full">
                  <div className="op-row-actions">
                    <button
                      type="button"
                      className="op-btn op-small"
                      disabled={opHint !== undefined || toggle.pending}
                      title={opHint}
                      onClick={async () => {
                        if ((await toggle.run(job)) !== undefined) {
                          notify(`${job.enabled ? 'Paused' : 'Resumed'} ${job.key}`);
                          void jobs.refetch();
                        }
                      }}
                    >
                      {job.enabled ? 'Pause' : 'Resume'}
                    </button>
                    <button
                      type="button"
                      className="op-btn op-small"
                      disabled={opHint !== undefined}
                      title={opHint}
                      onClick={() => setPending({ kind: 'trigger', job })}
                    >
                      Trigger
                    </button>
                    <button
                      type="button"
                      className="op-btn op-small"
                      onClick={() => navigate({ page: 'runs', jobKey: job.key })}
                    >
                      Runs
                    </button>
                    <button
                      type="button"
                      className="op-btn op-small"
                      disabled={adminHint !== undefined}
                      title={adminHint}
                      onClick={() => navigate({ page: 'job-form', key: job.key })}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      className="op-btn op-small"
                      disabled={adminHint !== undefined}
                      title={adminHint}
                      onClick={() => setPending({ kind: 'copy', job })}
                    >
                      Copy
                    </button>
                    <button
                      type="button"
                      className="op-btn op-small op-danger"
                      disabled={adminHint !== undefined}
                      title={adminHint}
                      onClick={() => setPending({ kind: 'delete', keys: [job.key] })}
                    >
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            );
          })}
          {items.length === 0 && jobs.status === 'success' ? (
            <tr>
              <td colSpan={7} className="op-muted">
                No jobs match.
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
          Previous page
        </button>
        <button
          type="button"
          className="op-btn"
          disabled={!jobs.data?.nextCursor}
          onClick={() => jobs.data?.nextCursor && setCursors([...cursors, jobs.data.nextCursor])}
        >
          Next page
        </button>
      </div>
      {pending?.kind === 'trigger' ? (
        <TriggerDialog job={pending.job} onDone={() => setPending(null)} />
      ) : null}
      {pending?.kind === 'copy' ? (
        <CopyDialog
          job={pending.job}
          onDone={() => {
            setPending(null);
            void jobs.refetch();
          }}
        />
      ) : null}
      {pending?.kind === 'delete' ? (
        <DeleteDialog
          keys={pending.keys}
          onDone={(deleted) => {
            setPending(null);
            if (deleted) {
              setSelected(new Set());
              void jobs.refetch();
            }
          }}
        />
      ) : null}
    </div>
  );
}
