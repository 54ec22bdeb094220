/**
 * A fake admin API for the data layer's tests: a `fetch` that answers from a table of handlers
 * and records every request, and SSE streams the test writes to as it goes.
 */

/** A recorded request. */
export interface Recorded {
  method: string;
  url: string;
  headers: Headers;
  body: unknown;
}

/** A handler: the request in, a Response out. */
export type FakeRoute = (req: Recorded) => Response | Promise<Response>;

/** JSON response helper. */
export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** The admin API's error body. */
export function apiError(
  status: number,
  code: string,
  message: string,
  field: string | null = null,
  rule: string | null = null,
) {
  return json(status, { error: { code, message, field, rule } });
}

/** A stream of SSE text the test pushes chunks into, and closes or breaks. */
export class SseStream {
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly body: ReadableStream<Uint8Array>;
  cancelled = false;
  readonly #encoder = new TextEncoder();

  constructor() {
    this.body = new ReadableStream({
      start: (c) => {
        this.#controller = c;
      },
      cancel: () => {
        this.cancelled = true;
      },
    });
  }

  /** Pushes raw text. */
  push(text: string): void {
    this.#controller.enqueue(this.#encoder.encode(text));
  }

  /** Pushes one event. */
  event(name: string, data: unknown, id?: number): void {
    this.push(`${id === undefined ? '' : `id: ${id}\n`}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream. */
  close(): void {
    this.#controller.close();
  }

  /** Breaks the stream (a network error). */
  fail(): void {
    this.#controller.error(new TypeError('network error'));
  }

  /** The stream as a Response. */
  response(): Response {
    return new Response(this.body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }
}

/** A fake fetch over `routes` (keys like `GET /admin/jobs`, matched on the path without query). */
export function fakeFetch(routes: Record<string, FakeRoute>) {
  const calls: Recorded[] = [];
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = String(input);
    const method = init.method ?? 'GET';
    const text = typeof init.body === 'string' ? init.body : undefined;
    const req: Recorded = {
      method,
      url,
      headers: new Headers(init.headers),
      body: text === undefined ? undefined : JSON.parse(text),
    };
    calls.push(req);
    if (init.signal?.aborted) throw init.signal.reason;
    const path = url.replace(/^https?:\/\/[^/]+/, '').split('?')[0]!;
    const route = routes[`${method} ${path}`];
    if (route === undefined) return apiError(404, 'ROUTE_NOT_FOUND', `no route ${method} ${path}`);
    return route(req);
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

/** Resolves once `check` holds, polling each macrotask; fails after `ms`. */
export async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}
