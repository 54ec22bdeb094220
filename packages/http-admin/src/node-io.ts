/**
 * Node HTTP plumbing shared by the Express and Fastify mounts: read a request body within the
 * limit, split a URL into path and query, and write an `AdminResponse` (whole or streamed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AdminError, toErrorResponse } from './errors';
import type { AdminResponse, MultiValue } from './types';

/**
 * Reads a request body up to `limit` bytes. Throws `AdminError` (`PAYLOAD_TOO_LARGE`) as soon as
 * the declared length or the bytes read pass the limit; the rest is then drained and dropped.
 */
export function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  const tooLarge = () =>
    new AdminError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${limit} bytes`, {
      field: 'body',
      rule: 'max-bytes',
    });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  if (req.readableEnded) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const onData = (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!failed) resolve(size === 0 ? undefined : Buffer.concat(chunks));
    });
    req.once('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

/** Resolves when the response can take more, or the client went away. */
function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Splits a request URL (path and query, relative to the mount) into its path and query. */
export function splitUrl(url: string): { path: string; query: Record<string, MultiValue> } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query: Record<string, MultiValue> = {};
  if (q !== -1) {
    for (const [key, value] of new URLSearchParams(url.slice(q + 1))) {
      const prior = query[key];
      if (prior === undefined) query[key] = value;
      else query[key] = Array.isArray(prior) ? [...prior, value] : [prior, value];
    }
  }
  return { path: path === '' ? '/' : path, query };
}

/** Writes an error as the admin API's JSON error shape (for failures before the handler runs). */
export function writeNodeError(res: ServerResponse, err: unknown): void {
  const { status, body } = toErrorResponse(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * Writes a response. A stream is written chunk by chunk (flushed at once) until it ends or the
 * client goes away (`signal`), and its iterator is then closed.
 */
export async function writeNodeResponse(
  res: ServerResponse,
  response: AdminResponse,
  signal: AbortSignal,
): Promise<void> {
  if ('body' in response) {
    res.writeHead(response.status, {
      ...response.headers,
      'content-length': String(Buffer.byteLength(response.body)),
    });
    res.end(response.body);
    return;
  }
  res.writeHead(response.status, response.headers);
  res.flushHeaders();
  const iterator = response.stream[Symbol.asyncIterator]();
  const stop = () => {
    void iterator.return?.();
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      if (signal.aborted) break;
      const next = await iterator.next();
      if (next.done === true || signal.aborted) break;
      // Respect backpressure: a slow client must not make the tail buffer without bound.
      if (!res.write(next.value)) await drained(res, signal);
    }
  } catch (err) {
    // The stream failed midway (the store went away): end it; the client reconnects.
    res.write(`event: error\ndata: ${JSON.stringify(toErrorResponse(err).body)}\n\n`);
  } finally {
    signal.removeEventListener('abort', stop);
    if (!res.writableEnded) res.end();
  }
}
