/**
 * Builders of valid model objects for store tests: each returns a complete, valid value that a
 * test overrides field by field.
 */
import type { JobDraft, NodeInfo, RetryPolicy, RunDraft } from '../model';
import { partitionOf } from '../store/partition';

/** A retry policy with `maxAttempts` attempts and a fixed delay. */
export function retryPolicy(maxAttempts = 1, delayMs = 1000): RetryPolicy {
  return { maxAttempts, backoff: 'fixed', delayMs, maxDelayMs: delayMs, jitter: 0 };
}

/** A fresh app name, unique per call: `conf_` and 12 random characters. */
export function uniqueApp(prefix = 'conf'): string {
  const random = Math.random().toString(36).slice(2, 10) + Date.now().toString(36).slice(-4);
  return `${prefix}_${random}`;
}

/** A valid job draft of `app` with key `key` (manual schedule, handler `h`, parallel). */
export function jobDraft(app: string, key: string, overrides: Partial<JobDraft> = {}): JobDraft {
  return {
    app,
    key,
    handler: 'h',
    schedule: { kind: 'manual' },
    params: {},
    enabled: true,
    routing: { strategy: 'any' },
    block: 'parallel',
    misfire: 'fire-once',
    retry: retryPolicy(1),
    timeoutMs: null,
    shards: 1,
    priority: 0,
    owner: null,
    alertContacts: [],
    tags: [],
    description: null,
    source: 'code',
    partition: partitionOf(key),
    nextFireAt: null,
    lastFireAt: null,
    ...overrides,
  };
}

/** A valid run draft of `app` (one-off, handler `h`, parallel, due at once, no retry). */
export function runDraft(app: string, overrides: Partial<RunDraft> = {}): RunDraft {
  return {
    app,
    jobKey: null,
    handler: 'h',
    params: {},
    trigger: 'api',
    scheduledFor: 0,
    attempt: 1,
    retry: retryPolicy(1),
    timeoutMs: null,
    shardIndex: 0,
    shardTotal: 1,
    priority: 0,
    block: 'parallel',
    routing: 'any',
    targetNode: null,
    idempotencyKey: null,
    parentRunId: null,
    ...overrides,
  };
}

/** Valid node info of `app` (handlers `['h']`, weight 1, concurrency 10). */
export function nodeInfo(app: string, nodeId: string, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    nodeId,
    app,
    host: 'conformance-host',
    pid: process.pid,
    version: '0.0.0-conformance',
    handlers: ['h'],
    weight: 1,
    concurrency: 10,
    ...overrides,
  };
}
