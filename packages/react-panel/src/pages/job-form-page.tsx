/**
 * Create and edit a job. The cron helper shows the next fire times as you type (the API's preview
 * route); the API's validation errors are shown next to the field they name.
 */
import { useEffect, useMemo, useState } from 'react';
import { OasisApiError } from '../client/api-error';
import type { Job, Json } from '../client/api-types';
import type { OasisClient } from '../client/oasis-client';
import { SchedulePreview } from '../client/schedule-preview';
import { useAction, useClient, useQuery, useStore } from '../hooks/use-oasis';
import { usePanel } from '../panel-context';
import { ErrorBox, Field, fieldMessage, PageHead } from '../ui/components';
import { formatTime } from '../ui/format';

/** The form's values, all as typed. */
export interface JobFormValues {
  key: string;
  handler: string;
  scheduleKind: 'cron' | 'every' | 'delay-after' | 'at' | 'manual';
  cron: string;
  tz: string;
  every: string;
  delayAfter: string;
  at: string;
  params: string;
  enabled: boolean;
  maxAttempts: string;
  backoff: string;
  retryDelay: string;
  timeout: string;
  block: string;
  misfire: string;
  routing: string;
  shards: string;
  priority: string;
  tags: string;
  owner: string;
  description: string;
}

/** The empty form. */
export const EMPTY_FORM: JobFormValues = {
  key: '',
  handler: '',
  scheduleKind: 'cron',
  cron: '*/10 * * * * *',
  tz: '',
  every: '30s',
  delayAfter: '1m',
  at: '',
  params: '{}',
  enabled: true,
  maxAttempts: '1',
  backoff: 'exponential',
  retryDelay: '1s',
  timeout: '',
  block: 'serial',
  misfire: 'fire-once',
  routing: 'any',
  shards: '1',
  priority: '0',
  tags: '',
  owner: '',
  description: '',
};

/** A job's values in the form. */
export function formFromJob(job: Job): JobFormValues {
  const s = job.schedule;
  const localAt = (ms: number) => {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
    return d.toISOString().slice(0, 16);
  };
  return {
    ...EMPTY_FORM,
    key: job.key,
    handler: job.handler,
    scheduleKind: s.kind,
    cron: s.kind === 'cron' ? s.cron : EMPTY_FORM.cron,
    tz: s.kind === 'cron' ? (s.tz ?? '') : '',
    every: s.kind === 'every' ? `${s.ms}ms` : EMPTY_FORM.every,
    delayAfter: s.kind === 'delay-after' ? `${s.ms}ms` : EMPTY_FORM.delayAfter,
    at: s.kind === 'at' ? localAt(s.at) : '',
    params: JSON.stringify(job.params, null, 2),
    enabled: job.enabled,
    maxAttempts: String(job.retry.maxAttempts),
    backoff: job.retry.backoff,
    retryDelay: `${job.retry.delayMs}ms`,
    timeout: job.timeoutMs === null ? '' : `${job.timeoutMs}ms`,
    block: job.block,
    misfire: job.misfire,
    routing: job.routing.strategy,
    shards: String(job.shards),
    priority: String(job.priority),
    tags: job.tags.join(', '),
    owner: job.owner ?? '',
    description: job.description ?? '',
  };
}

/** A duration as typed: digits are ms, anything else is sent as written (`5s`, `2m`). */
function duration(text: string): number | string {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : t;
}

