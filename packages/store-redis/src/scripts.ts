import type { Redis } from 'ioredis';
import type { FlatHash } from './codec';
import { LUA_SOURCES, type LuaScriptName } from './lua/scripts.generated';

/** One argument of a Lua step (numbers are sent as decimal strings). */
type Arg = string | number;

/** One request of complete-runs.lua (see its header). */
export type CompleteArgs = [
  seq: string,
  nodeId: string,
  incarnation: number,
  outcome: string,
  result: string,
  error: string,
  durationMs: number,
  retry: string,
  reply: 'full' | 'changes',
];

/** A hash as an object (field → value), as the steps that answer in JSON text give it. */
export type HashObject = Record<string, string>;

/** One entry of complete-runs.lua's reply: the run and its retry (false for none), or the refusal. */
export type CompleteReply = ['1', HashObject, HashObject | false] | ['0', string];

/** A page of a listing step: the items and where the scan stopped early ('' when exhausted). */
export type ScanReply = [FlatHash[], string];

/**
 * The typed face of the Lua steps: one method per script in `src/lua/`, named after it, with the
 * argument order of its header. Each script is registered once per client with ioredis
 * `defineCommand` (EVALSHA, with EVAL when the server does not have it cached yet), with one key:
 * the app's base key. Every call passes the clock offset (0 outside tests) as ARGV[1].
 */
export class LuaSteps {
  readonly #client: Redis;
  readonly #offset: () => number;

  /** Registers every script on `client`. */
  constructor(client: Redis, offset: () => number) {
    this.#client = client;
    this.#offset = offset;
    for (const [name, lua] of Object.entries(LUA_SOURCES)) {
      client.defineCommand(commandName(name as LuaScriptName), { numberOfKeys: 1, lua });
    }
  }

