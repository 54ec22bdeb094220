/**
 * A FIFO async mutex: `run(fn)` waits for the runs before it. SQLite stores of one process that
 * share a database file (or one connection) go through one of these, because better-sqlite3 is
 * synchronous: a second connection waiting on the file lock would block the event loop that the
 * lock holder needs to finish.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /** Runs `fn` once every earlier `run` has settled; returns its result. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

const shared = new Map<unknown, { mutex: Mutex; users: number }>();

/** The process-wide mutex for `key`, counted: call the returned release once when done. */
export function acquireSharedMutex(key: unknown): { mutex: Mutex; release: () => void } {
  let entry = shared.get(key);
  if (!entry) {
    entry = { mutex: new Mutex(), users: 0 };
    shared.set(key, entry);
  }
  entry.users++;
  let released = false;
  const held = entry;
  return {
    mutex: entry.mutex,
    release: () => {
      if (released) return;
      released = true;
      held.users--;
      if (held.users === 0 && shared.get(key) === held) shared.delete(key);
    },
  };
}
