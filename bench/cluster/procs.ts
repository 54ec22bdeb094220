/**
 * A small process harness for the cluster benchmarks (the idea of `tests/cluster/harness.ts`):
 * child processes forked under the same tsx loader, their IPC messages kept with the parent's
 * receive time, kill -9, and a kill of every child still alive when the parent exits.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { waitFor } from '../lib/stats';

/** Every child of this process, killed (SIGKILL) on exit whatever happens. */
const LIVE = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL');
});

/** A message from a child: a `type` and fields of its own. */
export interface ChildMessage {
  type: string;
  [field: string]: unknown;
}

/** One forked child process and what it said. */
export class Child {
  readonly name: string;
  readonly messages: ChildMessage[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #alive = true;

  constructor(name: string, script: string, payload: unknown) {
    this.name = name;
    // fork reuses process.execArgv: the child runs under the same tsx loader as the parent.
    this.#child = fork(script, [JSON.stringify(payload)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    LIVE.add(this.#child);
    this.#child.on('message', (m: ChildMessage) => this.messages.push(m));
    this.#exited = new Promise((resolve) => {
      this.#child.on('exit', () => {
        this.#alive = false;
        LIVE.delete(this.#child);
        resolve();
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** The first message of `type` matching `where`, if any. */
  find(type: string, where: (m: ChildMessage) => boolean = () => true): ChildMessage | undefined {
    return this.messages.find((m) => m.type === type && where(m));
  }

  /** Waits for a message of `type` matching `where`; throws if the child exits first or at the deadline. */
  async waitFor(
    type: string,
    where: (m: ChildMessage) => boolean = () => true,
    timeoutMs = 60_000,
  ): Promise<ChildMessage> {
    let found: ChildMessage | undefined;
    await waitFor(
      `${this.name}: ${type}`,
      () => {
        found = this.find(type, where);
        if (found) return true;
        const err = this.find('error');
        if (err) throw new Error(`${this.name}: ${String(err.message)}`);
        if (!this.#alive) throw new Error(`${this.name} exited before ${type}`);
        return false;
      },
      timeoutMs,
      5,
    );
    return found as ChildMessage;
  }

  send(message: unknown): void {
    if (this.#child.connected) this.#child.send(message as object);
  }

  /** kill -9; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.#alive) return;
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  /** Asks the child to stop (`{ type: 'stop' }`), then kill -9 after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.#alive) return;
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** Kills every child still alive (SIGINT/SIGTERM clean-up). */
export function killAll(): void {
  for (const child of LIVE) child.kill('SIGKILL');
}
