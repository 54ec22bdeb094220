/**
 * The cluster scenarios on SQLite (one file shared by every node process; see `scenarios.ts`),
 * plus the kill -9 failover with the engine's DEFAULT timings (heartbeat 1 s, node TTL 5 s, leader
 * TTL 5 s, reap every 3 s), which the issue bounds at 10 s.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Cluster } from './harness';
import { clusterScenarios, expectFailover } from './scenarios';
import { type StoreTarget, storeTarget } from './stores';

clusterScenarios('sqlite');

describe('cluster on sqlite with the default timings', () => {
  let target: StoreTarget;
  let cluster: Cluster;

  beforeAll(async () => {
    target = (await storeTarget('sqlite'))!;
    cluster = new Cluster({ store: target.config });
    await cluster.init();
    await cluster.startMany(['d1', 'd2']);
  }, 90_000);

  afterAll(async () => {
    await cluster?.shutdown();
    await target?.cleanup();
  }, 60_000);

  it('(b) kill -9 of the node running a long job: lost, and started again on a survivor within 10 s', async () => {
    await expectFailover(cluster, 10_000);
  }, 60_000);
});
