/**
 * A multi-process test cluster: N node processes of `node-app.ts` against one store, which a test
 * can kill -9, SIGSTOP and SIGCONT, and whose records (runs started and ended, leadership, joins,
 * errors) it can read at any time. Every child is killed when the cluster shuts down and when the
 * test process exits; every wait is a poll with a deadline.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type JobSpec, Scheduler, type Store } from '@oasis/core';
import type { NodeAppConfig, NodeRecordLine } from './node-app';
import { openStore, type StoreConfig } from './stores';

const NODE_APP = fileURLToPath(new URL('./node-app.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every child of every cluster of this process, killed on exit whatever happens. */
const LIVE = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL');
});

/** A run as one node process saw it (from its `start` and, when it got there, `end` record). */
export interface RunSeen {
  runId: string;
  nodeId: string;
  jobKey: string | null;
  handler: string;
  scheduledFor: number;
  attempt: number;
  trigger: string;
  shard: { index: number; total: number };
  startAt: number;
  /** Null when the node never recorded an end (killed, stopped, still running). */
  endAt: number | null;
  aborted: boolean;
}

/** Options of a node process. */
export interface NodeOptions {
  /** Added to the node's clock, ms. */
  clockOffsetMs?: number;
  /** Scheduler options over the cluster's defaults. */
  options?: NodeAppConfig['options'];
}

/** One node process of a cluster. */
export class ClusterNode {
  readonly id: string;
  readonly recordFile: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #exitCode: number | null | undefined = undefined;
  #stderr = '';

  /** @internal started by `Cluster.start`. */
  constructor(id: string, recordFile: string, child: ChildProcess) {
    this.id = id;
    this.recordFile = recordFile;
    this.#child = child;
    child.stderr?.on('data', (d) => {
      this.#stderr = (this.#stderr + String(d)).slice(-8_000);
    });
    this.#exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        LIVE.delete(child);
        this.#exitCode = code ?? (signal === null ? null : -1);
        resolve(this.#exitCode);
      });
    });
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return this.#exitCode === undefined;
  }

  /** The tail of what the process wrote to stderr (for failure messages). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Its records so far (JSON lines; a line cut by a kill is ignored). */
  records(): NodeRecordLine[] {
    if (!existsSync(this.recordFile)) return [];
    const out: NodeRecordLine[] = [];
    for (const line of readFileSync(this.recordFile, 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        out.push(JSON.parse(line) as NodeRecordLine);
      } catch {
        // The last line of a killed process may be partial.
      }
    }
    return out;
  }

  /** kill -9, then waits for the exit. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGSTOP: the process freezes (timers, sockets, everything) until `resume()`. */
  freeze(): void {
    this.#child.kill('SIGSTOP');
  }

  /** SIGCONT after `freeze()`. */
  resume(): void {
    this.#child.kill('SIGCONT');
  }

  /** A graceful `scheduler.stop()` through IPC; waits for the exit (kill -9 after `timeoutMs`). */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.#child.send({ cmd: 'stop', timeoutMs: Math.min(5_000, timeoutMs) });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Resolves with the exit code once the process exited. */
  exited(): Promise<number | null> {
    return this.#exited;
  }
}

/** Options of a cluster. */
export interface ClusterOptions {
  store: StoreConfig;
  /** The app every node joins (default a unique name). */
  app?: string;
  /** Scheduler options of every node (each node may add its own). */
  defaults?: NodeAppConfig['options'];
}

/**
 * N node processes of one app on one store, plus an in-process admin scheduler (never started)
 * to create jobs and read runs through the same store.
 */
export class Cluster {
  readonly app: string;
  readonly config: StoreConfig;
  readonly dir: string;
  readonly #defaults: NodeAppConfig['options'];
  readonly #nodes = new Map<string, ClusterNode>();
  #admin: Scheduler | null = null;

  constructor(options: ClusterOptions) {
    this.config = options.store;
    this.app = options.app ?? `cl_${Math.random().toString(36).slice(2, 8)}`;
    this.#defaults = options.defaults ?? {};
    this.dir = mkdtempSync(join(tmpdir(), 'oasis-cluster-records-'));
  }

