/**
 * The route table of the admin API: every route, its least role, its schemas and what it does.
 * Reads go to the scheduler's store; changes go through the scheduler (`scheduler.jobs`,
 * `cancel`, `retrigger`) so that they are checked, wake the engine and are audited, except node
 * operations, which the engine does not expose yet and go to the guarded store directly.
 */
import {
  type JobRecord,
  type JobSpec,
  type JsonValue,
  type NodeRecord,
  NotFoundError,
  type RunRecord,
  STORE_LIMITS,
  toJsonValue,
  ValidationError,
} from '@oasis/core';
import { readDashboard } from './dashboard';
import { tailRunLog } from './log-tail';
import { type AnyRoute, defineRoute } from './route';
import { summarizeRun } from './run-summary';
import {
  AuditListQuery,
  BatchBody,
  CancelBody,
  CopyBody,
  DashboardQuery,
  DeleteBody,
  EmptyBody,
  JobCreateBody,
  JobGetQuery,
  JobKeyParams,
  JobListQuery,
  JobPatchBody,
  LogQuery,
  NodeIdParams,
  NoQuery,
  PreviewQuery,
  RunIdParams,
  RunListQuery,
  TailQuery,
  TriggerBody,
} from './schemas';

/** A run's summary for audit entries (not its params or result, which may be large). */
function runSummary(run: RunRecord): JsonValue {
  return {
    id: run.id,
    jobKey: run.jobKey,
    handler: run.handler,
    state: run.state,
    attempt: run.attempt,
    cancelRequested: run.cancelRequested,
  };
}

function nodeSummary(node: NodeRecord): JsonValue {
  return { nodeId: node.nodeId, state: node.state, desiredState: node.desiredState };
}

/** A job record as a spec (for copies): the model's forms are accepted by core's parsers. */
function specOf(job: JobRecord, key: string, enabled: boolean): JobSpec {
  return {
    key,
    handler: job.handler,
    schedule: job.schedule,
    params: job.params,
    enabled,
    retry: {
      maxAttempts: job.retry.maxAttempts,
      backoff: job.retry.backoff,
      delay: job.retry.delayMs,
      maxDelay: job.retry.maxDelayMs,
      jitter: job.retry.jitter,
    },
    timeout: job.timeoutMs,
    block: job.block,
    misfire: job.misfire,
    priority: job.priority,
    routing: job.routing,
    shards: job.shards,
    tags: job.tags,
    owner: job.owner,
    alertContacts: job.alertContacts,
    description: job.description,
  };
}

/** Re-names a core error on `schedule.<x>` as the query parameter `<x>`. */
function asQueryError(err: unknown): unknown {
  if (err instanceof ValidationError && err.field.startsWith('schedule.')) {
    const field = err.field.slice('schedule.'.length);
    return new ValidationError(field, err.rule, err.message.slice(err.field.length + 2), { cause: err });
  }
  if (err instanceof ValidationError && err.field === 'schedule') {
    return new ValidationError('cron', err.rule, err.message.slice(err.field.length + 2), { cause: err });
  }
  return err;
}

/** The dispatch context of a run: how it was made and where it went. */
function dispatchOf(run: RunRecord) {
  return {
    trigger: run.trigger,
    routing: run.routing,
    targetNode: run.targetNode,
    ownerNode: run.ownerNode,
    ownerIncarnation: run.ownerIncarnation,
    params: run.params,
    attempt: run.attempt,
    maxAttempts: run.retry.maxAttempts,
    shard: { index: run.shardIndex, total: run.shardTotal },
    priority: run.priority,
    block: run.block,
    scheduledFor: run.scheduledFor,
    dueAt: run.dueAt,
    idempotencyKey: run.idempotencyKey,
    parentRunId: run.parentRunId,
    lateMs: run.startedAt === null ? null : Math.max(0, run.startedAt - run.dueAt),
  };
}

