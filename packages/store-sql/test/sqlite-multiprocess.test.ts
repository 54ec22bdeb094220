/**
 * Several processes share one SQLite file, as the demo cluster does: three child processes and
 * two in-process stores claim from the same runs. Every run runs exactly once, the serial job's
 * runs never overlap, and nothing is lost to lock contention.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoreEvent } from '@oasis/core';
import { jobDraft, nodeInfo, runDraft } from '@oasis/core/testing';
import { afterAll, expect, it } from 'vitest';
import { createSqlStore, type SqlStore } from '../src/index';
import { tempDir } from './helpers';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const worker = fileURLToPath(new URL('./fixtures/sqlite-worker.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));

interface Worker {
  ready: Promise<void>;
  go(): void;
  done: Promise<string[]>;
}

/** Starts a child process; it signals `ready` once registered and starts claiming on `go()`. */
function startWorker(file: string, prefix: string, app: string, nodeId: string): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, file, prefix, app, nodeId], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.on('data', (d) => {
    out += d;
    if (out.includes('ready\n')) markReady();
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const done = new Promise<string[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      markReady();
      if (code !== 0) reject(new Error(`worker ${nodeId} exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '[]') as string[]);
    });
  });
  return { ready, go: () => child.stdin.end('go\n'), done };
}

async function drainInProcess(store: SqlStore, app: string, nodeId: string): Promise<string[]> {
  const node = await store.registerNode(nodeInfo(app, nodeId));
  const ran: string[] = [];
  let idle = 0;
  while (idle < 20) {
    const runs = await store.claimRuns({
      app,
      nodeId,
      incarnation: node.incarnation,
      handlers: ['h'],
      limit: 5,
      leaseMs: 600_000,
    });
    if (runs.length === 0) {
      idle++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    idle = 0;
    for (const run of runs) {
      await store.completeRun({
        runId: run.id,
        nodeId,
        incarnation: node.incarnation,
        outcome: 'succeeded',
        durationMs: 1,
      });
      ran.push(run.id);
    }
    // a handler's worth of work between batches: without it this process's two stores take the
    // file lock back to back, and the children, which wait in SQLite's busy handler (sleeping
    // 1, 2, 5, 10 … ms between tries), may find it taken at every try until nothing is left
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return ran;
}

it('three child processes and two in-process stores share one file: each run runs once', async () => {
  const file = join(tmp.dir, 'cluster.db');
  const prefix = 'mp_';
  const app = 'mp_app';
  const main = createSqlStore({ dialect: 'sqlite', filename: file, tablePrefix: prefix, migrate: true });
  const second = createSqlStore({ dialect: 'sqlite', filename: file, tablePrefix: prefix });
  await main.init();
  await second.init();
  try {
    expect(main.capabilities.crossProcess).toBe(true);
    await main.saveJob(jobDraft(app, 'ser', { block: 'serial' }), null);
    const drafts = [
      ...Array.from({ length: 300 }, () => runDraft(app)),
      ...Array.from({ length: 20 }, () => runDraft(app, { jobKey: 'ser', block: 'serial' })),
    ];
    const workers = ['child-1', 'child-2', 'child-3'].map((id) => startWorker(file, prefix, app, id));
    await Promise.all(workers.map((w) => w.ready));
    const enqueued = await main.enqueueRuns(drafts);
    for (const w of workers) w.go();
    const results = await Promise.all([
      ...workers.map((w) => w.done),
      drainInProcess(main, app, 'parent-1'),
      drainInProcess(second, app, 'parent-2'),
    ]);
    const ran = results.flat();
    expect(new Set(ran).size, 'a run ran twice').toBe(ran.length);
    expect(new Set(ran)).toEqual(new Set(enqueued.map((r) => r.run.id)));
    // the child processes really took part
    expect(results.slice(0, 3).flat().length).toBeGreaterThan(0);
    expect(await main.countRuns(app, ['pending', 'running', 'succeeded'])).toEqual({
      pending: 0,
      running: 0,
      succeeded: 320,
    });
    // the serial job's runs never overlapped, across processes
    const serial = (await main.listRuns({ app, jobKey: 'ser' }, { limit: 100 })).items;
    // by start, then by end: store time has 1 ms steps, and a fast store claims, ends and claims
    // the next run within one millisecond (two runs starting in the same one are in order when
    // the first ended first; were they overlapping, the shorter would sort first and fail)
    serial.sort((a, b) => a.startedAt! - b.startedAt! || a.finishedAt! - b.finishedAt!);
    for (let i = 1; i < serial.length; i++) {
      expect(serial[i]!.startedAt!).toBeGreaterThanOrEqual(serial[i - 1]!.finishedAt!);
    }
    // children wrote logs through their own connections
    const byChild = results.slice(0, 3).findIndex((r) => r.length > 0);
    const childRun = results[byChild]![0]!;
    expect((await main.readLogs(childRun, 0, 10))[0]?.message).toBe(`ran by child-${byChild + 1}`);
  } finally {
    await main.close();
    await second.close();
  }
}, 120_000);

it('a subscriber hears a run enqueued by another process (event log + data_version)', async () => {
  const file = join(tmp.dir, 'notify.db');
  const prefix = 'nt_';
  const store = createSqlStore({ dialect: 'sqlite', filename: file, tablePrefix: prefix, migrate: true });
  await store.init();
  try {
    expect(store.capabilities.notifications).toBe(true);
    const events: StoreEvent[] = [];
    store.subscribe('notify_app', (e) => events.push(e));
    // nothing in this process writes to notify_app: a wake-up can only come from the child
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', worker, file, prefix, 'notify_app', '--enqueue'],
      {
        cwd: root,
        stdio: 'ignore',
      },
    );
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const deadline = Date.now() + 10_000;
    while (!events.some((e) => e.type === 'runs') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(events).toContainEqual({ type: 'runs', app: 'notify_app' });
    expect(await store.countRuns('notify_app', ['pending'])).toEqual({ pending: 1 });
  } finally {
    await store.close();
  }
}, 60_000);