/** A number as typed (NaN is sent as the text, so the API names the field). */
function num(text: string): number | string {
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

/**
 * The job spec of the form's values. Throws `{ field: 'params' }` when params are not JSON; every
 * other check is the API's.
 */
export function specFromForm(v: JobFormValues): Record<string, unknown> {
  let params: Json;
  try {
    params = JSON.parse(v.params.trim() === '' ? '{}' : v.params) as Json;
  } catch {
    throw Object.assign(new Error('is not valid JSON'), { field: 'params' });
  }
  const schedule =
    v.scheduleKind === 'cron'
      ? { cron: v.cron.trim(), ...(v.tz.trim() ? { tz: v.tz.trim() } : {}) }
      : v.scheduleKind === 'every'
        ? { every: duration(v.every) }
        : v.scheduleKind === 'delay-after'
          ? { delayAfter: duration(v.delayAfter) }
          : v.scheduleKind === 'at'
            ? { at: v.at ? new Date(v.at).getTime() : '' }
            : null;
  return {
    key: v.key.trim(),
    handler: v.handler.trim(),
    schedule,
    params,
    enabled: v.enabled,
    retry: { maxAttempts: num(v.maxAttempts), backoff: v.backoff, delay: duration(v.retryDelay) },
    timeout: v.timeout.trim() === '' ? null : duration(v.timeout),
    block: v.block,
    misfire: v.misfire,
    routing: v.routing,
    shards: num(v.shards),
    priority: num(v.priority),
    tags: v.tags
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== ''),
    owner: v.owner.trim() === '' ? null : v.owner.trim(),
    description: v.description.trim() === '' ? null : v.description,
  };
}

/**
 * The form field an API error names: `schedule`, `schedule.cron` → `cron` (or the input of the
 * schedule kind chosen), `schedule.tz` → `tz`, `retry.delay` → `retryDelay`, `key` → `key`…
 */
export function formFieldOf(
  apiField: string | null | undefined,
  kind: JobFormValues['scheduleKind'],
): keyof JobFormValues | null {
  if (apiField === null || apiField === undefined || apiField === '') return null;
  const f = apiField.replace(/^(body|job|spec)\./, '');
  if (f === 'schedule.tz' || f === 'tz') return 'tz';
  if (f === 'schedule' || f.startsWith('schedule.') || f === 'cron' || f === 'every') {
    if (kind === 'cron') return 'cron';
    if (kind === 'every') return 'every';
    if (kind === 'delay-after') return 'delayAfter';
    if (kind === 'at') return 'at';
    return 'scheduleKind';
  }
  if (f === 'retry' || f === 'retry.maxAttempts') return 'maxAttempts';
  if (f === 'retry.backoff') return 'backoff';
  if (f.startsWith('retry.')) return 'retryDelay';
  if (f.startsWith('params')) return 'params';
  if (f.startsWith('tags')) return 'tags';
  if (f.startsWith('routing')) return 'routing';
  const head = f.split('.')[0] as keyof JobFormValues;
  return head in EMPTY_FORM ? head : null;
}

/** The create / edit page. */
/** A job's definition: what an operator edits, without the fields the scheduler moves itself. */
export function definitionOf(
  job: Job,
): Omit<Job, 'nextFireAt' | 'lastFireAt' | 'version' | 'createdAt' | 'updatedAt'> {
  const { nextFireAt: _n, lastFireAt: _l, version: _v, createdAt: _c, updatedAt: _u, ...definition } = job;
  return definition;
}

/**
 * Saves an edit made on `base`. A job's version also moves each time it fires, so a conflict
 * whose only cause is firing (the definition is still the one the form started from) is retried
 * with the current version; a real concurrent edit stays a conflict for the operator to see.
 */
export async function updateMerging(
  client: Pick<OasisClient, 'getJob' | 'updateJob'>,
  key: string,
  base: Job,
  patch: Record<string, unknown>,
): Promise<Job> {
  let version = base.version;
  const wanted = JSON.stringify(definitionOf(base));
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.updateJob(key, { ...patch, expectedVersion: version });
    } catch (error) {
      if (!(error instanceof OasisApiError) || error.status !== 409 || attempt >= 4) throw error;
      const latest = await client.getJob(key);
      if (JSON.stringify(definitionOf(latest)) !== wanted) throw error;
      version = latest.version;
    }
  }
}

