/**
 * Test support: real Express and Fastify servers on 127.0.0.1 port 0, store kits (memory,
 * SQLite, PostgreSQL), a bearer-token `authorize`, a small HTTP client over fetch, an SSE reader,
 * and polls with deadlines (never sleeps).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scheduler } from '@oasis/core';
import { MemoryStore, type Store } from '@oasis/core';
import type { AdminOptions, AdminPrincipal, AdminRequest } from '@oasis/http-admin';
import { expressAdmin } from '@oasis/http-admin/express';
import { fastifyAdmin } from '@oasis/http-admin/fastify';
import express from 'express';
import Fastify from 'fastify';

/** The mount point used by every test server. */
export const BASE = '/admin/oasis';

/** Bearer tokens of the test users, one per role. */
export const TOKENS = {
  viewer: 'tok-viewer-7f3a',
  operator: 'tok-operator-91bc',
  admin: 'tok-admin-44de',
} as const;

/** The user names behind the tokens (the audit log's actors). */
export const USERS = { viewer: 'vera', operator: 'otto', admin: 'ada' } as const;

/** A bearer-token `authorize`, as the README shows it. */
export function bearerAuthorize(request: AdminRequest): AdminPrincipal | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
  const token = header.slice('Bearer '.length);
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    if (token === TOKENS[role]) return { user: USERS[role], role };
  }
  return null;
}

/** A server listening on loopback. */
export interface TestServer {
  /** e.g. `http://127.0.0.1:41234/admin/oasis`. */
  url: string;
  close(): Promise<void>;
}

/** The frameworks of the mount contract. */
export type Framework = 'express' | 'fastify';

/** Starts a real server of the framework with the admin API mounted at `BASE`. */
export async function startServer(
  framework: Framework,
  scheduler: Scheduler,
  // biome-ignore lint/suspicious/noExplicitAny: the options' Raw type differs per framework.
  options: AdminOptions<any>,
): Promise<TestServer> {
  if (framework === 'express') {
    const app = express();
    app.use(BASE, expressAdmin(scheduler, options));
    const server = await new Promise<import('node:http').Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}${BASE}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
  const app = Fastify();
  await app.register(fastifyAdmin, { prefix: BASE, scheduler, ...options });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${BASE}`,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

/** A store to run the suite on, made fresh per suite. */
export interface StoreKit {
  name: string;
  /** A new store, or null when its server is unreachable (the suite is then skipped, loudly). */
  create(): Promise<Store | null>;
  /** Drops what `create` made. */
  dispose(): Promise<void>;
}

/** The in-memory store. */
export function memoryKit(): StoreKit {
  return { name: 'memory', create: async () => new MemoryStore(), dispose: async () => {} };
}

/** SQLite in a temp file through `@oasis/store-sql`. */
export function sqliteKit(): StoreKit {
  let dir: string | null = null;
  return {
    name: 'sqlite',
    async create() {
      const { createSqlStore } = await import('@oasis/store-sql');
      dir = mkdtempSync(join(tmpdir(), 'oasis-http-admin-'));
      return createSqlStore({ dialect: 'sqlite', filename: join(dir, 'oasis.db'), migrate: true });
    },
    async dispose() {
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL at `OASIS_PG_URL` (default the local test database), with a table prefix of its own. */
export function postgresKit(prefix: string): StoreKit {
  const url = process.env.OASIS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  return {
    name: 'postgres',
    async create() {
      const { createSqlStore } = await import('@oasis/store-sql');
      const store = createSqlStore({
        dialect: 'postgres',
        connectionString: url,
        tablePrefix: prefix,
        migrate: true,
      });
      try {
        await store.init();
      } catch (err) {
        await store.close().catch(() => {});
        if (process.env.CI === 'true') throw err;
        console.warn(
          `\n!!! PostgreSQL at ${url} is unreachable (${(err as Error).message}): the http-admin PostgreSQL suite is SKIPPED. Set CI=true to make this a failure.\n`,
        );
        return null;
      }
      return store;
    },
    async dispose() {},
  };
}

/** Redis at `OASIS_REDIS_URL` (default the local server), with a key prefix of its own. */
export function redisKit(prefix: string): StoreKit {
  const url = process.env.OASIS_REDIS_URL ?? 'redis://127.0.0.1:6379';
  return {
    name: 'redis',
    async create() {
      const { createRedisStore } = await import('@oasis/store-redis');
      const store = createRedisStore({ url, prefix, connectTimeoutMs: 2_000 });
      try {
        await store.init();
      } catch (err) {
        await store.close().catch(() => {});
        if (process.env.CI === 'true') throw err;
        console.warn(
          `\n!!! Redis at ${url} is unreachable (${(err as Error).message}): the http-admin Redis suite is SKIPPED. Set CI=true to make this a failure.\n`,
        );
        return null;
      }
      return store;
    },
    async dispose() {},
  };
}

/** What a request returned. */
export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked field by field in tests.
  body: any;
  text: string;
}

/** Request options of the test client. */
export interface Ask {
  /** The role whose token is sent; none sends no credentials. */
  as?: keyof typeof TOKENS | 'none' | 'bad';
  /** A JSON body (serialized). */
  json?: unknown;
  /** A raw body, sent as is. */
  raw?: string | Uint8Array | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
}

/** A fetch client of one server. */
export function client(base: () => string) {
  return async function ask(method: string, path: string, options: Ask = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    const as = options.as ?? 'admin';
    if (as === 'bad') headers.authorization = 'Bearer not-a-token';
    else if (as !== 'none') headers.authorization = `Bearer ${TOKENS[as]}`;
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    } else if (options.raw !== undefined) {
      body = options.raw as BodyInit;
    } else if (method === 'POST') {
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(base() + path, {
      method,
      headers,
      body,
      ...(options.raw instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** A promise with its resolver, to gate handlers from the test. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

/** Reads SSE events from a fetch response, waiting for each with a deadline. */
export function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = false;
  const queue: SseEvent[] = [];
  const parse = () => {
    for (let i = buffer.indexOf('\n\n'); i !== -1; i = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const ev: SseEvent = { event: 'message', id: null, data: '' };
      let hasField = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line === '') continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') ev.event = value;
        else if (field === 'id') ev.id = value;
        else if (field === 'data') ev.data += value;
        else continue;
        hasField = true;
      }
      if (hasField && (ev.data !== '' || ev.event !== 'message')) queue.push(ev);
    }
  };
  const pull = async (deadline: number): Promise<boolean> => {
    const timeout = new Promise<'timeout'>((r) => {
      const t = setTimeout(() => r('timeout'), Math.max(0, deadline - Date.now()));
      t.unref?.();
    });
    const next = await Promise.race([reader.read(), timeout]);
    if (next === 'timeout') throw new Error('timed out waiting for an SSE event');
    if (next.done) {
      done = true;
      return false;
    }
    buffer += decoder.decode(next.value, { stream: true });
    parse();
    return true;
  };
  return {
    /** The next event, waiting up to `timeoutMs`; null when the stream ended. */
    async next(timeoutMs = 10_000): Promise<SseEvent | null> {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (done) return null;
        await pull(deadline);
      }
      return queue.shift()!;
    },
    /** True once the server closed the stream (waits up to `timeoutMs` for it). */
    async ended(timeoutMs = 10_000): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      while (!done) {
        if (!(await pull(deadline))) break;
      }
      return done;
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}
