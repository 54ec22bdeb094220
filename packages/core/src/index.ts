// @oasis/core: the public entry point. Named exports only.

export * from './clock';
export type { Handler, RunContext } from './context';
export {
  RunAbortedError,
  RunCancelledError,
  RunLostError,
  ShutdownError,
  TimeoutError,
} from './context';
export type { Duration } from './duration';
export { MAX_DURATION_MS, parseDuration } from './duration';
export * from './errors';
export type * from './events';
export { OasisEmitter } from './events';
export type { FirePlan, FirePlanOptions } from './fire-planner';
export { fireIdempotencyKey, planFire } from './fire-planner';
export type { JobDefinition, JobSpec } from './job-spec';
export {
  BLOCK_STRATEGIES,
  JOB_SPEC_KEYS,
  MISFIRE_POLICIES,
  parseJobSpec,
  ROUTING_STRATEGIES,
} from './job-spec';
export type {
  ChangeOptions,
  JobBatch,
  JobBatchResult,
  TriggerOptions,
  UpdateOptions,
} from './jobs-api';
export { JobsApi } from './jobs-api';
export * from './model';
export type { RetryInput } from './retry';
export { BACKOFF_KINDS, DEFAULT_RETRY, parseRetry, retryDelayMs } from './retry';
export type { ScheduleInput } from './schedule';
export {
  describeSchedule,
  firstFireAt,
  isTimeZone,
  MIN_EVERY_MS,
  nextFireAfter,
  parseSchedule,
  previewFireTimes,
} from './schedule';
export type {
  EnqueueOptions,
  EnqueueRouting,
  SchedulerOptions,
  SchedulerState,
  StopOptions,
} from './scheduler';
// The engine.
export { Scheduler, toRunError } from './scheduler';
export * from './store/memory-store';
export * from './store/partition';
export * from './store/runtime-store';
export * from './store/store';
export * from './store/store-helpers';
export { DEFAULT_MAX_JSON_BYTES, toJsonValue } from './validation';
export { OASIS_VERSION } from './version';
