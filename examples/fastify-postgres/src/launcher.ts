/**
 * `npm run start --workspace @oasis/example-fastify-postgres`: creates the tables in PostgreSQL,
 * then starts the node processes of this example (2 by default) with tsx. Node 1 serves the admin
 * API and the panel page (bundled by esbuild as it starts); all nodes run jobs. Ctrl-C (or
 * SIGTERM) is forwarded to the nodes and the launcher exits once all of them have stopped; if a
 * node dies on its own, the launcher stops the others and exits 1.
 *
 * Environment (all optional; the smoke test uses them for a free port and a unique prefix):
 * - `OASIS_PG_URL`: the database (default `postgres://postgres@127.0.0.1:5432/test`);
 * - `OASIS_DEMO_PREFIX`: the table prefix (default `demo_`);
 * - `OASIS_DEMO_PORT`: node 1's HTTP port (default 3001);
 * - `OASIS_DEMO_NODES`: how many nodes (default 2).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqlStore } from '@oasis/store-sql';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const pgUrl = process.env.OASIS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const tablePrefix = process.env.OASIS_DEMO_PREFIX ?? 'demo_';
const port = Number(process.env.OASIS_DEMO_PORT ?? '3001');
const nodeCount = Math.max(1, Number(process.env.OASIS_DEMO_NODES ?? '2'));
const boot = String(Date.now());
/** How long a node may take to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

/** Creates (or updates) the tables once, before any node starts. */
async function migrate(): Promise<void> {
  const store = createSqlStore({ dialect: 'postgres', connectionString: pgUrl, tablePrefix, migrate: true });
  try {
    await store.init();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `${why}\n[launcher] Is PostgreSQL running at ${redact(pgUrl)}? Set OASIS_PG_URL (see README.md).`,
    );
  } finally {
    await store.close();
  }
}

const children: ChildProcess[] = [];
let stopping = false;

/** Copies a node's output line by line (lines of several nodes never interleave mid-line). */
function pipe(stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream): void {
  if (stream === null) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) out.write(`${line}\n`);
  });
  stream.on('end', () => {
    if (rest !== '') out.write(`${rest}\n`);
  });
}

/** Starts node `n`; resolves once it says it is ready, rejects if it exits first. */
function startNode(n: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'node.ts')], {
    cwd: root,
    env: {
      ...process.env,
      OASIS_PG_URL: pgUrl,
      OASIS_DEMO_PREFIX: tablePrefix,
      OASIS_DEMO_NODE: String(n),
      OASIS_DEMO_PORT: n === 1 ? String(port) : '',
      OASIS_DEMO_BOOT: boot,
    },
    // Its own process group: a terminal's Ctrl-C reaches the launcher only, which forwards it once.
    detached: true,
    // The IPC channel lets a node notice that the launcher died (it then stops itself).
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push(child);
  console.log(`[launcher] node-${n} started (pid ${child.pid})`);
  pipe(child.stdout, process.stdout);
  pipe(child.stderr, process.stderr);
  return new Promise((resolveReady, reject) => {
    const onData = (chunk: Buffer | string) => {
      if (String(chunk).includes(`[node-${n}] ready`)) {
        child.stdout?.off('data', onData);
        resolveReady();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => {
      reject(new Error(`node-${n} exited (${signal ?? code}) before it was ready`));
      if (!stopping) {
        console.error(`[launcher] node-${n} exited (${signal ?? code}): stopping the others`);
        void stopAll(1);
      }
    });
  });
}

/** Sends SIGTERM to every node still running, waits for all of them (killing stragglers), then exits. */
async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('[launcher] stopping the nodes…');
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            done();
            return;
          }
          const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
          child.once('exit', () => {
            clearTimeout(killer);
            done();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  console.log('[launcher] all nodes stopped');
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  await migrate();
  await startNode(1);
  await Promise.all(Array.from({ length: nodeCount - 1 }, (_, i) => startNode(i + 2)));
  console.log(
    `\nOasis on Fastify + PostgreSQL: ${nodeCount} nodes, tables ${tablePrefix}* on ${redact(pgUrl)}`,
  );
  console.log(`Open http://localhost:${port} (admin API at /admin/oasis; Ctrl-C stops everything)\n`);
} catch (err) {
  console.error('[launcher] the example did not start:', err instanceof Error ? err.message : err);
  await stopAll(1);
}

/** The URL without its password, for printing. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(the configured database)';
  }
}
