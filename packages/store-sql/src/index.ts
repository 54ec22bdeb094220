// @oasis/store-sql: the public entry point. Named exports only.

export type { ColumnTypes, SqlDialect, StatsDelta } from './dialects/dialect';
export { isUnavailable, toOasisError } from './map-error';
export {
  checkTablePrefix,
  DEFAULT_TABLE_PREFIX,
  defaultPoolSize,
  type MysqlPoolSettings,
  type MysqlStoreOptions,
  type PostgresStoreOptions,
  type SqliteStoreOptions,
  type SqlStoreCommonOptions,
  type SqlStoreOptions,
} from './options';
export { createSqlStore, SqlStore } from './sql-store';
export { type TableNames, tableNames } from './tables';
