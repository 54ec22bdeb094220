/**
 * The zod schemas of every path parameter, query and body of the admin API. Shapes and bounds are
 * checked here; meaning (does this cron parse, is this zone known, is this handler registered) is
 * checked by core before anything is stored. Both end in the same error shape.
 */
import {
  BACKOFF_KINDS,
  BLOCK_STRATEGIES,
  MISFIRE_POLICIES,
  ROUTING_STRATEGIES,
  RUN_STATES,
  STORE_LIMITS,
} from '@oasis/core';
import { z } from 'zod';

const name = z.string().min(1).max(STORE_LIMITS.keyMaxLength);
const app = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1..64 of A-Z a-z 0-9 _ . : -')
  .meta({ description: 'An app (group) name; default the mounted scheduler’s app.' });
const text = z.string().max(STORE_LIMITS.textMaxLength);
const duration = z
  .union([z.number().min(0), z.string().max(40)])
  .meta({ description: "Milliseconds, or a string such as '500ms', '5s', '2m', '1h', '1d'." });

/** A time in a query: ms since the epoch, or an ISO 8601 date-time. */
const time = z
  .string()
  .max(40)
  .refine((s) => /^\d{1,15}$/.test(s) || (/^\d{4}-\d\d-\d\dT/.test(s) && !Number.isNaN(Date.parse(s))), {
    message: 'must be ms since the epoch or an ISO 8601 date-time',
    params: { rule: 'time' },
  })
  .transform((s) => (/^\d+$/.test(s) ? Number(s) : Date.parse(s)))
  .meta({ description: 'ms since the epoch, or an ISO 8601 date-time.' });

const limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(1000)
  .optional()
  .meta({ description: 'Items per page (default 50).' });
const cursor = z
  .string()
  .min(1)
  .max(1000)
  .optional()
  .meta({ description: 'The `nextCursor` of the previous page.' });

// ---- path parameters -------------------------------------------------------------------------

/** `/jobs/:key`. */
export const JobKeyParams = z.strictObject({ key: name });
/** `/runs/:id`. */
export const RunIdParams = z.strictObject({ id: z.string().min(1).max(100) });
/** `/nodes/:nodeId`. */
export const NodeIdParams = z.strictObject({ nodeId: name });

// ---- queries ---------------------------------------------------------------------------------

/** No query parameters. */
export const NoQuery = z.strictObject({});

/** `GET /jobs`. */
export const JobListQuery = z.strictObject({
  app: app.optional(),
  search: z.string().max(200).optional().meta({ description: 'Substring of key, handler or description.' }),
  state: z.enum(['enabled', 'disabled']).optional(),
  tag: z.string().min(1).max(STORE_LIMITS.tagMaxLength).optional(),
  handler: name.optional(),
  source: z.enum(['code', 'admin']).optional(),
  limit,
  cursor,
});

/** `GET /jobs/:key`. */
export const JobGetQuery = z.strictObject({ app: app.optional() });

/** `GET /schedule/preview`: a cron (with a time zone) or a fixed rate. */
export const PreviewQuery = z.strictObject({
  cron: z.string().min(1).max(200).optional(),
  tz: z.string().min(1).max(64).optional(),
  every: z.string().min(1).max(40).optional(),
  count: z.coerce.number().int().min(1).max(100).optional().meta({ description: 'How many (default 5).' }),
});

const runStates = z
  .string()
  .max(200)
  .transform((s, ctx) => {
    const states = s.split(',').map((x) => x.trim());
    for (const st of states) {
      if (!(RUN_STATES as readonly string[]).includes(st)) {
        ctx.addIssue({
          code: 'custom',
          message: `'${st.slice(0, 40)}' is not a run state (one of ${RUN_STATES.join(', ')})`,
          params: { rule: 'enum' },
        });
        return z.NEVER;
      }
    }
    return states as (typeof RUN_STATES)[number][];
  })
  .meta({ description: `Comma-separated run states: ${RUN_STATES.join(', ')}.` });

/** `GET /runs`. */
export const RunListQuery = z.strictObject({
  app: app.optional(),
  jobKey: name.optional(),
  handler: name.optional(),
  nodeId: name.optional(),
  state: runStates.optional(),
  trigger: z.enum(['schedule', 'manual', 'api', 'retry', 'dependency', 'misfire']).optional(),
  from: time.optional(),
  to: time.optional(),
  parentRunId: z.string().min(1).max(100).optional(),
  view: z.enum(['summary', 'full']).optional().meta({
    description:
      '`summary` (default): each run without `params`, `result` and `error.stack`; `full`: whole records, as the run detail gives them.',
  }),
  limit,
  cursor,
});

