import type { Store, StoreCapabilities } from '@oasis/core';
import { expectTypeOf } from 'vitest';
import { createRedisStore, RedisStore, type RedisStoreOptions } from '../src/index';

// Pins the public shape of @oasis/store-redis: checked by `tsc` (the root tsconfig includes tests).
expectTypeOf(createRedisStore).returns.toEqualTypeOf<RedisStore>();
expectTypeOf<RedisStore>().toMatchTypeOf<Store>();
expectTypeOf(new RedisStore().capabilities).toEqualTypeOf<StoreCapabilities>();
expectTypeOf<RedisStoreOptions['prefix']>().toEqualTypeOf<string | undefined>();
expectTypeOf<RedisStoreOptions['maxLogLinesPerRun']>().toEqualTypeOf<number | undefined>();
expectTypeOf<RedisStoreOptions['clockOffsetMs']>().toEqualTypeOf<(() => number) | undefined>();
// No ioredis type leaks through the Store methods.
expectTypeOf<ReturnType<RedisStore['getRun']>>().toEqualTypeOf<ReturnType<Store['getRun']>>();
expectTypeOf<ReturnType<RedisStore['claimRuns']>>().toEqualTypeOf<ReturnType<Store['claimRuns']>>();
