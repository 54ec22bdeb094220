// @oasis/store-redis: the public entry point. Named exports only.

export { createRedisStore, RedisStore, type RedisStoreOptions } from './redis-store';
