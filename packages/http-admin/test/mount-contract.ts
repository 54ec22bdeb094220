/**
 * The mount contract: one suite, run against every framework mount and every store. It drives a
 * real scheduler through a real HTTP server with fetch: every route under every role, the audit
 * entries of every change, bad input on every route, paging, metrics, OpenAPI and the SSE tail.
 */
import { type AuditRecord, ROUTING_STRATEGIES, type RunRecord, Scheduler, type Store } from '@oasis/core';
import { ROUTES } from '@oasis/http-admin';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Answer,
  bearerAuthorize,
  client,
  deferred,
  type Framework,
  type StoreKit,
  sseReader,
  startServer,
  type TestServer,
  TOKENS,
  USERS,
  until,
} from './support';

type Role = 'viewer' | 'operator' | 'admin';
const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const FAR_CRON = '0 0 1 1 *';

/** Runs the whole contract for one framework on one store. */
export function describeMountContract(framework: Framework, kit: StoreKit): void {
  describe(`admin API mounted on ${framework}, ${kit.name} store`, () => {
    const app = `adm-${framework}-${kit.name}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
    let raw: Store | null = null;
    let scheduler: Scheduler;
    let server: TestServer;
    let skipped = false;
    const errors: unknown[] = [];
    const ask = client(() => server.url);
    const tailGates = { first: deferred(), second: deferred() };
    let finalRun: RunRecord;
    let pendingRun: RunRecord;

    const store = () => scheduler.store;
    const audits = async (): Promise<AuditRecord[]> =>
      (await store().listAudit({ app }, { limit: 1000 })).items;

    /** What a refused request must leave as it was. */
    const snapshot = async () => {
      const jobs = (await store().listJobs({ app }, { limit: 1000 })).items.map(
        (j) => `${j.key}@${j.version}:${j.enabled}`,
      );
      const runs = (await store().listRuns({ app }, { limit: 1000 })).items.map(
        (r) => `${r.id}:${r.cancelRequested || r.state === 'cancelled'}`,
      );
      const nodes = (await store().listNodes(app)).map((n) => `${n.nodeId}:${n.desiredState}`);
      return { jobs, runs, nodes, audit: (await audits()).length };
    };

    const waitRun = (id: string, states: string[]) =>
      until(`run ${id} in ${states.join('/')}`, async () => {
        const run = await store().getRun(id);
        return run !== null && states.includes(run.state) ? run : undefined;
      });

    beforeAll(async () => {
      raw = await kit.create();
      if (raw === null) {
        skipped = true;
        return;
      }
      scheduler = new Scheduler({
        store: raw,
        app,
        heartbeatInterval: 30,
        pollInterval: 100,
        runLease: 5_000,
        remoteHandlers: ['remote-only'],
      });
      scheduler.handle('noop', async (ctx) => {
        ctx.log('noop ran', { params: ctx.params });
        return { echoed: ctx.params };
      });
      scheduler.handle('tail-me', async (ctx) => {
        ctx.log('first line');
        await tailGates.first.promise;
        ctx.log('second line', { n: 2 }, 'warn');
        await tailGates.second.promise;
        return { ok: true };
      });
      scheduler.handle(
        'blocker',
        (ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
      );
      await scheduler.start();
      server = await startServer(framework, scheduler, {
        authorize: bearerAuthorize,
        tailPollMs: 20,
        // The dashboard test compares with the store as it is now; reuse is tested on virtual
        // time in dashboard-cache.test.ts.
        dashboardCacheMs: 0,
        onError: (error: unknown) => errors.push(error),
      });
      await scheduler.jobs.create({
        key: 'report',
        handler: 'noop',
        schedule: { cron: '0 2 * * *', tz: 'Europe/Paris' },
        params: { to: 'ops' },
        tags: ['billing'],
        description: 'nightly report',
      });
      await scheduler.jobs.create({ key: 'remote-job', handler: 'remote-only', tags: ['remote'] });
      await scheduler.jobs.create({ key: 'tail-job', handler: 'tail-me' });
      await scheduler.jobs.create({ key: 'block-job', handler: 'blocker', block: 'parallel' });
      const [run] = await scheduler.jobs.trigger('report');
      finalRun = await waitRun(run!.id, ['succeeded']);
      [pendingRun] = (await scheduler.jobs.trigger('remote-job')) as [RunRecord];
      await store().registerNode({
        nodeId: 'ghost',
        app,
        host: 'ghost-host',
        pid: 1,
        version: '0.0.0',
        handlers: ['noop'],
        weight: 1,
        concurrency: 4,
      });
    });

    afterAll(async () => {
      if (skipped) return;
      tailGates.first.resolve();
      tailGates.second.resolve();
      await server?.close();
      await scheduler?.stop({ timeoutMs: 1_000 });
      await raw?.close();
      await kit.dispose();
      // No request may have failed with an unexpected error along the way.
      expect(errors).toEqual([]);
    });

    beforeEach((ctx) => {
      // Skipped only when this kit's server is unreachable: kit.create() warned loudly (and failed the run under CI=true).
      if (skipped) ctx.skip();
    });

    // ---- every route, every role -------------------------------------------------------------

    interface Case {
      route: string;
      path: () => string;
      json?: () => unknown;
      least: Role;
      ok: number;
      audit?: { action: string; targetId: () => string; before: boolean; after: boolean };
    }
    const cases: Case[] = [
      { route: 'GET /me', path: () => '/me', least: 'viewer', ok: 200 },
      { route: 'GET /openapi.json', path: () => '/openapi.json', least: 'viewer', ok: 200 },
      { route: 'GET /metrics', path: () => '/metrics', least: 'viewer', ok: 200 },
      { route: 'GET /dashboard', path: () => '/dashboard', least: 'viewer', ok: 200 },
      { route: 'GET /jobs', path: () => '/jobs', least: 'viewer', ok: 200 },
      {
        route: 'POST /jobs',
        path: () => '/jobs',
        json: () => ({ key: 'roles-made', handler: 'noop', schedule: { cron: FAR_CRON, tz: 'Asia/Tokyo' } }),
        least: 'admin',
        ok: 201,
        audit: { action: 'job.create', targetId: () => 'roles-made', before: false, after: true },
      },
      {
        route: 'POST /jobs/batch',
        path: () => '/jobs/batch',
        json: () => ({ action: 'disable', keys: ['roles-made'] }),
        least: 'operator',
        ok: 200,
        audit: { action: 'job.disable', targetId: () => 'roles-made', before: true, after: true },
      },
      {
        route: 'GET /schedule/preview',
        path: () => '/schedule/preview?cron=0+9+*+*+1-5&tz=Europe%2FParis&count=3',
        least: 'viewer',
        ok: 200,
      },
      { route: 'GET /jobs/:key', path: () => '/jobs/report', least: 'viewer', ok: 200 },
      {
        route: 'PATCH /jobs/:key',
        path: () => '/jobs/roles-made',
        json: () => ({ description: 'edited' }),
        least: 'admin',
        ok: 200,
        audit: { action: 'job.update', targetId: () => 'roles-made', before: true, after: true },
      },
      {
        route: 'POST /jobs/:key/enable',
        path: () => '/jobs/roles-made/enable',
        least: 'operator',
        ok: 200,
        audit: { action: 'job.enable', targetId: () => 'roles-made', before: true, after: true },
      },
      {
        route: 'POST /jobs/:key/disable',
        path: () => '/jobs/roles-made/disable',
        least: 'operator',
        ok: 200,
        audit: { action: 'job.disable', targetId: () => 'roles-made', before: true, after: true },
      },
      {
        route: 'POST /jobs/:key/trigger',
        path: () => '/jobs/report/trigger',
        json: () => ({ params: { override: true } }),
        least: 'operator',
        ok: 201,
        audit: { action: 'job.trigger', targetId: () => 'report', before: false, after: true },
      },
      {
        route: 'POST /jobs/:key/copy',
        path: () => '/jobs/report/copy',
        json: () => ({ key: 'roles-copy' }),
        least: 'admin',
        ok: 201,
        audit: { action: 'job.create', targetId: () => 'roles-copy', before: false, after: true },
      },
      {
        route: 'DELETE /jobs/:key',
        path: () => '/jobs/roles-copy',
        least: 'admin',
        ok: 200,
        audit: { action: 'job.delete', targetId: () => 'roles-copy', before: true, after: false },
      },
      { route: 'GET /runs', path: () => '/runs', least: 'viewer', ok: 200 },
      { route: 'GET /runs/:id', path: () => `/runs/${finalRun.id}`, least: 'viewer', ok: 200 },
      { route: 'GET /runs/:id/logs', path: () => `/runs/${finalRun.id}/logs`, least: 'viewer', ok: 200 },
      {
        route: 'GET /runs/:id/logs/stream',
        path: () => `/runs/${finalRun.id}/logs/stream`,
        least: 'viewer',
        ok: 200,
      },
      {
        route: 'POST /runs/:id/cancel',
        path: () => `/runs/${pendingRun.id}/cancel`,
        least: 'operator',
        ok: 200,
        audit: { action: 'run.cancel', targetId: () => pendingRun.id, before: true, after: true },
      },
      {
        route: 'POST /runs/:id/retrigger',
        path: () => `/runs/${finalRun.id}/retrigger`,
        least: 'operator',
        ok: 201,
        audit: { action: 'run.retrigger', targetId: () => finalRun.id, before: true, after: true },
      },
      { route: 'GET /nodes', path: () => '/nodes', least: 'viewer', ok: 200 },
      ...(['drain', 'pause', 'resume'] as const).map(
        (action): Case => ({
          route: `POST /nodes/:nodeId/${action}`,
          path: () => `/nodes/ghost/${action}`,
          least: 'operator',
          ok: 200,
          audit: { action: `node.${action}`, targetId: () => 'ghost', before: true, after: true },
        }),
      ),
      {
        route: 'DELETE /nodes/:nodeId',
        path: () => '/nodes/ghost',
        least: 'admin',
        ok: 200,
        audit: { action: 'node.remove', targetId: () => 'ghost', before: true, after: false },
      },
      { route: 'GET /audit', path: () => '/audit', least: 'viewer', ok: 200 },
    ];

    it('covers every route of the table', () => {
      expect(cases.map((c) => c.route).sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    });

    it('answers every route: 401 without credentials, 403 below its role, success at its role, with audit entries', async () => {
      for (const c of cases) {
        const method = c.route.split(' ')[0]!;
        const json = c.json?.();
        const before = await snapshot();
        for (const as of ['none', 'bad'] as const) {
          const res = await ask(method, c.path(), { as, ...(json === undefined ? {} : { json }) });
          expect(res.status, `${c.route} as ${as}`).toBe(401);
          expect(res.body.error).toMatchObject({ code: 'UNAUTHORIZED', field: null, rule: null });
          expect(res.headers.get('www-authenticate')).toContain('Bearer');
        }
        for (const role of ROLES.slice(0, ROLES.indexOf(c.least))) {
          const res = await ask(method, c.path(), { as: role, ...(json === undefined ? {} : { json }) });
          expect(res.status, `${c.route} as ${role}`).toBe(403);
          expect(res.body.error.code).toBe('FORBIDDEN');
        }
        expect(await snapshot(), `${c.route}: refused requests changed nothing`).toEqual(before);
        const res = await ask(method, c.path(), { as: c.least, ...(json === undefined ? {} : { json }) });
        expect(res.status, `${c.route} as ${c.least}: ${res.text.slice(0, 300)}`).toBe(c.ok);
        if (c.audit !== undefined) {
          const entries = await audits();
          const entry = entries.find(
            (e) => e.action === c.audit!.action && e.targetId === c.audit!.targetId(),
          );
          expect(entry, `${c.route} wrote ${c.audit.action}`).toBeDefined();
          expect(entry!.actor).toBe(USERS[c.least]);
          expect(entry!.app).toBe(app);
          expect(typeof entry!.at).toBe('number');
          if (c.audit.before) expect(entry!.before).not.toBeNull();
          else expect(entry!.before).toBeNull();
          if (c.audit.after) expect(entry!.after).not.toBeNull();
          else expect(entry!.after).toBeNull();
          expect(entries.length).toBeGreaterThan(before.audit);
        } else {
          expect((await audits()).length, `${c.route} is a read: no audit entry`).toBe(before.audit);
        }
      }
    });

    it('refuses a batch delete to an operator (admin only) and changes nothing', async () => {
      await ask('POST', '/jobs', { json: { key: 'batch-del', handler: 'noop' } });
      const before = await snapshot();
      const res = await ask('POST', '/jobs/batch', {
        as: 'operator',
        json: { action: 'delete', keys: ['batch-del'] },
      });
      expect(res.status).toBe(403);
      expect(await snapshot()).toEqual(before);
      const ok = await ask('POST', '/jobs/batch', {
        json: { action: 'delete', keys: ['batch-del', 'nope-x'] },
      });
      expect(ok.status).toBe(200);
      expect(ok.body.results).toEqual([
        { key: 'batch-del', ok: true },
        {
          key: 'nope-x',
          ok: false,
          error: expect.objectContaining({ code: 'NOT_FOUND', field: null, rule: null }),
        },
      ]);
      expect(await store().getJob(app, 'batch-del')).toBeNull();
    });

    it('triggers and switches several jobs in one batch, each audited', async () => {
      const res = await ask('POST', '/jobs/batch', {
        as: 'operator',
        json: { action: 'trigger', keys: ['remote-job', 'no-such-job'], params: { batch: 1 } },
      });
      expect(res.status).toBe(200);
      const [made, missing] = res.body.results;
      expect(made).toMatchObject({ key: 'remote-job', ok: true });
      expect(made.runIds).toHaveLength(1);
      expect(missing).toMatchObject({ key: 'no-such-job', ok: false, error: { code: 'NOT_FOUND' } });
      const run = await store().getRun(made.runIds[0]);
      expect(run).toMatchObject({ params: { batch: 1 }, trigger: 'manual', state: 'pending' });
      const entry = (await audits()).find(
        (e) => e.action === 'job.trigger' && (e.after as { runIds?: string[] })?.runIds?.[0] === run!.id,
      );
      expect(entry?.actor).toBe(USERS.operator);
      await scheduler.cancel(run!.id);
    });

    // ---- what the routes answer --------------------------------------------------------------

    it('creates, reads, edits with compare-and-set, copies and deletes a job, with before and after in the audit', async () => {
      const created = await ask('POST', '/jobs', {
        as: 'admin',
        json: {
          key: 'crud/one',
          handler: 'noop',
          schedule: { cron: FAR_CRON, tz: 'America/New_York' },
          params: { a: 1 },
          retry: { maxAttempts: 3, backoff: 'fixed', delay: '1s' },
          timeout: '30s',
          tags: ['t1'],
          routing: 'round-robin',
        },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        key: 'crud/one',
        app,
        source: 'admin',
        version: 1,
        schedule: { kind: 'cron', cron: FAR_CRON, tz: 'America/New_York' },
        retry: { maxAttempts: 3, backoff: 'fixed', delayMs: 1000 },
        timeoutMs: 30_000,
        routing: { strategy: 'round-robin' },
      });
      const got = await ask('GET', '/jobs/crud%2Fone', { as: 'viewer' });
      expect(got.status).toBe(200);
      expect(got.body.key).toBe('crud/one');

      const stale = await ask('PATCH', '/jobs/crud%2Fone', { json: { priority: 5, expectedVersion: 7 } });
      expect(stale.status).toBe(409);
      expect(stale.body.error.code).toBe('CONFLICT');
      const edited = await ask('PATCH', '/jobs/crud%2Fone', { json: { priority: 5, expectedVersion: 1 } });
      expect(edited.status).toBe(200);
      expect(edited.body).toMatchObject({ priority: 5, version: 2 });
      const update = (await audits()).find((e) => e.action === 'job.update' && e.targetId === 'crud/one')!;
      expect(update.before).toMatchObject({ priority: 0, version: 1 });
      expect(update.after).toMatchObject({ priority: 5, version: 2 });

      const copy = await ask('POST', '/jobs/crud%2Fone/copy', { json: { key: 'crud/two' } });
      expect(copy.status).toBe(201);
      expect(copy.body).toMatchObject({
        key: 'crud/two',
        enabled: false,
        handler: 'noop',
        priority: 5,
        params: { a: 1 },
        schedule: { kind: 'cron', cron: FAR_CRON, tz: 'America/New_York' },
        retry: { maxAttempts: 3, backoff: 'fixed', delayMs: 1000 },
      });
      const again = await ask('POST', '/jobs/crud%2Fone/copy', { json: { key: 'crud/two' } });
      expect(again.status).toBe(409);

      const del = await ask('DELETE', '/jobs/crud%2Ftwo');
      expect(del.status).toBe(200);
      expect((await ask('GET', '/jobs/crud%2Ftwo')).status).toBe(404);
      expect((await ask('DELETE', '/jobs/crud%2Ftwo')).status).toBe(404);
      const deletion = (await audits()).find((e) => e.action === 'job.delete' && e.targetId === 'crud/two')!;
      expect(deletion.before).toMatchObject({ key: 'crud/two' });
      expect(deletion.after).toBeNull();
    });

    it('lists jobs with search and filters, keyset paging with no gap or repeat', async () => {
      for (let i = 0; i < 5; i++) {
        await scheduler.jobs.create({
          key: `page-${i}`,
          handler: 'noop',
          tags: i % 2 === 0 ? ['even'] : ['odd'],
          enabled: i !== 4,
        });
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let guard = 0; guard < 10; guard++) {
        const res: Answer = await ask(
          'GET',
          `/jobs?search=page-&limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
          { as: 'viewer' },
        );
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.items.map((j: { key: string }) => j.key));
        cursor = res.body.nextCursor;
        if (cursor === null) break;
      }
      expect(seen).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
      const even = await ask('GET', '/jobs?search=page-&tag=even');
      expect(even.body.items.map((j: { key: string }) => j.key)).toEqual(['page-0', 'page-2', 'page-4']);
      const disabled = await ask('GET', '/jobs?search=page-&state=disabled');
      expect(disabled.body.items.map((j: { key: string }) => j.key)).toEqual(['page-4']);
      const byHandler = await ask('GET', '/jobs?handler=remote-only');
      expect(byHandler.body.items.map((j: { key: string }) => j.key)).toEqual(['remote-job']);
      const otherApp = await ask('GET', '/jobs?app=some-other-app');
      expect(otherApp.body.items).toEqual([]);
    });

    it('previews the next fire times of a cron in a time zone', async () => {
      const res = await ask('GET', '/schedule/preview?cron=0+9+*+*+*&tz=Asia%2FTokyo&count=4', {
        as: 'viewer',
      });
      expect(res.status).toBe(200);
      expect(res.body.times).toHaveLength(4);
      for (const t of res.body.times as number[]) {
        // 09:00 in Tokyo is 00:00 UTC.
        expect(new Date(t).getUTCHours()).toBe(0);
        expect(new Date(t).getUTCMinutes()).toBe(0);
      }
      expect(res.body.times[1] - res.body.times[0]).toBe(86_400_000);
      const every = await ask('GET', '/schedule/preview?every=90s&count=2');
      expect(every.body.times[1] - every.body.times[0]).toBe(90_000);
    });

    it('triggers a job with a params override and shows the run with its dispatch context and log', async () => {
      const trig = await ask('POST', '/jobs/report/trigger', {
        as: 'operator',
        json: { params: { only: 'eu' } },
      });
      expect(trig.status).toBe(201);
      const id = trig.body.runs[0].id as string;
      expect(trig.body.runs[0]).toMatchObject({
        trigger: 'manual',
        params: { only: 'eu' },
        jobKey: 'report',
      });
      await waitRun(id, ['succeeded']);
      const detail = await ask('GET', `/runs/${id}`, { as: 'viewer' });
      expect(detail.status).toBe(200);
      expect(detail.body.run).toMatchObject({ id, state: 'succeeded', result: { echoed: { only: 'eu' } } });
      expect(detail.body.dispatch).toMatchObject({
        trigger: 'manual',
        routing: 'any',
        targetNode: null,
        ownerNode: scheduler.nodeId,
        params: { only: 'eu' },
        attempt: 1,
        maxAttempts: 1,
        shard: { index: 0, total: 1 },
      });
      expect(typeof detail.body.dispatch.lateMs).toBe('number');
      expect(detail.body.job).toMatchObject({ key: 'report', handler: 'noop' });
      const logs = await until('the run log', async () => {
        const r = await ask('GET', `/runs/${id}/logs`);
        return r.body.lines.length > 0 ? r : undefined;
      });
      expect(logs.body.lines[0]).toMatchObject({ seq: 1, level: 'info', message: 'noop ran' });
      const none = await ask('GET', `/runs/${id}/logs?after=1`);
      expect(none.body.lines).toEqual([]);
    });

    it('lists runs with filters on job, node, state, trigger and time, keyset paging', async () => {
      const t0 = await store().now();
      const made: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await ask('POST', '/jobs/remote-job/trigger', { json: { params: { i } } });
        made.push(res.body.runs[0].id);
      }
      const q = `jobKey=remote-job&state=pending&trigger=manual&from=${t0}`;
      const page1 = await ask('GET', `/runs?${q}&limit=2`, { as: 'viewer' });
      expect(page1.status).toBe(200);
      const page2 = await ask(
        'GET',
        `/runs?${q}&limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`,
      );
      const ids = [...page1.body.items, ...page2.body.items].map((r: RunRecord) => r.id);
      expect(ids).toEqual([...made].reverse());
      expect(page2.body.nextCursor).toBeNull();
      const iso = new Date(t0).toISOString();
      const byIso = await ask(
        'GET',
        `/runs?jobKey=remote-job&from=${encodeURIComponent(iso)}&state=pending,running`,
      );
      expect(byIso.body.items.map((r: RunRecord) => r.id)).toEqual([...made].reverse());
      const future = await ask('GET', `/runs?jobKey=remote-job&from=${t0 + 3_600_000}`);
      expect(future.body.items).toEqual([]);
      const byNode = await ask('GET', `/runs?nodeId=${encodeURIComponent(scheduler.nodeId)}&state=succeeded`);
      expect(byNode.body.items.length).toBeGreaterThan(0);
      for (const r of byNode.body.items as RunRecord[]) expect(r.ownerNode).toBe(scheduler.nodeId);
      for (const id of made) await scheduler.cancel(id);
    });

    it('lists run summaries (no params, result, error stack) unless view=full; the detail is whole', async () => {
      const q = `jobKey=report&state=succeeded&limit=1`;
      const summary = await ask('GET', `/runs?${q}`, { as: 'viewer' });
      expect(summary.status).toBe(200);
      const [item] = summary.body.items;
      const record = (await store().getRun(item.id)) as RunRecord;
      const { params: _p, result: _r, error: _e, ...rest } = record;
      expect(item).toEqual({ ...rest, error: null });
      expect(Object.keys(item)).not.toContain('params');
      expect(Object.keys(item)).not.toContain('result');
      const full = await ask('GET', `/runs?${q}&view=full`);
      expect(full.body.items).toEqual([record]);
      expect(full.body.nextCursor).toEqual(summary.body.nextCursor);
      const detail = await ask('GET', `/runs/${item.id}`);
      expect(detail.body.run).toEqual(record);
      const dash = await ask('GET', '/dashboard');
      for (const r of [...dash.body.recentRuns, ...dash.body.recentFailures]) {
        expect(Object.keys(r)).not.toContain('params');
        expect(Object.keys(r)).not.toContain('result');
        if (r.error !== null) expect(Object.keys(r.error).sort()).toEqual(['message', 'name']);
      }
      const bad = await ask('GET', `/runs?view=everything`);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'VALIDATION', field: 'view', rule: 'enum' });
    });

    it('cancels a running run (its handler is aborted) and re-triggers it with the same params', async () => {
      const trig = await ask('POST', '/jobs/block-job/trigger', { json: { params: { big: 'job' } } });
      const id = trig.body.runs[0].id as string;
      await waitRun(id, ['running']);
      const res = await ask('POST', `/runs/${id}/cancel`, { as: 'operator', json: { reason: 'test stop' } });
      expect(res.status).toBe(200);
      expect(res.body.changed).toBe(true);
      const ended = await waitRun(id, ['cancelled']);
      expect(ended.state).toBe('cancelled');
      const entry = (await audits()).find((e) => e.action === 'run.cancel' && e.targetId === id)!;
      expect(entry.actor).toBe(USERS.operator);
      expect(entry.before).toMatchObject({ state: 'running' });
      expect(entry.after).toMatchObject({ reason: 'test stop' });
      const again = await ask('POST', `/runs/${id}/cancel`);
      expect(again.status).toBe(200);
      expect(again.body.changed).toBe(false);

      const re = await ask('POST', `/runs/${id}/retrigger`, { as: 'operator' });
      expect(re.status).toBe(201);
      expect(re.body.run).toMatchObject({ params: { big: 'job' }, parentRunId: id, trigger: 'manual' });
      await waitRun(re.body.run.id, ['running']);
      const busy = await ask('POST', `/runs/${re.body.run.id}/retrigger`);
      expect(busy.status).toBe(409);
      expect(busy.body.error.code).toBe('CONFLICT');
      await ask('POST', `/runs/${re.body.run.id}/cancel`);
      await waitRun(re.body.run.id, ['cancelled']);
    });

    it('shows nodes with state, load, heartbeat, handlers and the leader; drains, pauses, resumes and removes', async () => {
      await store().registerNode({
        nodeId: 'spare',
        app,
        host: 'spare-host',
        pid: 2,
        version: '0.0.0',
        handlers: ['noop'],
        weight: 1,
        concurrency: 2,
      });
      const leader = await until('a leader', async () => {
        const r = await ask('GET', '/nodes', { as: 'viewer' });
        return r.body.items.some((n: { leader: boolean }) => n.leader) ? r : undefined;
      });
      const me = leader.body.items.find((n: { nodeId: string }) => n.nodeId === scheduler.nodeId);
      expect(me).toMatchObject({ state: 'active', online: true, leader: true, concurrency: 10 });
      expect(me.handlers).toEqual(expect.arrayContaining(['noop', 'tail-me', 'blocker']));
      expect(typeof me.load).toBe('number');
      expect(typeof me.heartbeatAgeMs).toBe('number');
      const drained = await ask('POST', '/nodes/spare/drain', { as: 'operator' });
      expect(drained.status).toBe(200);
      expect(drained.body.desiredState).toBe('draining');
      const paused = await ask('POST', '/nodes/spare/pause', { as: 'operator' });
      expect(paused.body.desiredState).toBe('paused');
      const resumed = await ask('POST', '/nodes/spare/resume', { as: 'operator' });
      expect(resumed.body.desiredState).toBe('active');
      const entry = (await audits()).find((e) => e.action === 'node.pause' && e.targetId === 'spare')!;
      expect(entry.before).toMatchObject({ desiredState: 'draining' });
      expect(entry.after).toMatchObject({ desiredState: 'paused' });
      expect((await ask('DELETE', '/nodes/spare', { as: 'admin' })).status).toBe(200);
      expect((await ask('DELETE', '/nodes/spare', { as: 'admin' })).status).toBe(404);
      expect((await ask('POST', '/nodes/spare/drain')).status).toBe(404);
    });

    it('pages the audit log newest first and filters it', async () => {
      const all = await ask('GET', '/audit?limit=1000', { as: 'viewer' });
      expect(all.status).toBe(200);
      const ids = all.body.items.map((e: AuditRecord) => e.id);
      const first = await ask('GET', '/audit?limit=3');
      const second = await ask('GET', `/audit?limit=3&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      expect([...first.body.items, ...second.body.items].map((e: AuditRecord) => e.id)).toEqual(
        ids.slice(0, 6),
      );
      const byActor = await ask('GET', `/audit?actor=${USERS.operator}&targetType=job`);
      expect(byActor.body.items.length).toBeGreaterThan(0);
      for (const e of byActor.body.items as AuditRecord[]) {
        expect(e.actor).toBe(USERS.operator);
        expect(e.targetType).toBe('job');
      }
    });

    it('serves the dashboard: jobs by state, 24 h runs and failures, hourly trend, queue, nodes, recent runs', async () => {
      const res = await ask('GET', '/dashboard', { as: 'viewer' });
      expect(res.status).toBe(200);
      const d = res.body;
      const jobs = (await store().listJobs({ app }, { limit: 1000 })).items;
      expect(d.jobs).toEqual({
        total: jobs.length,
        enabled: jobs.filter((j) => j.enabled).length,
        disabled: jobs.filter((j) => !j.enabled).length,
        truncated: false,
      });
      expect(d.last24h.succeeded).toBeGreaterThanOrEqual(1);
      expect(d.trend).toHaveLength(24);
      const trendSucceeded = d.trend.reduce((a: number, h: { succeeded: number }) => a + h.succeeded, 0);
      expect(trendSucceeded).toBe(d.last24h.succeeded);
      expect(d.last24h.failures).toBe(
        d.last24h.failed + d.last24h.dead + d.last24h.timedOut + d.last24h.lost,
      );
      const counts = await store().countRuns(app, ['pending', 'running']);
      expect(d.queue).toEqual({ pending: counts.pending ?? 0, running: counts.running ?? 0 });
      expect(d.nodes.online).toBeGreaterThanOrEqual(1);
      expect(d.recentRuns.length).toBeGreaterThan(0);
      expect(d.recentRuns.length).toBeLessThanOrEqual(10);
      for (const r of d.recentFailures as RunRecord[]) {
        expect(['failed', 'dead', 'timed_out', 'lost']).toContain(r.state);
      }
    });

    it('exposes Prometheus metrics on a registry of its own', async () => {
      const res = await ask('GET', '/metrics', { as: 'viewer' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(res.text).toMatch(
        new RegExp(`oasis_runs_total\\{app="${app}",job="report",state="succeeded"\\} [1-9]`),
      );
      expect(res.text).toContain(
        `oasis_run_duration_seconds_count{app="${app}",job="report",state="succeeded"}`,
      );
      expect(res.text).toContain(`oasis_run_lateness_seconds_count{app="${app}",job="report"}`);
      expect(res.text).toMatch(new RegExp(`oasis_queue_depth\\{app="${app}",state="pending"\\} \\d+`));
      expect(res.text).toMatch(new RegExp(`oasis_nodes\\{app="${app}",state="active"\\} [1-9]`));
      expect(res.text).toContain(`oasis_runs_last_24h{app="${app}",job="report",state="succeeded"}`);
      expect(res.text).toContain('oasis_leader_epoch');
      const { register } = await import('prom-client');
      expect(await register.getMetricsAsJSON()).not.toContainEqual(
        expect.objectContaining({ name: 'oasis_runs_total' }),
      );
    });

    it('serves an OpenAPI 3.1 document of every route', async () => {
      const res = await ask('GET', '/openapi.json', { as: 'viewer' });
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe('3.1.0');
      for (const route of ROUTES) {
        const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}');
        expect(
          res.body.paths[path]?.[route.method.toLowerCase()],
          `${route.method} ${route.path}`,
        ).toBeDefined();
      }
      const create = res.body.paths['/jobs'].post;
      const schema = create.requestBody.content['application/json'].schema;
      expect(schema.required).toEqual(expect.arrayContaining(['key', 'handler']));
      expect(schema.additionalProperties).toBe(false);
      expect(schema.properties.routing.anyOf[0].enum).toEqual([...ROUTING_STRATEGIES]);
      const list = res.body.paths['/runs'].get.parameters.map((p: { name: string }) => p.name);
      expect(list).toEqual(
        expect.arrayContaining([
          'jobKey',
          'app',
          'nodeId',
          'state',
          'trigger',
          'from',
          'to',
          'cursor',
          'limit',
        ]),
      );
      expect(res.body.paths['/jobs/{key}'].get.parameters[0]).toMatchObject({
        name: 'key',
        in: 'path',
        required: true,
      });
      expect(res.body.components.schemas.Error.properties.error.required).toEqual([
        'code',
        'message',
        'field',
        'rule',
      ]);
    });

    // ---- the live log tail -------------------------------------------------------------------

    it('tails a running run’s log by SSE as lines are written, and ends when the run ends', async () => {
      const trig = await ask('POST', '/jobs/tail-job/trigger', { as: 'operator' });
      const id = trig.body.runs[0].id as string;
      await waitRun(id, ['running']);
      const res = await fetch(`${server.url}/runs/${id}/logs/stream`, {
        headers: { authorization: `Bearer ${TOKENS.viewer}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const sse = sseReader(res);
      const first = await sse.next();
      expect(first).toMatchObject({ event: 'run' });
      expect(JSON.parse(first!.data)).toMatchObject({ id, state: 'running' });
      const l1 = await sse.next();
      expect(l1).toMatchObject({ event: 'log', id: '1' });
      expect(JSON.parse(l1!.data)).toMatchObject({ seq: 1, message: 'first line', level: 'info' });
      // The second line does not exist yet: it is written only once the test opens the gate.
      expect((await store().readLogs(id, 1, 10)).length).toBe(0);
      tailGates.first.resolve();
      const l2 = await sse.next();
      expect(l2).toMatchObject({ event: 'log', id: '2' });
      expect(JSON.parse(l2!.data)).toMatchObject({
        seq: 2,
        message: 'second line',
        level: 'warn',
        fields: { n: 2 },
      });
      expect((await store().getRun(id))!.state).toBe('running');
      tailGates.second.resolve();
      const end = await sse.next();
      expect(end).toMatchObject({ event: 'end' });
      expect(JSON.parse(end!.data)).toMatchObject({ state: 'succeeded' });
      expect(await sse.ended()).toBe(true);

      // Resuming after the last event id sends only what follows, then the end.
      const resumed = await fetch(`${server.url}/runs/${id}/logs/stream`, {
        headers: { authorization: `Bearer ${TOKENS.viewer}`, 'last-event-id': '1' },
      });
      const r2 = sseReader(resumed);
      expect((await r2.next())!.event).toBe('run');
      expect(JSON.parse((await r2.next())!.data).seq).toBe(2);
      expect((await r2.next())!.event).toBe('end');
      expect(await r2.ended()).toBe(true);
    });

    it('stops tailing when the client goes away, and keeps serving', async () => {
      const run = await scheduler.jobs.trigger('remote-job');
      const controller = new AbortController();
      const res = await fetch(`${server.url}/runs/${run[0]!.id}/logs/stream`, {
        headers: { authorization: `Bearer ${TOKENS.viewer}` },
        signal: controller.signal,
      });
      const sse = sseReader(res);
      expect((await sse.next())!.event).toBe('run');
      controller.abort();
      await sse.cancel();
      expect((await ask('GET', '/me')).status).toBe(200);
      await scheduler.cancel(run[0]!.id);
    });

    // ---- bad input ---------------------------------------------------------------------------

    interface Bad {
      name: string;
      method: string;
      path: () => string;
      json?: unknown;
      raw?: () => string | Uint8Array | ReadableStream<Uint8Array>;
      headers?: Record<string, string>;
      status: number;
      code?: string;
      field?: string | null;
      rule?: string;
    }
    const huge = () => 'x'.repeat(2 * 1024 * 1024);
    const bad: Bad[] = [
      // jobs list
      {
        name: 'limit not a number',
        method: 'GET',
        path: () => '/jobs?limit=abc',
        status: 400,
        field: 'limit',
        rule: 'type',
      },
      {
        name: 'limit 0',
        method: 'GET',
        path: () => '/jobs?limit=0',
        status: 400,
        field: 'limit',
        rule: 'min',
      },
      {
        name: 'limit too big',
        method: 'GET',
        path: () => '/jobs?limit=5000',
        status: 400,
        field: 'limit',
        rule: 'max',
      },
      {
        name: 'unknown job state',
        method: 'GET',
        path: () => '/jobs?state=sleeping',
        status: 400,
        field: 'state',
        rule: 'enum',
      },
      {
        name: 'unknown query parameter',
        method: 'GET',
        path: () => '/jobs?where=1',
        status: 400,
        field: 'where',
        rule: 'unknown-key',
      },
      {
        name: 'repeated parameter',
        method: 'GET',
        path: () => '/jobs?tag=a&tag=b',
        status: 400,
        field: 'tag',
        rule: 'single',
      },
      {
        name: 'injection-shaped app',
        method: 'GET',
        path: () => `/jobs?app=${encodeURIComponent("x' OR '1'='1")}`,
        status: 400,
        field: 'app',
        rule: 'format',
      },
      {
        name: 'garbage cursor',
        method: 'GET',
        path: () => '/jobs?cursor=%27%3B%20DROP%20TABLE%20jobs%3B--',
        status: 400,
        field: 'cursor',
      },
      // runs list
      {
        name: 'injection-shaped state',
        method: 'GET',
        path: () => `/runs?state=${encodeURIComponent('running; DROP TABLE runs')}`,
        status: 400,
        field: 'state',
        rule: 'enum',
      },
      {
        name: 'bad from',
        method: 'GET',
        path: () => '/runs?from=yesterday',
        status: 400,
        field: 'from',
        rule: 'time',
      },
      {
        name: 'from after to',
        method: 'GET',
        path: () => '/runs?from=2000&to=1000',
        status: 400,
        field: 'from',
        rule: 'range',
      },
      {
        name: 'unknown trigger',
        method: 'GET',
        path: () => '/runs?trigger=cosmic-ray',
        status: 400,
        field: 'trigger',
        rule: 'enum',
      },
      {
        name: 'negative log offset',
        method: 'GET',
        path: () => `/runs/${finalRun.id}/logs?after=-1`,
        status: 400,
        field: 'after',
        rule: 'min',
      },
      {
        name: 'audit target type',
        method: 'GET',
        path: () => '/audit?targetType=users',
        status: 400,
        field: 'targetType',
        rule: 'enum',
      },
      {
        name: 'audit limit type',
        method: 'GET',
        path: () => '/audit?limit=1e400',
        status: 400,
        field: 'limit',
      },
      {
        name: 'dashboard app pattern',
        method: 'GET',
        path: () => '/dashboard?app=%3Cscript%3E',
        status: 400,
        field: 'app',
        rule: 'format',
      },
      {
        name: 'nodes app pattern',
        method: 'GET',
        path: () => `/nodes?app=${encodeURIComponent('a b')}`,
        status: 400,
        field: 'app',
        rule: 'format',
      },
      {
        name: 'job app pattern',
        method: 'GET',
        path: () => `/jobs/report?app=${'a'.repeat(65)}`,
        status: 400,
        field: 'app',
        rule: 'format',
      },
      {
        name: 'job key too long',
        method: 'GET',
        path: () => `/jobs/${'k'.repeat(201)}`,
        status: 400,
        field: 'key',
        rule: 'max',
      },
      { name: 'unknown job', method: 'GET', path: () => '/jobs/no-such-job', status: 404, code: 'NOT_FOUND' },
      {
        name: 'openapi takes no query',
        method: 'GET',
        path: () => '/openapi.json?format=yaml',
        status: 400,
        field: 'format',
        rule: 'unknown-key',
      },
      {
        name: 'metrics takes no query',
        method: 'GET',
        path: () => '/metrics?name%5B%5D=x',
        status: 400,
        field: 'name[]',
        rule: 'unknown-key',
      },
      {
        name: 'me takes no query',
        method: 'GET',
        path: () => '/me?debug=1',
        status: 400,
        field: 'debug',
        rule: 'unknown-key',
      },
      {
        name: 'tail after type',
        method: 'GET',
        path: () => `/runs/${finalRun.id}/logs/stream?after=x`,
        status: 400,
        field: 'after',
        rule: 'type',
      },
      // preview
      {
        name: 'cron that does not parse',
        method: 'GET',
        path: () => '/schedule/preview?cron=61+*+*+*+*',
        status: 400,
        field: 'cron',
        rule: 'cron',
      },
      {
        name: 'unknown time zone',
        method: 'GET',
        path: () => '/schedule/preview?cron=0+9+*+*+*&tz=Mars%2FOlympus_Mons',
        status: 400,
        field: 'tz',
        rule: 'time-zone',
      },
      {
        name: 'preview without cron',
        method: 'GET',
        path: () => '/schedule/preview',
        status: 400,
        field: 'cron',
        rule: 'required',
      },
      {
        name: 'preview count too big',
        method: 'GET',
        path: () => '/schedule/preview?cron=*+*+*+*+*&count=1000',
        status: 400,
        field: 'count',
        rule: 'max',
      },
      // create
      {
        name: 'missing key',
        method: 'POST',
        path: () => '/jobs',
        json: { handler: 'noop' },
        status: 400,
        field: 'key',
        rule: 'required',
      },
      {
        name: 'key of the wrong type',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 5, handler: 'noop' },
        status: 400,
        field: 'key',
        rule: 'type',
      },
      {
        name: 'unknown field',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b1', handler: 'noop', evil: true },
        status: 400,
        field: 'evil',
        rule: 'unknown-key',
      },
      {
        name: 'bad cron on create',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b2', handler: 'noop', schedule: { cron: '61 * * * *' } },
        status: 400,
        field: 'schedule.cron',
        rule: 'cron',
      },
      {
        name: 'unknown zone on create',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b3', handler: 'noop', schedule: { cron: '0 * * * *', tz: 'Nowhere/City' } },
        status: 400,
        field: 'schedule.tz',
        rule: 'time-zone',
      },
      {
        name: 'cron of the wrong type',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b4', handler: 'noop', schedule: { cron: 5 } },
        status: 400,
        field: 'schedule.cron',
        rule: 'type',
      },
      {
        name: 'unknown handler',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b5', handler: 'ghost-handler' },
        status: 400,
        field: 'handler',
        rule: 'unknown-handler',
      },
      {
        name: 'priority as a string',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b6', handler: 'noop', priority: '1' },
        status: 400,
        field: 'priority',
        rule: 'type',
      },
      {
        name: 'routing unknown',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b7', handler: 'noop', routing: 'telepathy' },
        status: 400,
        field: 'routing',
      },
      {
        name: 'bad duration',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b8', handler: 'noop', timeout: '5 sec' },
        status: 400,
        field: 'timeout',
        rule: 'duration',
      },
      {
        name: 'params too large',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'b9', handler: 'noop', params: { blob: 'y'.repeat(100_000) } },
        status: 400,
        field: 'params',
      },
      {
        name: 'injection-shaped key',
        method: 'POST',
        path: () => '/jobs',
        json: { key: "'; DROP TABLE jobs; --\u0000", handler: 'noop' },
        status: 400,
        field: 'key',
      },
      {
        name: 'existing key',
        method: 'POST',
        path: () => '/jobs',
        json: { key: 'report', handler: 'noop' },
        status: 409,
        code: 'CONFLICT',
        field: null,
      },
      {
        name: 'body not JSON',
        method: 'POST',
        path: () => '/jobs',
        raw: () => '{"key": ',
        headers: { 'content-type': 'application/json' },
        status: 400,
        field: 'body',
        rule: 'json',
      },
      {
        name: 'body an array',
        method: 'POST',
        path: () => '/jobs',
        json: [1, 2],
        status: 400,
        field: 'body',
        rule: 'type',
      },
      {
        name: 'body missing',
        method: 'POST',
        path: () => '/jobs',
        status: 400,
        field: 'body',
        rule: 'required',
      },
      {
        name: 'not JSON content type',
        method: 'POST',
        path: () => '/jobs',
        raw: () => 'key=x&handler=noop',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        field: 'content-type',
      },
      {
        name: 'form post without body',
        method: 'POST',
        path: () => '/jobs/report/disable',
        raw: () => '',
        headers: { 'content-type': 'text/plain' },
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'huge body',
        method: 'POST',
        path: () => '/jobs',
        raw: () => JSON.stringify({ key: 'huge', handler: 'noop', params: huge() }),
        headers: { 'content-type': 'application/json' },
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        field: 'body',
        rule: 'max-bytes',
      },
      {
        name: 'huge chunked body',
        method: 'POST',
        path: () => '/jobs',
        raw: () => {
          const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
          let sent = 0;
          return new ReadableStream<Uint8Array>({
            pull(controller) {
              if (sent++ >= 40) controller.close();
              else controller.enqueue(chunk);
            },
          });
        },
        headers: { 'content-type': 'application/json' },
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      },
      // edit
      {
        name: 'empty patch',
        method: 'PATCH',
        path: () => '/jobs/report',
        json: {},
        status: 400,
        field: 'body',
        rule: 'required',
      },
      {
        name: 'key change',
        method: 'PATCH',
        path: () => '/jobs/report',
        json: { key: 'other' },
        status: 400,
        field: 'key',
        rule: 'immutable',
      },
      {
        name: 'bad cron on edit',
        method: 'PATCH',
        path: () => '/jobs/report',
        json: { schedule: { cron: 'every day' } },
        status: 400,
        field: 'schedule.cron',
        rule: 'cron',
      },
      {
        name: 'edit unknown job',
        method: 'PATCH',
        path: () => '/jobs/no-such-job',
        json: { priority: 1 },
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'enabled as a string',
        method: 'PATCH',
        path: () => '/jobs/report',
        json: { enabled: 'yes' },
        status: 400,
        field: 'enabled',
        rule: 'type',
      },
      // job actions
      {
        name: 'trigger unknown job',
        method: 'POST',
        path: () => '/jobs/no-such-job/trigger',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'trigger with unknown field',
        method: 'POST',
        path: () => '/jobs/report/trigger',
        json: { params: {}, when: 'now' },
        status: 400,
        field: 'when',
        rule: 'unknown-key',
      },
      {
        name: 'enable unknown job',
        method: 'POST',
        path: () => '/jobs/no-such-job/enable',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'enable with a body',
        method: 'POST',
        path: () => '/jobs/report/enable',
        json: { force: true },
        status: 400,
        field: 'force',
        rule: 'unknown-key',
      },
      {
        name: 'copy without key',
        method: 'POST',
        path: () => '/jobs/report/copy',
        json: {},
        status: 400,
        field: 'key',
        rule: 'required',
      },
      {
        name: 'copy unknown job',
        method: 'POST',
        path: () => '/jobs/no-such-job/copy',
        json: { key: 'c1' },
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'delete unknown job',
        method: 'DELETE',
        path: () => '/jobs/no-such-job',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'batch unknown action',
        method: 'POST',
        path: () => '/jobs/batch',
        json: { action: 'explode', keys: ['report'] },
        status: 400,
        field: 'action',
        rule: 'enum',
      },
      {
        name: 'batch no keys',
        method: 'POST',
        path: () => '/jobs/batch',
        json: { action: 'enable', keys: [] },
        status: 400,
        field: 'keys',
        rule: 'min',
      },
      {
        name: 'batch keys not an array',
        method: 'POST',
        path: () => '/jobs/batch',
        json: { action: 'enable', keys: 'report' },
        status: 400,
        field: 'keys',
        rule: 'type',
      },
      {
        name: 'batch key of the wrong type',
        method: 'POST',
        path: () => '/jobs/batch',
        json: { action: 'enable', keys: ['report', 7] },
        status: 400,
        field: 'keys.1',
        rule: 'type',
      },
      {
        name: 'batch params too large',
        method: 'POST',
        path: () => '/jobs/batch',
        json: { action: 'trigger', keys: ['report'], params: { blob: 'z'.repeat(70_000) } },
        status: 400,
        field: 'params',
        rule: 'max-bytes',
      },
      {
        name: 'batch params without trigger',
        method: 'POST',
        path: () => '/jobs/batch',
        json: { action: 'enable', keys: ['report'], params: {} },
        status: 400,
        field: 'params',
        rule: 'unexpected',
      },
      // runs
      { name: 'unknown run', method: 'GET', path: () => '/runs/999999999', status: 404, code: 'NOT_FOUND' },
      {
        name: 'unknown run log',
        method: 'GET',
        path: () => '/runs/999999999/logs',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'unknown run tail',
        method: 'GET',
        path: () => '/runs/999999999/logs/stream',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'cancel unknown run',
        method: 'POST',
        path: () => '/runs/999999999/cancel',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'cancel reason type',
        method: 'POST',
        path: () => `/runs/${finalRun.id}/cancel`,
        json: { reason: 42 },
        status: 400,
        field: 'reason',
        rule: 'type',
      },
      {
        name: 'retrigger unknown run',
        method: 'POST',
        path: () => '/runs/999999999/retrigger',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'injection-shaped run id',
        method: 'GET',
        path: () => `/runs/${encodeURIComponent('1 OR 1=1')}`,
        status: 404,
        code: 'NOT_FOUND',
      },
      // nodes
      {
        name: 'drain unknown node',
        method: 'POST',
        path: () => '/nodes/no-such-node/drain',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'pause unknown node',
        method: 'POST',
        path: () => '/nodes/no-such-node/pause',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'resume with a body',
        method: 'POST',
        path: () => '/nodes/ghost2/resume',
        json: { now: true },
        status: 400,
        field: 'now',
        rule: 'unknown-key',
      },
      {
        name: 'remove unknown node',
        method: 'DELETE',
        path: () => '/nodes/no-such-node',
        status: 404,
        code: 'NOT_FOUND',
      },
      // routing
      {
        name: 'unknown route',
        method: 'GET',
        path: () => '/nope',
        status: 404,
        code: 'ROUTE_NOT_FOUND',
        field: null,
      },
      {
        name: 'unknown deep route',
        method: 'GET',
        path: () => '/jobs/report/nope/deeper',
        status: 404,
        code: 'ROUTE_NOT_FOUND',
      },
      {
        name: 'method not allowed',
        method: 'PUT',
        path: () => '/jobs',
        json: {},
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
      },
    ];

    it('covers bad input on every route', () => {
      const covered = new Set(
        bad.map((b) => {
          const path = b.path().split('?')[0]!;
          const route = ROUTES.find((r) => {
            const segs = path.split('/').filter(Boolean);
            return (
              r.method === b.method &&
              r.segments.length === segs.length &&
              r.segments.every((s, i) => s.startsWith(':') || s === segs[i])
            );
          });
          return route === undefined ? null : `${route.method} ${route.path}`;
        }),
      );
      const needInput = ROUTES.map((r) => `${r.method} ${r.path}`);
      for (const r of needInput) expect(covered.has(r), r).toBe(true);
    });

    it('answers bad input with 400 naming the field and rule, changes nothing and keeps serving', async () => {
      for (const b of bad) {
        const before = await snapshot();
        const res = await ask(b.method, b.path(), {
          as: 'admin',
          ...(b.json === undefined ? {} : { json: b.json }),
          ...(b.raw === undefined ? {} : { raw: b.raw() }),
          ...(b.headers === undefined ? {} : { headers: b.headers }),
        });
        expect(res.status, `${b.name}: ${res.text.slice(0, 300)}`).toBe(b.status);
        expect(Object.keys(res.body.error).sort(), b.name).toEqual(['code', 'field', 'message', 'rule']);
        expect(res.body.error.code, b.name).toBe(b.code ?? 'VALIDATION');
        expect(typeof res.body.error.message).toBe('string');
        if (b.field !== undefined) expect(res.body.error.field, b.name).toBe(b.field);
        if (b.rule !== undefined) expect(res.body.error.rule, b.name).toBe(b.rule);
        expect(res.headers.get('content-type')).toContain('application/json');
        expect(await snapshot(), `${b.name}: nothing changed`).toEqual(before);
        expect((await ask('GET', '/me', { as: 'viewer' })).status, `${b.name}: still serving`).toBe(200);
      }
    });

    it('treats injection-shaped filters as plain data', async () => {
      const probes = [
        "' OR 1=1 --",
        '"; DROP TABLE oasis_jobs; --',
        '%',
        '_',
        '\\',
        '{"$gt": ""}',
        '*',
        '../..',
      ];
      for (const p of probes) {
        const jobs = await ask('GET', `/jobs?search=${encodeURIComponent(p)}`, { as: 'viewer' });
        expect(jobs.status, p).toBe(200);
        for (const j of jobs.body.items as Array<{
          key: string;
          handler: string;
          description: string | null;
        }>) {
          const hay = `${j.key} ${j.handler} ${j.description ?? ''}`.toLowerCase();
          expect(hay, p).toContain(p.toLowerCase());
        }
        const runs = await ask('GET', `/runs?jobKey=${encodeURIComponent(p)}`);
        expect(runs.status, p).toBe(200);
        expect(runs.body.items, p).toEqual([]);
        const audit = await ask('GET', `/audit?actor=${encodeURIComponent(p)}`);
        expect(audit.status, p).toBe(200);
        expect(audit.body.items, p).toEqual([]);
      }
      expect((await store().getJob(app, 'report'))?.key).toBe('report');
    });
  });
}