  async #run<T>(name: LuaScriptName, base: string, args: Arg[]): Promise<T> {
    const fn = (this.#client as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[
      commandName(name)
    ];
    if (typeof fn !== 'function') throw new Error(`Lua step ${name} is not registered on this client`);
    return (await fn.call(this.#client, base, String(this.#offset()), ...args.map(String))) as T;
  }

  /**
   * A step that answers with one JSON text (the hot steps: one bulk reply to parse instead of a
   * bulk string per field, which ioredis would turn into a Buffer and then a string each).
   */
  async #runJson<T>(name: LuaScriptName, base: string, args: Arg[]): Promise<T> {
    return JSON.parse(await this.#run<string>(name, base, args)) as T;
  }

  /** save-job.lua */
  saveJob(
    base: string,
    a: {
      mode: 'create' | 'update' | 'any';
      expected: string;
      key: string;
      draft: string;
      enabled: boolean;
      partition: number;
      nextFireAt: number | null;
      lastFireAt: number | null;
      delayAfterMs: number | null;
    },
  ): Promise<FlatHash> {
    return this.#run('save-job', base, [
      a.mode,
      a.expected,
      a.key,
      a.draft,
      a.enabled ? '1' : '0',
      a.partition,
      a.nextFireAt ?? '',
      a.lastFireAt ?? '',
      a.delayAfterMs ?? '',
    ]);
  }

  /** delete-job.lua */
  deleteJob(base: string, key: string, expectedVersion: number | undefined): Promise<FlatHash> {
    return this.#run('delete-job', base, [key, expectedVersion ?? '']);
  }

  /** list-jobs.lua: `from` is a ZRANGEBYLEX bound (`-`, `[key` or `(key`). */
  listJobs(base: string, from: string, batch: number): Promise<FlatHash[]> {
    return this.#run('list-jobs', base, [from, batch]);
  }

  /** due-jobs.lua */
  dueJobs(base: string, limit: number, horizonMs: number, partitions: number[] | null): Promise<FlatHash[]> {
    return this.#run('due-jobs', base, [limit, horizonMs, ...(partitions === null ? ['*'] : partitions)]);
  }

  /** fire-jobs.lua: one JSON text per fire. */
  fireJobs(base: string, fires: string[]): Promise<Array<[string, '0' | '1', FlatHash[]]>> {
    return this.#run('fire-jobs', base, fires);
  }

  /** next-wake.lua */
  nextWake(base: string, nodeId: string, handlers: string[], partitions: number[] | null): Promise<string> {
    return this.#run('next-wake', base, [
      nodeId,
      handlers.length,
      ...handlers,
      ...(partitions === null ? ['*'] : partitions),
    ]);
  }

  /** enqueue-runs.lua: one JSON text per draft. */
  enqueueRuns(base: string, drafts: string[]): Promise<Array<['0' | '1', FlatHash]>> {
    return this.#run('enqueue-runs', base, drafts);
  }

  /** claim-runs.lua */
  claimRuns(
    base: string,
    a: { nodeId: string; incarnation: number; limit: number; leaseMs: number; handlers: string[] },
  ): Promise<HashObject[]> {
    return this.#runJson('claim-runs', base, [a.nodeId, a.incarnation, a.limit, a.leaseMs, ...a.handlers]);
  }

  /**
   * complete-runs.lua: per request, in order, `[seq, nodeId, incarnation, outcome, result JSON,
   * error JSON or '', durationMs, retry draft JSON or '']`.
   */
  completeRuns(base: string, requests: CompleteArgs[]): Promise<CompleteReply[]> {
    return this.#runJson('complete-runs', base, requests.flat());
  }

  /** cancel-run.lua */
  cancelRun(base: string, seq: string, reason: string): Promise<FlatHash> {
    return this.#run('cancel-run', base, [seq, reason]);
  }

  /**
   * list-runs.lua: `max` is the highest seq to include (or '+inf'); `filter` JSON text. The runs
   * come as one JSON text (an array of flat hashes), parsed here.
   */
  async listRuns(
    base: string,
    limit: number,
    max: string,
    filter: string,
    budget: number,
  ): Promise<ScanReply> {
    const [runs, position] = await this.#run<[string, string]>('list-runs', base, [
      limit,
      max,
      filter,
      budget,
    ]);
    return [JSON.parse(runs) as FlatHash[], position];
  }

  /**
   * index-runs.lua: one bounded step of building the app's per-(state, job) run sets; `done` once
   * they are complete (the marker `B:sjidx` is set).
   */
  async indexRuns(base: string, batch: number): Promise<{ done: boolean; runs: number }> {
    const [done, runs] = await this.#run<[string, string]>('index-runs', base, [batch]);
    return { done: done === '1', runs: Number(runs) };
  }

  /** count-runs.lua */
  countRuns(base: string, states: string[]): Promise<string[]> {
    return this.#run('count-runs', base, states);
  }

  /** register-node.lua: `info` JSON text of strings. */
  registerNode(base: string, nodeId: string, info: string): Promise<FlatHash> {
    return this.#run('register-node', base, [nodeId, info]);
  }

  /** heartbeat.lua */
  heartbeat(
    base: string,
    a: {
      nodeId: string;
      incarnation: number;
      state: string;
      running: number;
      runLeaseMs: number;
      leaderEpoch: number | null;
      leaderTtlMs: number | null;
      runs: Array<[string, string]>;
    },
  ): Promise<[string, string[], string[], string, string, FlatHash, string]> {
    return this.#run('heartbeat', base, [
      a.nodeId,
      a.incarnation,
      a.state,
      a.running,
      a.runLeaseMs,
      a.leaderEpoch ?? '',
      a.leaderTtlMs ?? '',
      ...a.runs.flat(),
    ]);
  }

  /** leave-node.lua */
  leaveNode(base: string, nodeId: string, incarnation: number): Promise<string> {
    return this.#run('leave-node', base, [nodeId, incarnation]);
  }

  /** set-node-desired.lua */
  setNodeDesired(base: string, nodeId: string, desired: string): Promise<FlatHash> {
    return this.#run('set-node-desired', base, [nodeId, desired]);
  }

  /** remove-node.lua */
  removeNode(base: string, nodeId: string): Promise<string> {
    return this.#run('remove-node', base, [nodeId]);
  }

  /** list-nodes.lua */
  listNodes(base: string): Promise<FlatHash[]> {
    return this.#run('list-nodes', base, []);
  }

  /** acquire-leadership.lua */
  acquireLeadership(base: string, nodeId: string, incarnation: number, ttlMs: number): Promise<FlatHash> {
    return this.#run('acquire-leadership', base, [nodeId, incarnation, ttlMs]);
  }

  /** resign-leadership.lua */
  resignLeadership(base: string, nodeId: string, epoch: number): Promise<string> {
    return this.#run('resign-leadership', base, [nodeId, epoch]);
  }

  /** write-partition-map.lua */
  writePartitionMap(base: string, epoch: number, assignments: string): Promise<[string, string, string]> {
    return this.#run('write-partition-map', base, [epoch, assignments]);
  }

  /** reap-dead-nodes.lua */
  reapDeadNodes(
    base: string,
    epoch: number,
    nodeTtlMs: number,
    limit: number,
  ): Promise<[string[], FlatHash[], FlatHash[]]> {
    return this.#run('reap-dead-nodes', base, [epoch, nodeTtlMs, limit]);
  }

  /** retarget-runs.lua: triples of seq, from ('' for none), to ('' for none). */
  retargetRuns(base: string, epoch: number, moves: Array<[string, string, string]>): Promise<string> {
    return this.#run('retarget-runs', base, [epoch, ...moves.flat()]);
  }

  /** append-logs.lua: triples of seq, ts, line JSON text. */
  appendLogs(base: string, cap: number, lines: Array<[string, number, string]>): Promise<string> {
    return this.#run('append-logs', base, [cap, ...lines.flat()]);
  }

  /** append-audit.lua: `entry` JSON text of strings. */
  appendAudit(base: string, entry: string): Promise<FlatHash> {
    return this.#run('append-audit', base, [entry]);
  }

  /** list-audit.lua */
  listAudit(base: string, limit: number, max: string, filter: string, budget: number): Promise<ScanReply> {
    return this.#run('list-audit', base, [limit, max, filter, budget]);
  }

  /**
   * get-stats.lua: `mode` '' (every job: each hour's list comes as one JSON array text, the single
   * element of its list), `|<jobKey>` (one job) or `*` (the app's totals).
   */
  getStats(base: string, from: number, to: number, mode: string): Promise<Array<[string, FlatHash]>> {
    return this.#run('get-stats', base, [from, to, mode]);
  }

  /** prune.lua */
  prune(
    base: string,
    finishedBefore: number | undefined,
    keepLast: number | undefined,
    limit: number,
  ): Promise<string> {
    return this.#run('prune', base, [finishedBefore ?? '', keepLast ?? '', limit]);
  }
}

/** The ioredis command name of a script: `oasis_` + its name in snake case. */
function commandName(name: LuaScriptName): string {
  return `oasis_${name.replace(/-/g, '_')}`;
}