const NODE_ACTIONS = [
  ['drain', 'draining'],
  ['pause', 'paused'],
  ['resume', 'active'],
] as const;

/** Every route of the admin API, in documentation order. */
export const ROUTES: readonly AnyRoute[] = [
  // ---- meta ----------------------------------------------------------------------------------
  defineRoute({
    method: 'GET',
    path: '/me',
    role: 'viewer',
    mutates: false,
    tag: 'meta',
    summary: 'The caller: user name and role (what the panel may show)',
    query: NoQuery,
    async run(ctx) {
      return { json: { user: ctx.principal.user, role: ctx.principal.role, app: ctx.app } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/openapi.json',
    role: 'viewer',
    mutates: false,
    tag: 'meta',
    summary: 'This OpenAPI 3.1 document',
    query: NoQuery,
    async run(ctx) {
      return { json: ctx.openapi };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/metrics',
    role: 'metrics',
    mutates: false,
    tag: 'meta',
    summary: 'Prometheus metrics (text exposition format)',
    query: NoQuery,
    produces: 'text',
    async run(ctx) {
      const text = await ctx.metrics.render();
      return { text, contentType: ctx.metrics.contentType };
    },
  }),

  // ---- dashboard -----------------------------------------------------------------------------
  defineRoute({
    method: 'GET',
    path: '/dashboard',
    role: 'viewer',
    mutates: false,
    tag: 'dashboard',
    summary:
      'Jobs by state, runs and failures in 24 h, hourly trend, queue, nodes, recent runs and failures (run summaries). One read is shared by concurrent requests and reused for `dashboardCacheMs` (default 1 s): the data can be up to that old',
    query: DashboardQuery,
    async run(ctx) {
      const app = ctx.query.app ?? ctx.app;
      const { store } = ctx;
      const body = await ctx.dashboardCache.get(app, async () =>
        JSON.stringify(await readDashboard(store, app)),
      );
      return { jsonText: body };
    },
  }),

  // ---- jobs ----------------------------------------------------------------------------------
  defineRoute({
    method: 'GET',
    path: '/jobs',
    role: 'viewer',
    mutates: false,
    tag: 'jobs',
    summary: 'Jobs by key, with search and filters (app, state, tag, handler, source), keyset paging',
    query: JobListQuery,
    async run(ctx) {
      const q = ctx.query;
      const page = await ctx.store.listJobs(
        {
          app: q.app ?? ctx.app,
          ...(q.search === undefined ? {} : { search: q.search }),
          ...(q.state === undefined ? {} : { enabled: q.state === 'enabled' }),
          ...(q.tag === undefined ? {} : { tag: q.tag }),
          ...(q.handler === undefined ? {} : { handler: q.handler }),
          ...(q.source === undefined ? {} : { source: q.source }),
        },
        { limit: q.limit ?? 50, cursor: q.cursor ?? null },
      );
      return { json: page };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/jobs',
    role: 'admin',
    mutates: true,
    tag: 'jobs',
    summary: 'Creates a job (source `admin`)',
    query: NoQuery,
    body: JobCreateBody,
    successStatus: 201,
    async run(ctx) {
      const job = await ctx.scheduler.jobs.create(ctx.body as JobSpec, { actor: ctx.principal.user });
      return { status: 201, json: job };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/jobs/batch',
    role: 'operator',
    mutates: true,
    tag: 'jobs',
    summary: 'Enables, disables, triggers (operator) or deletes (admin) several jobs; each key on its own',
    query: NoQuery,
    body: BatchBody,
    async run(ctx) {
      const { action, keys, params } = ctx.body;
      if (action === 'delete') ctx.require('admin');
      if (params !== undefined) {
        if (action !== 'trigger') {
          throw new ValidationError(
            'params',
            'unexpected',
            `goes with action 'trigger' only, not '${action}'`,
          );
        }
        // Bad params would fail every key alike: refuse the whole batch before it starts.
        toJsonValue(params, 'params', STORE_LIMITS.maxJsonBytes);
      }
      const results = await ctx.scheduler.jobs.batch({
        action,
        keys,
        ...(params === undefined ? {} : { params: params as JsonValue }),
        actor: ctx.principal.user,
      });
      return {
        json: {
          results: results.map((r) => ({
            key: r.key,
            ok: r.ok,
            ...(r.runs === undefined ? {} : { runIds: r.runs.map((run) => run.id) }),
            ...(r.error === undefined
              ? {}
              : {
                  error: {
                    code: r.error.code,
                    message: r.error.message,
                    field: r.error instanceof ValidationError ? r.error.field : null,
                    rule: r.error instanceof ValidationError ? r.error.rule : null,
                  },
                }),
          })),
        },
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/schedule/preview',
    role: 'viewer',
    mutates: false,
    tag: 'jobs',
    summary: 'The next N fire times of a cron in a time zone (or of a fixed rate), for the job form',
    query: PreviewQuery,
    async run(ctx) {
      const { cron, tz, every, count } = ctx.query;
      if (cron === undefined && every === undefined) {
        throw new ValidationError('cron', 'required', 'give a cron (with an optional tz) or every');
      }
      if (cron !== undefined && every !== undefined) {
        throw new ValidationError('every', 'exclusive', 'give a cron or every, not both');
      }
      if (tz !== undefined && cron === undefined) {
        throw new ValidationError('tz', 'requires', 'a time zone goes with a cron');
      }
      const schedule = cron !== undefined ? { cron, ...(tz === undefined ? {} : { tz }) } : { every: every! };
      let times: number[];
      try {
        times = await ctx.scheduler.jobs.preview(schedule, count ?? 5);
      } catch (err) {
        throw asQueryError(err);
      }
      return {
        json: { schedule, tz: tz ?? 'UTC', times, iso: times.map((t) => new Date(t).toISOString()) },
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/jobs/:key',
    role: 'viewer',
    mutates: false,
    tag: 'jobs',
    summary: 'One job',
    params: JobKeyParams,
    query: JobGetQuery,
    async run(ctx) {
      const job = await ctx.store.getJob(ctx.query.app ?? ctx.app, ctx.params.key);
      if (job === null) throw new NotFoundError('job', ctx.params.key);
      return { json: job };
    },
  }),
  defineRoute({
    method: 'PATCH',
    path: '/jobs/:key',
    role: 'admin',
    mutates: true,
    tag: 'jobs',
    summary: 'Edits a job: the keys given change; `expectedVersion` makes it a compare-and-set',
    params: JobKeyParams,
    query: NoQuery,
    body: JobPatchBody,
    async run(ctx) {
      const { expectedVersion, ...patch } = ctx.body;
      if (Object.keys(patch).length === 0) {
        throw new ValidationError('body', 'required', 'give at least one job field to change');
      }
      const job = await ctx.scheduler.jobs.update(ctx.params.key, patch as Partial<JobSpec>, {
        actor: ctx.principal.user,
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
      });
      return { json: job };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/jobs/:key',
    role: 'admin',
    mutates: true,
    tag: 'jobs',
    summary: 'Deletes a job and cancels its pending runs',
    params: JobKeyParams,
    query: NoQuery,
    body: DeleteBody,
    bodyOptional: true,
    async run(ctx) {
      const deleted = await ctx.scheduler.jobs.delete(ctx.params.key, {
        actor: ctx.principal.user,
        ...(ctx.body.expectedVersion === undefined ? {} : { expectedVersion: ctx.body.expectedVersion }),
      });
      if (deleted === null) throw new NotFoundError('job', ctx.params.key);
      return { json: { deleted: true, job: deleted } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/jobs/:key/enable',
    role: 'operator',
    mutates: true,
    tag: 'jobs',
    summary: 'Enables a job (its fire times restart from now)',
    params: JobKeyParams,
    query: NoQuery,
    body: EmptyBody,
    bodyOptional: true,
    async run(ctx) {
      return { json: await ctx.scheduler.jobs.enable(ctx.params.key, { actor: ctx.principal.user }) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/jobs/:key/disable',
    role: 'operator',
    mutates: true,
    tag: 'jobs',
    summary: 'Disables a job (manual triggers still work)',
    params: JobKeyParams,
    query: NoQuery,
    body: EmptyBody,
    bodyOptional: true,
    async run(ctx) {
      return { json: await ctx.scheduler.jobs.disable(ctx.params.key, { actor: ctx.principal.user }) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/jobs/:key/trigger',
    role: 'operator',
    mutates: true,
    tag: 'jobs',
    summary: 'Runs a job once now (trigger `manual`), optionally with other params',
    params: JobKeyParams,
    query: NoQuery,
    body: TriggerBody,
    bodyOptional: true,
    successStatus: 201,
    async run(ctx) {
      const hasParams = Object.hasOwn(ctx.body, 'params');
      const runs = await ctx.scheduler.jobs.trigger(ctx.params.key, {
        actor: ctx.principal.user,
        ...(hasParams ? { params: (ctx.body.params ?? null) as JsonValue } : {}),
      });
      return { status: 201, json: { runs } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/jobs/:key/copy',
    role: 'admin',
    mutates: true,
    tag: 'jobs',
    summary: 'Copies a job under a new key (disabled unless `enabled: true`)',
    params: JobKeyParams,
    query: NoQuery,
    body: CopyBody,
    successStatus: 201,
    async run(ctx) {
      const source = await ctx.scheduler.jobs.get(ctx.params.key);
      if (source === null) throw new NotFoundError('job', ctx.params.key);
      const job = await ctx.scheduler.jobs.create(specOf(source, ctx.body.key, ctx.body.enabled ?? false), {
        actor: ctx.principal.user,
      });
      return { status: 201, json: job };
    },
  }),

  // ---- runs ----------------------------------------------------------------------------------
  defineRoute({
    method: 'GET',
    path: '/runs',
    role: 'viewer',
    mutates: false,
    tag: 'runs',
    summary:
      'Runs newest first, filtered by job, app, handler, node, state, trigger and time; keyset paging. Items are summaries (no `params`, `result`, `error.stack`) unless `view=full`',
    query: RunListQuery,
    async run(ctx) {
      const q = ctx.query;
      if (q.from !== undefined && q.to !== undefined && q.from > q.to) {
        throw new ValidationError('from', 'range', 'must not be after `to`');
      }
      const page = await ctx.store.listRuns(
        {
          app: q.app ?? ctx.app,
          ...(q.jobKey === undefined ? {} : { jobKey: q.jobKey }),
          ...(q.handler === undefined ? {} : { handler: q.handler }),
          ...(q.nodeId === undefined ? {} : { nodeId: q.nodeId }),
          ...(q.state === undefined ? {} : { states: q.state }),
          ...(q.trigger === undefined ? {} : { trigger: q.trigger }),
          ...(q.from === undefined ? {} : { from: q.from }),
          ...(q.to === undefined ? {} : { to: q.to }),
          ...(q.parentRunId === undefined ? {} : { parentRunId: q.parentRunId }),
        },
        { limit: q.limit ?? 50, cursor: q.cursor ?? null },
        // summaries need no params or result: the store may leave them out and read less
        q.view === 'full' ? 'full' : 'summary',
      );
      if (q.view === 'full') return { json: page };
      return { json: { items: page.items.map(summarizeRun), nextCursor: page.nextCursor } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/runs/:id',
    role: 'viewer',
    mutates: false,
    tag: 'runs',
    summary:
      'One run with its dispatch context (trigger, routing, target and owner node, params, attempt, shard)',
    params: RunIdParams,
    query: NoQuery,
    async run(ctx) {
      const run = await ctx.store.getRun(ctx.params.id);
      if (run === null) throw new NotFoundError('run', ctx.params.id);
      const [job, children] = await Promise.all([
        run.jobKey === null ? null : ctx.store.getJob(run.app, run.jobKey),
        ctx.store.listRuns({ app: run.app, parentRunId: run.id }, { limit: 20 }),
      ]);
      return {
        json: {
          run,
          dispatch: dispatchOf(run),
          job:
            job === null
              ? null
              : { key: job.key, handler: job.handler, schedule: job.schedule, enabled: job.enabled },
          children: children.items,
        },
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/runs/:id/logs',
    role: 'viewer',
    mutates: false,
    tag: 'runs',
    summary: 'Log lines of a run after `after`, in order',
    params: RunIdParams,
    query: LogQuery,
    async run(ctx) {
      const run = await ctx.store.getRun(ctx.params.id);
      if (run === null) throw new NotFoundError('run', ctx.params.id);
      const limit = ctx.query.limit ?? 500;
      const lines = await ctx.store.readLogs(run.id, ctx.query.after ?? 0, limit);
      const last = lines.at(-1);
      return {
        json: {
          runId: run.id,
          state: run.state,
          lines,
          nextAfter: lines.length === limit && last !== undefined ? last.seq : null,
        },
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/runs/:id/logs/stream',
    role: 'viewer',
    mutates: false,
    tag: 'runs',
    summary: 'Live log tail (Server-Sent Events: `run`, `log`…, `end`); resumes after `Last-Event-ID`',
    params: RunIdParams,
    query: TailQuery,
    produces: 'sse',
    async run(ctx) {
      const run = await ctx.store.getRun(ctx.params.id);
      if (run === null) throw new NotFoundError('run', ctx.params.id);
      const last = ctx.request.headers['last-event-id'];
      let after = ctx.query.after ?? 0;
      if (typeof last === 'string' && /^\d{1,9}$/.test(last)) after = Number(last);
      return { sse: tailRunLog(ctx.store, run, after, ctx.tailPollMs, ctx.signal) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/runs/:id/cancel',
    role: 'operator',
    mutates: true,
    tag: 'runs',
    summary: 'Cancels a run: pending at once, running by aborting its handler; a final run is unchanged',
    params: RunIdParams,
    query: NoQuery,
    body: CancelBody,
    bodyOptional: true,
    async run(ctx) {
      const before = await ctx.scheduler.getRun(ctx.params.id);
      if (before === null) throw new NotFoundError('run', ctx.params.id);
      const reason = ctx.body.reason ?? `cancelled by ${ctx.principal.user}`;
      const after = await ctx.scheduler.cancel(before.id, reason);
      const changed = after.state !== before.state || after.cancelRequested !== before.cancelRequested;
      if (changed) {
        await ctx.audit({
          action: 'run.cancel',
          targetType: 'run',
          targetId: before.id,
          before: runSummary(before),
          after: { ...(runSummary(after) as object), reason } as JsonValue,
        });
      }
      return { json: { run: after, changed } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/runs/:id/retrigger',
    role: 'operator',
    mutates: true,
    tag: 'runs',
    summary: 'Runs a final run again with the same params, as a new run (trigger `manual`)',
    params: RunIdParams,
    query: NoQuery,
    body: EmptyBody,
    bodyOptional: true,
    successStatus: 201,
    async run(ctx) {
      const before = await ctx.scheduler.getRun(ctx.params.id);
      if (before === null) throw new NotFoundError('run', ctx.params.id);
      const created = await ctx.scheduler.retrigger(before.id);
      await ctx.audit({
        action: 'run.retrigger',
        targetType: 'run',
        targetId: before.id,
        before: runSummary(before),
        after: runSummary(created),
      });
      return { status: 201, json: { run: created } };
    },
  }),

  // ---- nodes ---------------------------------------------------------------------------------
  defineRoute({
    method: 'GET',
    path: '/nodes',
    role: 'viewer',
    mutates: false,
    tag: 'nodes',
    summary: 'Nodes of the app: state, load, last heartbeat, handlers, leader',
    query: DashboardQuery,
    async run(ctx) {
      const app = ctx.query.app ?? ctx.app;
      const [nodes, leader, now] = await Promise.all([
        ctx.store.listNodes(app),
        ctx.store.getLeader(app),
        ctx.store.now(),
      ]);
      const leads = (n: NodeRecord) =>
        leader !== null &&
        leader.expiresAt > now &&
        leader.nodeId === n.nodeId &&
        leader.incarnation === n.incarnation;
      return {
        json: {
          now,
          items: nodes.map((n) => ({
            ...n,
            online: n.state !== 'offline',
            load: n.concurrency > 0 ? n.running / n.concurrency : 0,
            heartbeatAgeMs: Math.max(0, now - n.lastHeartbeatAt),
            leader: leads(n),
          })),
        },
      };
    },
  }),
  ...NODE_ACTIONS.map(([action, desired]) =>
    defineRoute({
      method: 'POST',
      path: `/nodes/:nodeId/${action}`,
      role: 'operator',
      mutates: true,
      tag: 'nodes',
      summary:
        action === 'drain'
          ? 'Asks a node to drain: finish its runs and claim no more'
          : action === 'pause'
            ? 'Asks a node to pause claiming'
            : 'Asks a node to go back to active',
      params: NodeIdParams,
      query: NoQuery,
      body: EmptyBody,
      bodyOptional: true,
      async run(ctx) {
        const nodes = await ctx.store.listNodes(ctx.app);
        const before = nodes.find((n) => n.nodeId === ctx.params.nodeId);
        if (before === undefined) throw new NotFoundError('node', ctx.params.nodeId);
        const after = await ctx.store.setNodeDesiredState(ctx.app, ctx.params.nodeId, desired);
        await ctx.audit({
          action: `node.${action}`,
          targetType: 'node',
          targetId: ctx.params.nodeId,
          before: nodeSummary(before),
          after: nodeSummary(after),
        });
        return { json: after };
      },
    }),
  ),
  defineRoute({
    method: 'DELETE',
    path: '/nodes/:nodeId',
    role: 'admin',
    mutates: true,
    tag: 'nodes',
    summary: 'Forgets a node; an online one is fenced and must rejoin',
    params: NodeIdParams,
    query: NoQuery,
    body: EmptyBody,
    bodyOptional: true,
    async run(ctx) {
      const nodes = await ctx.store.listNodes(ctx.app);
      const before = nodes.find((n) => n.nodeId === ctx.params.nodeId);
      if (before === undefined) throw new NotFoundError('node', ctx.params.nodeId);
      const removed = await ctx.store.removeNode(ctx.app, ctx.params.nodeId);
      if (!removed) throw new NotFoundError('node', ctx.params.nodeId);
      await ctx.audit({
        action: 'node.remove',
        targetType: 'node',
        targetId: ctx.params.nodeId,
        before: nodeSummary(before),
        after: null,
      });
      return { json: { removed: true } };
    },
  }),

  // ---- audit ---------------------------------------------------------------------------------
  defineRoute({
    method: 'GET',
    path: '/audit',
    role: 'viewer',
    mutates: false,
    tag: 'audit',
    summary: 'Audit entries newest first, filtered by actor, target and time; keyset paging',
    query: AuditListQuery,
    async run(ctx) {
      const q = ctx.query;
      const page = await ctx.store.listAudit(
        {
          app: q.app ?? ctx.app,
          ...(q.actor === undefined ? {} : { actor: q.actor }),
          ...(q.targetType === undefined ? {} : { targetType: q.targetType }),
          ...(q.targetId === undefined ? {} : { targetId: q.targetId }),
          ...(q.from === undefined ? {} : { from: q.from }),
          ...(q.to === undefined ? {} : { to: q.to }),
        },
        { limit: q.limit ?? 50, cursor: q.cursor ?? null },
      );
      return { json: page };
    },
  }),
];
