/**
 * `npm run start --workspace @oasis/example-redis-cluster`: checks that Redis answers, then starts
 * the node processes of this example (3 by default) with tsx. Node 1 serves the admin API and the
 * panel page (bundled by esbuild as it starts); all nodes run jobs and print what they ran.
 * Ctrl-C (or SIGTERM) is forwarded to the nodes and the launcher exits once all of them have
 * stopped; if a node dies on its own, the launcher stops the others and exits 1.
 *
 * Environment (all optional; the smoke test uses them for a free port and a unique prefix):
 * - `OASIS_REDIS_URL`: the Redis (default `redis://127.0.0.1:6379`);
 * - `OASIS_DEMO_PREFIX`: the key prefix (default `oasis-demo`);
 * - `OASIS_DEMO_PORT`: node 1's HTTP port (default 3002);
 * - `OASIS_DEMO_NODES`: how many nodes (default 3);
 * - `OASIS_DEMO_TOKEN`: the admin API's bearer token (default: a random one per start).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRedisStore } from '@oasis/store-redis';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const redisUrl = process.env.OASIS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.OASIS_DEMO_PREFIX ?? 'oasis-demo';
const port = Number(process.env.OASIS_DEMO_PORT ?? '3002');
const nodeCount = Math.max(1, Number(process.env.OASIS_DEMO_NODES ?? '3'));
const token = process.env.OASIS_DEMO_TOKEN || randomBytes(16).toString('hex');
const boot = String(Date.now());
/** How long a node may take to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

/** Fails fast, with the store's own message, when Redis does not answer (nothing to migrate). */
async function checkRedis(): Promise<void> {
  const store = createRedisStore({ url: redisUrl, prefix, connectTimeoutMs: 5_000 });
  try {
    await store.init();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `${why}\n[launcher] Is Redis running at ${redact(redisUrl)}? Set OASIS_REDIS_URL (see README.md).`,
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
      OASIS_REDIS_URL: redisUrl,
      OASIS_DEMO_PREFIX: prefix,
      OASIS_DEMO_TOKEN: token,
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
  await checkRedis();
  await startNode(1);
  await Promise.all(Array.from({ length: nodeCount - 1 }, (_, i) => startNode(i + 2)));
  console.log(`\nOasis on Redis: ${nodeCount} nodes, keys {${prefix}:…} on ${redact(redisUrl)}`);
  console.log(`Open http://localhost:${port}/#token=${token} (Ctrl-C stops everything)`);
  console.log(
    `Admin API: curl -H 'Authorization: Bearer ${token}' http://localhost:${port}/admin/oasis/nodes\n`,
  );
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
    return '(the configured Redis)';
  }
}
