/**
 * The cron helper's data: the next fire times of the schedule being typed, read from the API's
 * preview route a moment after the typing stops (debounced), the latest input winning.
 */
import type { OasisApiError } from './api-error';
import { ExternalStore } from './external-store';
import type { OasisClient } from './oasis-client';

/** A schedule to preview: a cron with an optional time zone, or a fixed rate. */
export type PreviewInput = { cron: string; tz?: string } | { every: string };

/** The preview's state. */
export interface PreviewState {
  status: 'empty' | 'loading' | 'ok' | 'error';
  /** The next fire times (ms), when `ok`. */
  times: number[];
  /** The API's refusal (its `field` names `cron`, `tz` or `every`), when `error`. */
  error: OasisApiError | Error | null;
  /** The input these times or this error belong to. */
  input: PreviewInput | null;
}

type PreviewAction =
  | { type: 'clear' }
  | { type: 'loading'; input: PreviewInput }
  | { type: 'ok'; input: PreviewInput; times: number[] }
  | { type: 'error'; input: PreviewInput; error: Error };

/** The one place the preview's state changes. */
export function previewReducer(state: PreviewState, action: PreviewAction): PreviewState {
  switch (action.type) {
    case 'clear':
      return state.status === 'empty' ? state : { status: 'empty', times: [], error: null, input: null };
    case 'loading':
      return { ...state, status: 'loading', input: action.input };
    case 'ok':
      return { status: 'ok', times: action.times, error: null, input: action.input };
    case 'error':
      return { status: 'error', times: [], error: action.error, input: action.input };
  }
}

/** Debounced previews of a schedule being typed. */
export class SchedulePreview extends ExternalStore<PreviewState, PreviewAction> {
  readonly #client: OasisClient;
  readonly #delayMs: number;
  readonly #count: number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #controller: AbortController | null = null;
  #seq = 0;

  /** Creates a previewer (`delayMs` after the last input, default 300; `count` times, default 5). */
  constructor(client: OasisClient, options: { delayMs?: number; count?: number } = {}) {
    super({ status: 'empty', times: [], error: null, input: null }, previewReducer);
    this.#client = client;
    this.#delayMs = options.delayMs ?? 300;
    this.#count = options.count ?? 5;
  }

  /** The schedule changed: preview it after the delay (null or a blank cron clears). */
  update(input: PreviewInput | null): void {
    const seq = ++this.#seq;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#controller?.abort();
    const blank = input === null || ('cron' in input ? input.cron.trim() === '' : input.every.trim() === '');
    if (blank) {
      this.dispatch({ type: 'clear' });
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#load(input, seq);
    }, this.#delayMs);
  }

  async #load(input: PreviewInput, seq: number): Promise<void> {
    const controller = new AbortController();
    this.#controller = controller;
    this.dispatch({ type: 'loading', input });
    const clean: PreviewInput =
      'cron' in input
        ? { cron: input.cron.trim(), ...(input.tz?.trim() ? { tz: input.tz.trim() } : {}) }
        : input;
    try {
      const res = await this.#client.previewSchedule(clean, this.#count, controller.signal);
      if (seq === this.#seq) this.dispatch({ type: 'ok', input, times: res.times });
    } catch (err) {
      if (seq === this.#seq && !controller.signal.aborted) {
        this.dispatch({ type: 'error', input, error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
  }

  /** Cancels a pending or running preview. */
  dispose(): void {
    this.#seq++;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#controller?.abort();
  }
}