  /** Opens (and migrates) the store in this process; call once before starting nodes. */
  async init(): Promise<void> {
    this.#admin = new Scheduler({
      store: openStore(this.config, true),
      app: this.app,
      remoteHandlers: '*',
      keepAlive: false,
    });
    await this.#admin.store.init();
  }

  /** The admin scheduler (not started): `admin.jobs.create(…)`, `admin.listRuns(…)`. */
  get admin(): Scheduler {
    if (this.#admin === null) throw new Error('cluster: call init() first');
    return this.#admin;
  }

  /** The guarded store of this process. */
  get store(): Store {
    return this.admin.store;
  }

  /** Creates a job through the admin scheduler. */
  createJob(spec: JobSpec) {
    return this.admin.jobs.create(spec);
  }

  /** Starts a node process; resolves once it has joined (its `ready` record), or throws at the deadline. */
  async start(id: string, options: NodeOptions = {}, timeoutMs = 30_000): Promise<ClusterNode> {
    if (this.#nodes.get(id)?.alive) throw new Error(`cluster: node ${id} already runs`);
    const recordFile = join(this.dir, `${id}.${this.#nodes.has(id) ? Date.now() : 0}.jsonl`);
    const config: NodeAppConfig = {
      store: this.config,
      app: this.app,
      nodeId: id,
      recordFile,
      clockOffsetMs: options.clockOffsetMs ?? 0,
      options: { ...this.#defaults, ...options.options },
    };
    const child = fork(NODE_APP, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, OASIS_CLUSTER_NODE: JSON.stringify(config) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    LIVE.add(child);
    const node = new ClusterNode(id, recordFile, child);
    this.#nodes.set(id, node);
    await pollUntil(
      () => {
        if (!node.alive) throw new Error(`node ${id} exited before joining: ${node.stderr}`);
        return node.records().some((r) => r.kind === 'ready');
      },
      `node ${id} to join`,
      timeoutMs,
    );
    return node;
  }

  /** Starts several nodes at once. */
  startMany(ids: string[], options: NodeOptions = {}): Promise<ClusterNode[]> {
    return Promise.all(ids.map((id) => this.start(id, options)));
  }

  /** A node by id (the latest process of that id). */
  node(id: string): ClusterNode {
    const node = this.#nodes.get(id);
    if (node === undefined) throw new Error(`cluster: no node ${id}`);
    return node;
  }

  /** Every node process started, latest per id. */
  get nodes(): ClusterNode[] {
    return [...this.#nodes.values()];
  }

  /** Every record of every node process ever started by this cluster. */
  records(): NodeRecordLine[] {
    const out: NodeRecordLine[] = [];
    for (const node of this.#nodes.values()) out.push(...node.records());
    return out;
  }

  /** The runs the nodes started, joined with their end records, by start time. */
  runsSeen(): RunSeen[] {
    const byKey = new Map<string, RunSeen>();
    for (const r of this.records()) {
      if (r.kind !== 'start' && r.kind !== 'end') continue;
      const key = `${r.nodeId}/${r.runId}`;
      if (r.kind === 'start') {
        byKey.set(key, {
          runId: r.runId,
          nodeId: r.nodeId,
          jobKey: r.jobKey,
          handler: r.handler,
          scheduledFor: r.scheduledFor,
          attempt: r.attempt,
          trigger: r.trigger,
          shard: r.shard,
          startAt: r.at,
          endAt: null,
          aborted: false,
        });
      } else {
        const seen = byKey.get(key);
        if (seen !== undefined) {
          seen.endAt = r.at;
          seen.aborted = r.aborted === true;
        }
      }
    }
    return [...byKey.values()].sort((a, b) => a.startAt - b.startAt);
  }

  /** The current leader's node id per the store (null when none holds an unexpired lease). */
  async leader(): Promise<{ nodeId: string; epoch: number; incarnation: number } | null> {
    const [lease, now] = await Promise.all([this.store.getLeader(this.app), this.store.now()]);
    if (lease === null || lease.expiresAt <= now) return null;
    return { nodeId: lease.nodeId, epoch: lease.epoch, incarnation: lease.incarnation };
  }

  /** Kills every node process, closes the store, deletes the record files. Safe to call twice. */
  async shutdown(): Promise<void> {
    await Promise.all(
      [...this.#nodes.values()].map(async (node) => {
        node.resume();
        await node.kill();
      }),
    );
    if (this.#admin !== null) await this.#admin.store.close().catch(() => undefined);
    this.#admin = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Polls `check` every 50 ms until it returns true; throws naming `what` after `timeoutMs`.
 * A check that throws ends the wait with its error.
 */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
