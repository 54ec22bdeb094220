/**
 * Where the benchmarks find their servers. Each comes from an environment variable with the
 * local default, the same variables the stores' tests read.
 */

/** Connection settings for every server a benchmark may use. */
export interface BenchConfig {
  /** PostgreSQL connection string (`OASIS_PG_URL`). */
  pgUrl: string;
  /** Redis URL (`OASIS_REDIS_URL`). */
  redisUrl: string;
  /** MariaDB / MySQL URL (`OASIS_MYSQL_URL`). */
  mysqlUrl: string;
}

/** Reads the configuration from the environment, with the local defaults. */
export function benchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  return {
    pgUrl: env.OASIS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    redisUrl: env.OASIS_REDIS_URL ?? 'redis://127.0.0.1:6379',
    mysqlUrl: env.OASIS_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
  };
}
