/**
 * The public types of @oasis/store-sql, pinned: checked by `tsc` (never run), so an accidental
 * change of the API fails the typecheck.
 */
import type { Store, StoreCapabilities } from '@oasis/core';
import { expectTypeOf } from 'vitest';
import {
  createSqlStore,
  type MysqlStoreOptions,
  type PostgresStoreOptions,
  type SqliteStoreOptions,
  type SqlStore,
  type SqlStoreOptions,
} from '../src/index';

expectTypeOf(createSqlStore).parameter(0).toEqualTypeOf<SqlStoreOptions>();
expectTypeOf(createSqlStore).returns.toEqualTypeOf<SqlStore>();
expectTypeOf<SqlStore>().toMatchTypeOf<Store>();
expectTypeOf<SqlStore['capabilities']>().toEqualTypeOf<StoreCapabilities>();
expectTypeOf<SqlStore['migrate']>().toEqualTypeOf<() => Promise<string[]>>();
expectTypeOf<SqlStore['tablePrefix']>().toEqualTypeOf<string>();
expectTypeOf<SqlStoreOptions>().toEqualTypeOf<
  SqliteStoreOptions | PostgresStoreOptions | MysqlStoreOptions
>();
expectTypeOf<SqliteStoreOptions['dialect']>().toEqualTypeOf<'sqlite'>();
expectTypeOf<PostgresStoreOptions['connectionString']>().toEqualTypeOf<string | undefined>();
expectTypeOf<MysqlStoreOptions['uri']>().toEqualTypeOf<string | undefined>();
expectTypeOf<SqliteStoreOptions['migrate']>().toEqualTypeOf<boolean | undefined>();
expectTypeOf<SqliteStoreOptions['tablePrefix']>().toEqualTypeOf<string | undefined>();

// a dialect is required
// @ts-expect-error options without a dialect are not store options
const noDialect: SqlStoreOptions = { filename: 'oasis.db' };
void noDialect;
