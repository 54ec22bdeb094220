/**
 * @oasis/core/testing: the store conformance suite, the `Store` contract in executable form.
 * Every store runs it in one call from a vitest file.
 *
 * What an implementer should know:
 * - Each test works in a fresh app name (`conf_…`), so several suites may share one database or
 *   server and run in parallel; the suite never calls `prune` without an app.
 * - When the store declares `capabilities.crossProcess`, `create()` is called several times
 *   (`instances`, default 3) and racing steps are spread over the instances; the first store is
 *   initialized before the others are created, so the first may migrate.
 * - Time: with `advanceTime` the suite moves store time itself; without it, it waits in real time
 *   by polling `store.now()` with a deadline. Leases and TTLs that must expire are `shortMs`
 *   (400 ms in real time); those that must not are 10 minutes.
 * - Errors are checked by `code` (and `field`, `scope`, `entity`), not by class identity.
 * - Beyond the doc comments of `Store`, the suite pins: a job's `version` rises when `fireJobs`
 *   advances it; a cursor the store did not make is a `ValidationError`; `getRun`, `cancelRun`
 *   and `completeRun` of an id of any shape that does not exist give null / `NotFoundError`, never
 *   a driver error; a node that left gracefully may still complete its runs; `skip` and `replace`
 *   decisions are atomic with the insert.
 *
 * @example
 * import { runStoreConformance } from '@oasis/core/testing';
 * runStoreConformance({ name: 'sqlite', create: async () => new SqlStore({ dialect: 'sqlite', file }) });
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { claimTests } from './claim-tests';
import { clusterTests } from './cluster-tests';
import { completeTests } from './complete-tests';
import { firingTests } from './firing-tests';
import { Harness, type StoreConformanceOptions } from './harness';
import { historyTests } from './history-tests';
import { inputTests } from './input-tests';
import { jobTests } from './jobs-tests';
import { listingTests } from './listing-tests';
import { raceTests } from './race-tests';

export { jobDraft, nodeInfo, retryPolicy, runDraft, uniqueApp } from './fixtures';
export { expectOasisError, Harness, type StoreConformanceOptions } from './harness';

/**
 * Registers the conformance suite for a store under `describe('store conformance: <name>')`.
 * The suite makes its stores with `options.create()` (several when the store declares
 * `capabilities.crossProcess`, to race them against each other), wraps each in `RuntimeStore`,
 * and closes them afterwards. Every test works in its own fresh app name, so suites can share a
 * database and run in parallel with other files. Tests wait for store time by `advanceTime` or
 * by polling `store.now()`; a test is skipped only when the store declares it lacks the
 * capability it needs.
 */
export function runStoreConformance(options: StoreConformanceOptions): void {
  describe(`store conformance: ${options.name}`, () => {
    const h = new Harness(options);
    beforeAll(() => h.setup());
    afterAll(() => h.teardown());
    jobTests(h);
    firingTests(h);
    claimTests(h);
    completeTests(h);
    clusterTests(h);
    historyTests(h);
    listingTests(h);
    raceTests(h);
    inputTests(h);
  });
}
