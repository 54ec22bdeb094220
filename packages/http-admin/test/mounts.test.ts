/**
 * What the mounts and the handler core do beyond the route contract: refusing to mount without
 * authentication, `auth: 'none'`, the host's session as credentials, a host body parser already
 * in place, Fastify encapsulation, failing `authorize`, public metrics, body limits, a closed store.
 */
import type { AddressInfo } from 'node:net';
import { MemoryStore, Scheduler, ValidationError } from '@oasis/core';
import { AdminConfigError, type AdminPrincipal, createAdminHandler } from '@oasis/http-admin';
import { expressAdmin } from '@oasis/http-admin/express';
import { fastifyAdmin } from '@oasis/http-admin/fastify';
import express, { type Request } from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BASE,
  bearerAuthorize,
  client,
  type Framework,
  startServer,
  type TestServer,
  TOKENS,
} from './support';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function scheduler(store = new MemoryStore()): Scheduler {
  return new Scheduler({
    store,
    app: `mounts-${Math.random().toString(36).slice(2, 8)}`,
    remoteHandlers: '*',
  });
}

async function serve(framework: Framework, s: Scheduler, options: object): Promise<TestServer> {
  const server = await startServer(framework, s, options);
  cleanups.push(() => server.close());
  return server;
}

describe('refusing to mount without authentication', () => {
  it('throws AdminConfigError naming options.authorize from the core and from Express', () => {
    const s = scheduler();
    for (const make of [() => createAdminHandler(s, {}), () => expressAdmin(s, {})]) {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AdminConfigError);
      expect(caught).toBeInstanceOf(ValidationError);
      expect(caught).toMatchObject({ code: 'VALIDATION', field: 'options.authorize', rule: 'required' });
    }
  });

  it('refuses bad options: both authorize and auth none, another auth value, unknown keys, a bad limit', () => {
    const s = scheduler();
    const authorize = () => null;
    expect(() => createAdminHandler(s, { authorize, auth: 'none' })).toThrow(
      expect.objectContaining({ field: 'options.auth', rule: 'exclusive' }),
    );
    expect(() => createAdminHandler(s, { auth: 'off' as 'none' })).toThrow(
      expect.objectContaining({ field: 'options.auth', rule: 'enum' }),
    );
    expect(() => createAdminHandler(s, { authorize, athorize: authorize } as object)).toThrow(
      expect.objectContaining({ field: 'options.athorize', rule: 'unknown-key' }),
    );
    expect(() => createAdminHandler(s, { authorize, bodyLimit: 0 })).toThrow(
      expect.objectContaining({ field: 'options.bodyLimit', rule: 'range' }),
    );
    expect(() => createAdminHandler({} as Scheduler, { authorize })).toThrow(
      expect.objectContaining({ field: 'options.scheduler' }),
    );
  });

  it('fails Fastify registration without authorize or without a scheduler', async () => {
    const s = scheduler();
    const app = Fastify();
    app.register(fastifyAdmin, { prefix: BASE, scheduler: s });
    await expect(app.ready()).rejects.toMatchObject({ field: 'options.authorize', rule: 'required' });
    await app.close();
    const app2 = Fastify();
    app2.register(fastifyAdmin, { prefix: BASE } as never);
    await expect(app2.ready()).rejects.toBeInstanceOf(AdminConfigError);
    await app2.close();
  });

  it.each(['express', 'fastify'] as const)(
    '%s: auth none serves everyone as an anonymous admin',
    async (fw) => {
      const s = scheduler();
      const server = await serve(fw, s, { auth: 'none' });
      const ask = client(() => server.url);
      const me = await ask('GET', '/me', { as: 'none' });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ user: 'anonymous', role: 'admin', app: s.app });
    },
  );
});

