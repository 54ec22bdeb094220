/**
 * The handler core without any framework: a plain request object in, a response object out
 * (how a new mount would use it), and the route table's own consistency.
 */
import { MemoryStore, Scheduler } from '@oasis/core';
import {
  type AdminStreamResponse,
  type AdminTextResponse,
  createAdminHandler,
  ROUTES,
} from '@oasis/http-admin';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuthorize, TOKENS } from './support';

describe('the handler core on plain objects', () => {
  const scheduler = new Scheduler({ store: new MemoryStore(), app: 'core-only', remoteHandlers: '*' });
  const admin = createAdminHandler(scheduler, { authorize: bearerAuthorize, tailPollMs: 10 });
  const headers = { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' };

  beforeAll(() => scheduler.start());
  afterAll(async () => {
    admin.close();
    await scheduler.stop({ timeoutMs: 0 });
  });

  it('serves JSON from a request object, body as bytes', async () => {
    const body = new TextEncoder().encode(JSON.stringify({ key: 'plain', handler: 'h' }));
    const created = (await admin.handle({
      method: 'POST',
      path: '/jobs',
      query: {},
      headers,
      body,
    })) as AdminTextResponse;
    expect(created.status).toBe(201);
    expect(created.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(created.body)).toMatchObject({ key: 'plain', app: 'core-only' });
    const list = (await admin.handle({
      method: 'GET',
      path: '/jobs',
      query: { search: 'pla' },
      headers,
    })) as AdminTextResponse;
    expect(JSON.parse(list.body).items.map((j: { key: string }) => j.key)).toEqual(['plain']);
  });

  it('returns a stream for the live tail, ending with the run', async () => {
    const [run] = await scheduler.jobs.trigger('plain');
    await scheduler.cancel(run!.id);
    const res = (await admin.handle({
      method: 'GET',
      path: `/runs/${run!.id}/logs/stream`,
      query: {},
      headers,
    })) as AdminStreamResponse;
    expect(res.status).toBe(200);
    const chunks: string[] = [];
    for await (const chunk of res.stream) chunks.push(chunk);
    expect(chunks.join('')).toMatch(/event: run\n[\s\S]*event: end\ndata: \{"state":"cancelled"/);
  });

  it('has one route per method and path, and unique OpenAPI operation ids', () => {
    const keys = ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    const ids: string[] = [];
    for (const ops of Object.values(
      admin.openapi.paths as Record<string, Record<string, { operationId: string }>>,
    )) {
      for (const op of Object.values(ops)) ids.push(op.operationId);
    }
    expect(ids).toHaveLength(ROUTES.length);
    expect(new Set(ids).size).toBe(ids.length);
    for (const route of ROUTES.filter((r) => r.mutates)) expect(route.method).not.toBe('GET');
  });
});
