/** Small building blocks of the panel: badges, dialogs, fields, banners. Accessible by default. */
import { type ReactNode, useEffect, useId, useRef } from 'react';
import { FAILURE_STATES, type RunState } from '../client/api-types';

/** A coloured label. `tone` picks the colour. */
export function Badge(props: {
  tone: 'ok' | 'bad' | 'warn' | 'info' | 'muted';
  children: ReactNode;
  title?: string;
}) {
  return (
    <span className={`op-badge op-${props.tone}`} title={props.title}>
      {props.children}
    </span>
  );
}

/** The colour of a run state. */
export function runTone(state: RunState): 'ok' | 'bad' | 'warn' | 'info' | 'muted' {
  if (state === 'succeeded') return 'ok';
  if ((FAILURE_STATES as readonly string[]).includes(state)) return 'bad';
  if (state === 'running') return 'info';
  if (state === 'pending') return 'warn';
  return 'muted';
}

/** A run state as a badge. */
export function RunStateBadge({ state }: { state: RunState }) {
  return <Badge tone={runTone(state)}>{state.replace('_', ' ')}</Badge>;
}

/**
 * A modal dialog on the native `<dialog>` element: focus moves into it, Escape closes it, the
 * page behind is inert. Rendered only while open.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const { onClose } = props;
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (!dialog.open) dialog.showModal?.();
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose();
    };
    dialog.addEventListener('cancel', cancel);
    return () => {
      dialog.removeEventListener('cancel', cancel);
      if (dialog.open) dialog.close();
    };
  }, [onClose]);
  return (
    <dialog ref={ref} className={`op-dialog${props.wide ? ' op-wide' : ''}`} aria-labelledby={titleId}>
      <div className="op-dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" className="op-btn op-ghost" onClick={onClose} aria-label="Close">
          ×
        </button>
      </div>
      {props.children}
    </dialog>
  );
}

/** A labelled form field with its error (from the API) shown next to it and tied by aria. */
export function Field(props: {
  label: string;
  error?: string | null | undefined;
  hint?: ReactNode;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => ReactNode;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy =
    [props.error ? errorId : null, props.hint ? hintId : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`op-field${props.error ? ' op-invalid' : ''}`}>
      <label htmlFor={id}>{props.label}</label>
      {props.children({ id, describedBy, invalid: Boolean(props.error) })}
      {props.hint ? (
        <div className="op-hint" id={hintId}>
          {props.hint}
        </div>
      ) : null}
      {props.error ? (
        <div className="op-field-error" id={errorId} role="alert">
          {props.error}
        </div>
      ) : null}
    </div>
  );
}

/**
 * An API error's message for display next to its field: without the `field: ` prefix core puts
 * in front (the field is already named by its label).
 */
export function fieldMessage(error: (Error & { field?: string | null }) | null | undefined): string | null {
  if (!error) return null;
  const field = error.field;
  return field && error.message.startsWith(`${field}: `)
    ? error.message.slice(field.length + 2)
    : error.message;
}

/** An error message in a box (not for auth errors: the banner shows those). */
export function ErrorBox({ error }: { error: Error | null | undefined }) {
  const status = (error as { status?: number } | null | undefined)?.status;
  if (!error || status === 401 || status === 403) return null;
  return (
    <div className="op-error-box" role="alert">
      {error.message}
    </div>
  );
}

/**
 * A horizontally scrolling table wrapper (tables stay readable at phone width). With the
 * `op-cardify` class, rows become cards when the panel is narrow (cells labelled by `data-label`).
 */
export function TableWrap(props: { label: string; children: ReactNode; className?: string }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard.
    <section className="op-table-wrap" aria-label={props.label} tabIndex={0}>
      <table className={`op-table${props.className ? ` ${props.className}` : ''}`}>{props.children}</table>
    </section>
  );
}

/** A page heading with actions on the right. */
export function PageHead(props: { title: string; children?: ReactNode }) {
  return (
    <div className="op-page-head">
      <h2>{props.title}</h2>
      <div className="op-actions">{props.children}</div>
    </div>
  );
}
