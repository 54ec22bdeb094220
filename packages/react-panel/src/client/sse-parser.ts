/**
 * A Server-Sent Events parser for streams read with `fetch` (which, unlike `EventSource`, can
 * carry the host's auth headers). Feed it text chunks as they arrive; it returns the complete
 * events and keeps the partial rest for the next chunk. Follows the WHATWG event-stream rules
 * that matter here: `event`, `data` (joined by newlines), `id`, comments, CR/LF/CRLF line ends.
 */

/** One event of a stream. */
export interface SseEvent {
  /** The event name (`message` when the stream gave none). */
  event: string;
  /** The data lines, joined by `\n`. */
  data: string;
  /** The last id seen on the stream, or null. */
  id: string | null;
}

/** An incremental SSE parser. */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #lastId: string | null = null;
  #sawCr = false;

  /** The last `id:` seen (what a reconnect sends as `Last-Event-ID`). */
  get lastEventId(): string | null {
    return this.#lastId;
  }

  /** Parses a chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    // A CRLF may be split across chunks: drop the LF that completes a CR already handled.
    if (this.#sawCr && text.startsWith('\n')) text = text.slice(1);
    this.#sawCr = false;
    this.#buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      if (match === null) break;
      // A lone CR at the very end may be the first half of a CRLF.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) this.#sawCr = true;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      const event = this.#line(line);
      if (event !== null) events.push(event);
    }
    return events;
  }

  #line(line: string): SseEvent | null {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = '';
        return null;
      }
      const event = { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#lastId };
      this.#event = '';
      this.#data = [];
      return event;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#lastId = value;
    return null;
  }
}
