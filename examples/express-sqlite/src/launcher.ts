/**
 * `npm run demo`: migrates the shared SQLite file, bundles the panel page with esbuild (React and
 * `@oasis/react-panel` from their sources), then starts 3 node processes of this example. Node 1
 * serves the admin API and the panel; all three run jobs. Ctrl-C (or SIGTERM) is forwarded to the
 * nodes, and the launcher exits once all of them have stopped.
 *
 * Environment (all optional; the browser tests use them to run on free ports and a temp file):
 * - `OASIS_DEMO_DB`: the SQLite file (default `.oasis/demo.db`, git-ignored);
 * - `OASIS_DEMO_PORT`: node 1's HTTP port (default 3000);
 * - `OASIS_DEMO_NODES`: how many nodes (default 3).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqlStore } from '@oasis/store-sql';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const dbFile = resolve(root, process.env.OASIS_DEMO_DB ?? '.oasis/demo.db');
const port = Number(process.env.OASIS_DEMO_PORT ?? '3000');
const nodeCount = Number(process.env.OASIS_DEMO_NODES ?? '3');
const publicDir = join(dirname(dbFile), `public-${port}`);
const boot = String(Date.now());

/** Writes the panel page: index.html and app.js (a small React host app with the panel). */
async function buildPage(): Promise<void> {
  await mkdir(publicDir, { recursive: true });
  await build({
    entryPoints: [join(here, 'host-app.tsx')],
    outfile: join(publicDir, 'app.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    tsconfig: join(root, 'tsconfig.json'),
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  await writeFile(
    join(publicDir, 'index.html'),
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Oasis demo</title>
</head>
<body>
<div id="root"></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`,
  );
}

/** Creates the tables once, before any node starts. */
async function migrate(): Promise<void> {
  await mkdir(dirname(dbFile), { recursive: true });
  const store = createSqlStore({ dialect: 'sqlite', filename: dbFile, migrate: true });
  await store.init();
  await store.close();
}

const children: ChildProcess[] = [];
let stopping = false;

/** Prefixes each line a node prints with its name. */
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
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'demo-node.ts')], {
    cwd: root,
    env: {
      ...process.env,
      OASIS_DEMO_DB: dbFile,
      OASIS_DEMO_NODE: String(n),
      OASIS_DEMO_PORT: n === 1 ? String(port) : '',
      OASIS_DEMO_PUBLIC: publicDir,
      OASIS_DEMO_BOOT: boot,
    },
    // Its own process group: a terminal's Ctrl-C reaches the launcher, which forwards it once.
    detached: true,
    // The IPC channel lets a node notice that the launcher died (it then stops itself).
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push(child);
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
        console.error(`[launcher] node-${n} exited (${signal ?? code}): stopping the demo`);
        void stopAll(1);
      }
    });
  });
}

/** Forwards SIGTERM to every node still running, waits for all of them, then exits. */
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
          child.once('exit', () => done());
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
  await buildPage();
  await startNode(1);
  await Promise.all(Array.from({ length: nodeCount - 1 }, (_, i) => startNode(i + 2)));
  console.log(`\nOasis demo: ${nodeCount} nodes on ${dbFile}`);
  console.log(`Open http://localhost:${port} (Ctrl-C stops everything)\n`);
} catch (err) {
  console.error('[launcher] the demo did not start:', err instanceof Error ? err.message : err);
  await stopAll(1);
}
