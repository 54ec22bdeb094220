// @oasis/store-redis: the public entry point. Named exports only.

export {
  createRedisStore,
  type HourlyTotals,
  RedisStore,
  type RedisStoreOptions,
  type RunIndexBuild,
  type RunIndexStep,
} from './redis-store';