export function JobFormPage({ editKey }: { editKey?: string | undefined }) {
  const client = useClient();
  const { navigate, notify } = usePanel();
  const existing = useQuery(`job:${editKey ?? ''}`, (c, s) =>
    editKey ? c.getJob(editKey, s) : Promise.resolve(null),
  );
  const nodes = useQuery('form:nodes', (c, s) => c.listNodes(s));
  const [values, setValues] = useState<JobFormValues | null>(editKey ? null : EMPTY_FORM);
  const [localError, setLocalError] = useState<{ field: keyof JobFormValues; message: string } | null>(null);
  const preview = useMemo(() => new SchedulePreview(client), [client]);
  useEffect(() => () => preview.dispose(), [preview]);
  const previewState = useStore(preview);

  useEffect(() => {
    if (values === null && existing.data) setValues(formFromJob(existing.data));
  }, [existing.data, values]);

  useEffect(() => {
    if (values === null) return;
    if (values.scheduleKind === 'cron') preview.update({ cron: values.cron, tz: values.tz });
    else if (values.scheduleKind === 'every') preview.update({ every: values.every });
    else preview.update(null);
  }, [preview, values?.scheduleKind, values?.cron, values?.tz, values?.every, values]);

  const save = useAction(async (v: JobFormValues) => {
    const spec = specFromForm(v);
    if (editKey && existing.data) {
      const { key: _key, ...patch } = spec;
      return updateMerging(client, editKey, existing.data, patch);
    }
    return client.createJob(spec);
  });

  if (values === null) {
    return existing.error ? <ErrorBox error={existing.error} /> : <p className="op-muted">Loading…</p>;
  }
  const set = <K extends keyof JobFormValues>(key: K, value: JobFormValues[K]) => {
    setValues({ ...values, [key]: value });
    if (localError?.field === key) setLocalError(null);
  };
  const apiError = save.error as OasisApiError | null;
  const apiField = formFieldOf(apiError?.field, values.scheduleKind);
  const previewError = previewState.status === 'error' ? (previewState.error as OasisApiError) : null;
  const previewField = previewError ? formFieldOf(previewError.field ?? 'cron', values.scheduleKind) : null;
  const errorOf = (field: keyof JobFormValues): string | null => {
    if (localError?.field === field) return localError.message;
    if (apiField === field && apiError) return fieldMessage(apiError);
    if (previewField === field && previewError) return fieldMessage(previewError);
    return null;
  };
  const handlers = [...new Set((nodes.data?.items ?? []).flatMap((n) => n.handlers))].sort();
  const listId = 'op-handlers-list';

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    try {
      specFromForm(values);
    } catch (err) {
      setLocalError({ field: 'params', message: (err as Error).message });
      return;
    }
    const job = await save.run(values);
    if (job !== undefined) {
      notify(`${editKey ? 'Saved' : 'Created'} job ${job.key}`);
      navigate({ page: 'jobs' });
    }
  };

  const text = (
    key: keyof JobFormValues,
    label: string,
    hint?: React.ReactNode,
    extra: React.InputHTMLAttributes<HTMLInputElement> = {},
  ) => (
    <Field label={label} error={errorOf(key)} hint={hint}>
      {({ id, describedBy, invalid }) => (
        <input
          id={id}
          name={key}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          value={values[key] as string}
          onChange={(e) => set(key, e.target.value as never)}
          {...extra}
        />
      )}
    </Field>
  );
  const select = (key: keyof JobFormValues, label: string, options: string[]) => (
    <Field label={label} error={errorOf(key)}>
      {({ id, describedBy, invalid }) => (
        <select
          id={id}
          name={key}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          value={values[key] as string}
          onChange={(e) => set(key, e.target.value as never)}
        >
          {options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      )}
    </Field>
  );

  const unplaced = apiError && apiField === null ? apiError : null;
  return (
    <div>
      <PageHead title={editKey ? `Edit ${editKey}` : 'New job'}>
        <button type="button" className="op-btn" onClick={() => navigate({ page: 'jobs' })}>
          Back to jobs
        </button>
      </PageHead>
      <form className="op-form op-job-form" onSubmit={submit} noValidate>
        <fieldset>
          <legend>Job</legend>
          {text(
            'key',
            'Key',
            editKey ? 'The key of a job cannot change (copy it instead).' : 'Unique in the app.',
            { readOnly: Boolean(editKey), required: true },
          )}
          {text('handler', 'Handler', handlers.length ? `Registered: ${handlers.join(', ')}` : undefined, {
            list: listId,
            required: true,
          })}
          <datalist id={listId}>
            {handlers.map((h) => (
              <option key={h} value={h} />
            ))}
          </datalist>
          {text('description', 'Description')}
          <div className="op-check">
            <input
              id="op-enabled"
              type="checkbox"
              checked={values.enabled}
              onChange={(e) => set('enabled', e.target.checked)}
            />
            <label htmlFor="op-enabled">Enabled (fires on its schedule)</label>
          </div>
        </fieldset>
        <fieldset>
          <legend>Schedule</legend>
          {select('scheduleKind', 'Kind', ['cron', 'every', 'delay-after', 'at', 'manual'])}
          {values.scheduleKind === 'cron' ? (
            <>
              {text('cron', 'Cron', '5 fields (minutes) or 6 (seconds first), e.g. */10 * * * * *', {
                spellCheck: false,
                autoComplete: 'off',
              })}
              {text('tz', 'Time zone', 'IANA name, e.g. Europe/Paris (default UTC)', { placeholder: 'UTC' })}
            </>
          ) : null}
          {values.scheduleKind === 'every' ? text('every', 'Every', 'e.g. 30s, 5m, 1h, or ms') : null}
          {values.scheduleKind === 'delay-after'
            ? text('delayAfter', 'Delay after each run', 'e.g. 1m')
            : null}
          {values.scheduleKind === 'at'
            ? text('at', 'At (local time)', undefined, { type: 'datetime-local' })
            : null}
          {values.scheduleKind === 'cron' || values.scheduleKind === 'every' ? (
            <output className="op-preview" aria-live="polite" aria-label="Next fire times">
              {previewState.status === 'loading' ? (
                <span className="op-muted">Computing the next fire times…</span>
              ) : null}
              {previewState.status === 'ok' ? (
                <>
                  <span className="op-muted">Next fire times (your local time):</span>
                  <ol>
                    {previewState.times.map((t) => (
                      <li key={t}>{formatTime(t)}</li>
                    ))}
                  </ol>
                </>
              ) : null}
              {previewState.status === 'error' && previewField === null ? (
                <span className="op-error-text">{previewState.error?.message}</span>
              ) : null}
            </output>
          ) : null}
        </fieldset>
        <fieldset>
          <legend>Params and behaviour</legend>
          <Field label="Params (JSON)" error={errorOf('params')}>
            {({ id, describedBy, invalid }) => (
              <textarea
                id={id}
                name="params"
                rows={4}
                aria-describedby={describedBy}
                aria-invalid={invalid}
                value={values.params}
                onChange={(e) => set('params', e.target.value)}
                spellCheck={false}
              />
            )}
          </Field>
          <div className="op-row">
            {text('maxAttempts', 'Attempts', '1 = no retry', { inputMode: 'numeric' })}
            {select('backoff', 'Backoff', ['fixed', 'linear', 'exponential'])}
            {text('retryDelay', 'Retry delay')}
            {text('timeout', 'Timeout', 'empty = none')}
          </div>
          <div className="op-row">
            {select('block', 'Overlap', ['serial', 'skip', 'parallel', 'replace'])}
            {select('misfire', 'Misfire', ['fire-once', 'skip', 'fire-all'])}
            {select('routing', 'Routing', [
              'any',
              'round-robin',
              'weighted',
              'random',
              'consistent-hash',
              'least-loaded',
              'failover',
              'broadcast',
              'sharded',
            ])}
            {text('shards', 'Shards', undefined, { inputMode: 'numeric' })}
            {text('priority', 'Priority', undefined, { inputMode: 'numeric' })}
          </div>
          {text('tags', 'Tags', 'Comma-separated')}
          {text('owner', 'Owner')}
        </fieldset>
        {unplaced ? <ErrorBox error={unplaced} /> : null}
        <div className="op-actions">
          <button type="button" className="op-btn" onClick={() => navigate({ page: 'jobs' })}>
            Cancel
          </button>
          <button type="submit" className="op-btn op-primary" disabled={save.pending}>
            {editKey ? 'Save' : 'Create job'}
          </button>
        </div>
      </form>
    </div>
  );
}