describe('credentials from the host', () => {
  it('express: authorize reads the host session (req.session.user) and the audit names that user', async () => {
    const s = scheduler();
    await s.start();
    cleanups.push(() => s.stop({ timeoutMs: 0 }));
    const sessions = new Map<string, { user: { name: string; isAdmin: boolean } }>([
      ['s-1', { user: { name: 'grace', isAdmin: true } }],
    ]);
    const app = express();
    // A stand-in for express-session: the host's middleware puts the session on the request.
    app.use((req, _res, next) => {
      const sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      (req as Request & { session?: unknown }).session = sid === undefined ? undefined : sessions.get(sid);
      next();
    });
    app.use(
      BASE,
      expressAdmin(s, {
        authorize: (req): AdminPrincipal | null => {
          const session = (
            req.raw as (Request & { session?: { user?: { name: string; isAdmin: boolean } } }) | undefined
          )?.session;
          if (session?.user === undefined) return null;
          return { user: session.user.name, role: session.user.isAdmin ? 'admin' : 'viewer' };
        },
      }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE}`;
    expect((await fetch(`${url}/me`)).status).toBe(401);
    const res = await fetch(`${url}/jobs`, {
      method: 'POST',
      headers: { cookie: 'sid=s-1', 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'from-session', handler: 'x' }),
    });
    expect(res.status).toBe(201);
    const audit = await s.store.listAudit({ app: s.app, targetId: 'from-session' });
    expect(audit.items[0]).toMatchObject({ actor: 'grace', action: 'job.create' });
  });

  it('express: a body already parsed by the host (express.json) is used as is', async () => {
    const s = scheduler();
    await s.start();
    cleanups.push(() => s.stop({ timeoutMs: 0 }));
    const app = express();
    app.use(express.json());
    app.use(BASE, expressAdmin(s, { authorize: bearerAuthorize }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const ask = client(() => `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE}`);
    const ok = await ask('POST', '/jobs', { json: { key: 'parsed', handler: 'x', tags: ['a'] } });
    expect(ok.status).toBe(201);
    expect(ok.body.tags).toEqual(['a']);
    const bad = await ask('POST', '/jobs', { json: { key: 'parsed-2', handler: 'x', nope: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ field: 'nope', rule: 'unknown-key' });
    const noBody = await ask('POST', '/jobs/parsed/disable', {});
    expect(noBody.status).toBe(200);
  });

  it("fastify: the plugin's body handling stays inside it; the host's JSON routes still parse", async () => {
    const s = scheduler();
    const app = Fastify();
    app.post('/host/echo', async (req) => ({ got: req.body }));
    await app.register(fastifyAdmin, { prefix: BASE, scheduler: s, authorize: bearerAuthorize });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/host/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await res.json()).toEqual({ got: { a: 1 } });
    const me = await fetch(`http://127.0.0.1:${port}${BASE}/me`, {
      headers: { authorization: `Bearer ${TOKENS.viewer}` },
    });
    expect(me.status).toBe(200);
  });
});

describe.each(['express', 'fastify'] as const)('%s mount edges', (fw) => {
  it('answers 500 without details when authorize throws or returns a bad principal, and reports it', async () => {
    const s = scheduler();
    const reported: unknown[] = [];
    const server = await serve(fw, s, {
      authorize: (req: { headers: Record<string, unknown> }) => {
        if (req.headers['x-mode'] === 'throw') throw new Error('secret database password in message');
        return { user: 'u', role: 'superuser' } as unknown as AdminPrincipal;
      },
      onError: (e: unknown) => reported.push(e),
    });
    const ask = client(() => server.url);
    const thrown = await ask('GET', '/me', { headers: { 'x-mode': 'throw' } });
    expect(thrown.status).toBe(500);
    expect(thrown.body.error).toMatchObject({ code: 'INTERNAL', field: null, rule: null });
    expect(thrown.text).not.toContain('secret');
    const badRole = await ask('GET', '/me');
    expect(badRole.status).toBe(500);
    expect(reported).toHaveLength(2);
  });

  it('serves /metrics without credentials only with publicMetrics', async () => {
    const s = scheduler();
    const server = await serve(fw, s, { authorize: bearerAuthorize, publicMetrics: true });
    const ask = client(() => server.url);
    const metrics = await ask('GET', '/metrics', { as: 'none' });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('oasis_queue_depth');
    expect((await ask('GET', '/jobs', { as: 'none' })).status).toBe(401);
    const doc = await ask('GET', '/openapi.json', { as: 'viewer' });
    expect(doc.body.paths['/metrics'].get.security).toEqual([]);
  });

  it('applies a custom body limit, and says which methods a path allows', async () => {
    const s = scheduler();
    const server = await serve(fw, s, { authorize: bearerAuthorize, bodyLimit: 100 });
    const ask = client(() => server.url);
    const big = await ask('POST', '/jobs', {
      json: { key: 'k', handler: 'h', description: 'd'.repeat(200) },
    });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body', rule: 'max-bytes' });
    const put = await ask('PUT', '/jobs/x', { json: {} });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'PATCH']);
    // A job may be named like a sub-route: GET /jobs/batch is the job 'batch'.
    const batch = await ask('GET', '/jobs/batch');
    expect(batch.status).toBe(404);
    expect(batch.body.error.code).toBe('NOT_FOUND');
  });

  it('answers 503 when the store is closed, and 200 for the routes that need no store', async () => {
    const store = new MemoryStore();
    const s = scheduler(store);
    const server = await serve(fw, s, { authorize: bearerAuthorize, onError: () => {} });
    const ask = client(() => server.url);
    await s.store.init();
    await s.store.close();
    const res = await ask('GET', '/jobs');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('STORE_CLOSED');
    expect((await ask('GET', '/me')).status).toBe(200);
  });
});
