import { describe, expect, it } from 'vitest';
import { OasisApiError } from '../src/client/api-error';
import { authReducer, OasisClient, queryString } from '../src/client/oasis-client';
import { apiError, fakeFetch, json, SseStream, until } from './fake-api';

describe('queryString', () => {
  it('drops empty values and encodes the rest', () => {
    expect(queryString({ a: 'x y', b: undefined, c: '', d: 0, e: null, f: false })).toBe(
      '?a=x+y&d=0&f=false',
    );
    expect(queryString({})).toBe('');
  });
});

describe('OasisClient', () => {
  it('calls routes below the base URL through the custom fetch, with JSON bodies and encoded keys', async () => {
    const api = fakeFetch({
      'POST /admin/oasis/jobs/a%2Fb/trigger': () => json(201, { runs: [{ id: '1' }] }),
      'GET /admin/oasis/runs': () => json(200, { items: [], nextCursor: null }),
    });
    const client = new OasisClient({ baseUrl: '/admin/oasis/', fetch: api.fetch });
    const res = await client.triggerJob('a/b', { x: 1 });
    expect(res.runs[0]!.id).toBe('1');
    expect(api.calls[0]!.body).toEqual({ params: { x: 1 } });
    expect(api.calls[0]!.headers.get('content-type')).toBe('application/json');
    await client.listRuns({ jobKey: 'j', state: 'failed,dead', from: 5, cursor: undefined });
    expect(api.calls[1]!.url).toBe('/admin/oasis/runs?jobKey=j&state=failed%2Cdead&from=5');
  });

  it('sends an empty JSON object on bodiless POSTs (the API wants JSON on every POST)', async () => {
    const api = fakeFetch({ 'POST /x/jobs/k/enable': () => json(200, { key: 'k' }) });
    await new OasisClient({ baseUrl: '/x', fetch: api.fetch }).setJobEnabled('k', true);
    expect(api.calls[0]!.body).toEqual({});
  });

  it("rejects with the API's error shape: status, code, field, rule", async () => {
    const api = fakeFetch({
      'POST /x/jobs': () =>
        apiError(400, 'VALIDATION', "schedule.cron: 'x' is not a valid cron", 'schedule.cron', 'cron'),
    });
    const client = new OasisClient({ baseUrl: '/x', fetch: api.fetch });
    const err = await client.createJob({ key: 'k' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OasisApiError);
    expect(err).toMatchObject({ status: 400, code: 'VALIDATION', field: 'schedule.cron', rule: 'cron' });
  });

  it('turns a network failure and a non-JSON success into OasisApiError', async () => {
    const client = new OasisClient({
      baseUrl: '/x',
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    await expect(client.me()).rejects.toMatchObject({ status: 0, code: 'NETWORK' });
    const html = new OasisClient({
      baseUrl: '/x',
      fetch: async () => new Response('<html>', { status: 200 }),
    });
    await expect(html.me()).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
  });

  it('reports 401 until a request succeeds and 403 until dismissed', async () => {
    let status = 401;
    const api = fakeFetch({
      'GET /x/me': () =>
        status === 200 ? json(200, { user: 'u', role: 'viewer', app: 'a' }) : apiError(status, 'X', 'no'),
    });
    const client = new OasisClient({ baseUrl: '/x', fetch: api.fetch });
    const seen: string[] = [];
    client.auth.subscribe(() => seen.push(client.auth.getSnapshot().kind));
    await client.me().catch(() => {});
    expect(client.auth.getSnapshot()).toEqual({ kind: 'unauthorized', message: 'no' });
    status = 200;
    await client.me();
    expect(client.auth.getSnapshot().kind).toBe('ok');
    status = 403;
    await client.me().catch(() => {});
    status = 200;
    await client.me();
    expect(client.auth.getSnapshot().kind).toBe('forbidden');
    client.auth.dispatch({ type: 'dismiss' });
    expect(seen).toEqual(['unauthorized', 'ok', 'forbidden', 'ok']);
  });

  it('authReducer ignores other errors and keeps the same object when nothing changes', () => {
    const ok = { kind: 'ok' } as const;
    expect(authReducer(ok, { type: 'error', error: new OasisApiError(500, 'INTERNAL', 'x') })).toBe(ok);
    expect(authReducer(ok, { type: 'ok' })).toBe(ok);
  });

  it('tails a log over fetch (auth header included): run, lines split across chunks, end', async () => {
    const stream = new SseStream();
    const api = fakeFetch({ 'GET /x/runs/42/logs/stream': () => stream.response() });
    const authed: typeof fetch = (input, init) =>
      api.fetch(input, {
        ...init,
        headers: { ...(init?.headers as Record<string, string>), authorization: 'Bearer t' },
      });
    const client = new OasisClient({ baseUrl: '/x', fetch: authed });
    const lines: number[] = [];
    let ended: unknown = null;
    const done = client.tailLog(
      '42',
      {
        onLine: (l) => lines.push(l.seq),
        onEnd: (e) => {
          ended = e;
        },
      },
      { after: 3 },
    );
    await until(() => api.calls.length === 1);
    expect(api.calls[0]!.url).toBe('/x/runs/42/logs/stream?after=3');
    expect(api.calls[0]!.headers.get('authorization')).toBe('Bearer t');
    stream.push('retry: 2000\n\n');
    stream.event('log', { seq: 4, level: 'info', message: 'a', fields: null, ts: 1 }, 4);
    const half = 'id: 5\nevent: log\ndata: {"seq":5,"level":"error","message":"b","fields":null,"ts":2}\n\n';
    stream.push(half.slice(0, 20));
    stream.push(half.slice(20));
    stream.event('end', { state: 'failed', finishedAt: 3 });
    await done;
    expect(lines).toEqual([4, 5]);
    expect(ended).toEqual({ state: 'failed', finishedAt: 3 });
    // The stream is let go once the run ended.
    await until(() => stream.cancelled);
  });

  it('rejects a tail the API refuses, and reports a 403 to the banner', async () => {
    const api = fakeFetch({ 'GET /x/runs/1/logs/stream': () => apiError(403, 'FORBIDDEN', 'nope') });
    const client = new OasisClient({ baseUrl: '/x', fetch: api.fetch });
    await expect(client.tailLog('1', { onLine: () => {} })).rejects.toMatchObject({ status: 403 });
    expect(client.auth.getSnapshot().kind).toBe('forbidden');
  });
});
