/**
 * A private `redis-server` for tests that must stop and restart Redis: its own loopback port and
 * temp dir, never the shared server on 6379.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** Where the binary is expected. */
export const REDIS_SERVER_BIN = process.env.OASIS_REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

/** True when a redis-server binary is available to start. */
export function canStartRedisServer(): boolean {
  return existsSync(REDIS_SERVER_BIN);
}

/** A port the OS says is free on loopback right now. */
export async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 20 ms until it returns true; throws after `timeoutMs`. */
export async function pollUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A redis-server with AOF (`appendfsync always`) in its own temp dir, that a test can kill and restart. */
export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'oasis-redis-aof-'));
  readonly port: number;
  #proc: ChildProcess | null = null;

  private constructor(port: number) {
    this.port = port;
  }

  /** Picks a spare port and starts the server. */
  static async start(): Promise<PrivateRedis> {
    const server = new PrivateRedis(await sparePort());
    await server.startAgain();
    return server;
  }

  /** The URL of the server. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server on the same port and dir (replaying its AOF) and waits until it answers. */
  async startAgain(): Promise<void> {
    this.#proc = spawn(
      REDIS_SERVER_BIN,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        '--protected-mode',
        'no',
      ],
      { stdio: 'ignore' },
    );
    await pollUntil(() => this.#ping(), `redis-server on port ${this.port} to answer`);
  }

  /** Kills the server with SIGKILL (a crash: no shutdown save) and waits for it to exit. */
  async crash(): Promise<void> {
    const proc = this.#proc;
    this.#proc = null;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void {
    this.#proc?.kill('SIGSTOP');
  }

  /** Thaws a paused server (SIGCONT). */
  resume(): void {
    this.#proc?.kill('SIGCONT');
  }

  /** Stops the server and deletes its dir. */
  async destroy(): Promise<void> {
    this.resume();
    await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #ping(): Promise<boolean> {
    const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  }
}
