/**
 * The live log tail of a run as Server-Sent Events: the lines already written, then each new line
 * as the run's node flushes it to the store, then an `end` event once the run is over.
 *
 * Events:
 * - `run`: the run as it is when the tail starts (data: the run record);
 * - `log`: one line (id: its `seq`, so a reconnecting `EventSource` resumes after it;
 *   data: `{ seq, level, message, fields, ts }`);
 * - `end`: the run is over (data: `{ state, finishedAt }`), or was deleted (`state: null`);
 *   the stream closes after it.
 * A comment line every 15 s keeps proxies from closing an idle stream.
 */
import { FINAL_RUN_STATES, type RunLogLine, type RunRecord, type Store } from '@oasis/core';

const FINAL = new Set<string>(FINAL_RUN_STATES);
const PAGE = 500;
const KEEPALIVE_MS = 15_000;

/** One SSE event as text. */
function event(name: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function logEvent(line: RunLogLine): string {
  const { seq, level, message, fields, ts } = line;
  return event('log', { seq, level, message, fields, ts }, seq);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Tails a run's log from `afterSeq`, reading the store every `pollMs` until the run is final
 * (then once more, so lines flushed just before the end are not lost) or `signal` aborts.
 */
export async function* tailRunLog(
  store: Store,
  run: RunRecord,
  afterSeq: number,
  pollMs: number,
  signal: AbortSignal,
): AsyncGenerator<string> {
  let seq = afterSeq;
  let lastSent = Date.now();
  yield `retry: 2000\n\n`;
  yield event('run', run);
  const drain = async function* (): AsyncGenerator<string> {
    for (;;) {
      const lines = await store.readLogs(run.id, seq, PAGE);
      for (const line of lines) {
        seq = line.seq;
        yield logEvent(line);
      }
      if (lines.length < PAGE) return;
    }
  };
  while (!signal.aborted) {
    for await (const chunk of drain()) {
      lastSent = Date.now();
      yield chunk;
    }
    const now = await store.getRun(run.id);
    if (now === null || FINAL.has(now.state)) {
      // The node flushes a run's lines before recording its end: read once more, then end.
      yield* drain();
      yield event('end', { state: now?.state ?? null, finishedAt: now?.finishedAt ?? null });
      return;
    }
    if (Date.now() - lastSent >= KEEPALIVE_MS) {
      lastSent = Date.now();
      yield `: keep-alive\n\n`;
    }
    await pause(pollMs, signal);
  }
}