/** `GET /runs/:id/logs`. */
export const LogQuery = z.strictObject({
  after: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Lines after this `seq` (default 0).' }),
  limit: z.coerce.number().int().min(1).max(1000).optional().meta({ description: 'At most (default 500).' }),
});

/** `GET /runs/:id/logs/stream`. */
export const TailQuery = z.strictObject({
  after: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Lines after this `seq` (default 0; the `Last-Event-ID` header wins).' }),
});

/** `GET /audit`. */
export const AuditListQuery = z.strictObject({
  app: app.optional(),
  actor: z.string().min(1).max(200).optional(),
  targetType: z.enum(['job', 'run', 'node', 'app']).optional(),
  targetId: z.string().min(1).max(STORE_LIMITS.keyMaxLength).optional(),
  from: time.optional(),
  to: time.optional(),
  limit,
  cursor,
});

/** `GET /dashboard`. */
export const DashboardQuery = z.strictObject({ app: app.optional() });

// ---- bodies ----------------------------------------------------------------------------------

const scheduleInput = z
  .union([
    z.string().min(1).max(200).meta({ description: 'A cron (5 or 6 fields), UTC.' }),
    z.strictObject({ cron: z.string().min(1).max(200), tz: z.string().min(1).max(64).optional() }),
    z.strictObject({ every: duration }),
    z.strictObject({ delayAfter: duration }),
    z.strictObject({ at: z.union([z.number(), z.string().max(40)]) }),
    z.null(),
  ])
  .meta({ description: 'When the job fires; null for manual triggers only.' });

const retryInput = z.union([
  z.number().int().min(1).max(1000),
  z.strictObject({
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    backoff: z.enum(BACKOFF_KINDS as [string, ...string[]]).optional(),
    delay: duration.optional(),
    maxDelay: duration.optional(),
    jitter: z.number().min(0).max(1).optional(),
  }),
]);

const routingInput = z.union([
  z.enum(ROUTING_STRATEGIES as [string, ...string[]]),
  z.strictObject({
    strategy: z.enum(ROUTING_STRATEGIES as [string, ...string[]]),
    key: z.string().min(1).max(STORE_LIMITS.keyMaxLength).optional(),
  }),
]);

const json = z.unknown().meta({ description: `Any JSON value, at most ${STORE_LIMITS.maxJsonBytes} bytes.` });

const specFields = {
  handler: name,
  schedule: scheduleInput.optional(),
  params: json.optional(),
  enabled: z.boolean().optional(),
  retry: retryInput.optional(),
  timeout: duration.nullable().optional(),
  block: z.enum(BLOCK_STRATEGIES as [string, ...string[]]).optional(),
  misfire: z.enum(MISFIRE_POLICIES as [string, ...string[]]).optional(),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  routing: routingInput.optional(),
  shards: z.number().int().min(1).max(1000).optional(),
  tags: z.array(z.string().min(1).max(STORE_LIMITS.tagMaxLength)).max(STORE_LIMITS.maxTags).optional(),
  owner: text.nullable().optional(),
  alertContacts: z.array(z.string().min(1).max(320)).max(32).optional(),
  description: text.nullable().optional(),
};

/** `POST /jobs`: a whole job spec. */
export const JobCreateBody = z.strictObject({ key: name, ...specFields });

/** `PATCH /jobs/:key`: the keys to change, and optionally the version read (compare-and-set). */
export const JobPatchBody = z.strictObject({
  ...specFields,
  handler: name.optional(),
  key: name.optional().meta({ description: 'May only repeat the current key.' }),
  expectedVersion: z.number().int().min(1).optional(),
});

/** `POST /jobs/:key/trigger`. */
export const TriggerBody = z.strictObject({
  params: json.optional().meta({ description: "Params for this run instead of the job's." }),
});

/** `POST /jobs/:key/copy`. */
export const CopyBody = z.strictObject({
  key: name.meta({ description: 'The new job’s key.' }),
  enabled: z.boolean().optional().meta({ description: 'Default false: a copy starts disabled.' }),
});

/** `DELETE /jobs/:key` (body optional). */
export const DeleteBody = z.strictObject({ expectedVersion: z.number().int().min(1).optional() });

/** `POST /jobs/batch`. */
export const BatchBody = z.strictObject({
  action: z.enum(['enable', 'disable', 'trigger', 'delete']),
  keys: z.array(name).min(1).max(1000),
  params: json.optional(),
});

/** `POST /runs/:id/cancel`. */
export const CancelBody = z.strictObject({ reason: z.string().min(1).max(1000).optional() });

/** A body that must be empty (or `{}`). */
export const EmptyBody = z.strictObject({});
