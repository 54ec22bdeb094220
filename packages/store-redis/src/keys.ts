/**
 * The one place Redis key names are built on the TypeScript side. Every key of an app starts
 * with its base `{<prefix>:<app>}`: the braces are a Redis Cluster hash tag, so all keys of one
 * app hash to one slot and every Lua step (which builds the same names from the base, see
 * `src/lua/lib/common.lua`) touches a single slot. The registry of apps is the only key outside
 * an app's slot.
 *
 * Layout under the base `B` (see README.md for the full table):
 * `B:job:<key>` hash, `B:jobs` zset (lex), `B:due` / `B:due:<p>` zsets, `B:run:<seq>` hash,
 * `B:log:<seq>` list, `B:runs*` index zsets (among them `B:runs:sj:<state>:<jobKey>`: a job's runs
 * in one state, trusted by listings once the marker `B:sjidx` says the app's are complete;
 * `B:sjidx:at` is where building them for older data stopped), `B:q:*` / `B:qp:*` queue zsets,
 * `B:node:<id>` hash, `B:leader`, `B:pmap`, `B:stats:<hour>`, `B:audit*`, `B:events` (pub/sub
 * channel).
 */
export class RedisKeys {
  readonly #prefix: string;

  /** @param prefix the key prefix (default `oasis`); must not hold `{` or `}`. */
  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** The prefix keys start with. */
  get prefix(): string {
    return this.#prefix;
  }

  /** The set of app names that ever wrote to this store (for cross-app listings and prune). */
  apps(): string {
    return `{${this.#prefix}}:apps`;
  }

  /** The base of an app's keys, `{<prefix>:<app>}`: KEYS[1] of every Lua step. */
  base(app: string): string {
    return `{${this.#prefix}:${app}}`;
  }

  /** A run's hash. */
  run(app: string, seq: string): string {
    return `${this.base(app)}:run:${seq}`;
  }

  /** A run's log list. */
  log(app: string, seq: string): string {
    return `${this.base(app)}:log:${seq}`;
  }

  /** A job's hash. */
  job(app: string, key: string): string {
    return `${this.base(app)}:job:${key}`;
  }

  /**
   * The runs of one job in one state (zset, score = member = seq). The state comes first: states
   * never hold ':', job keys may.
   */
  runsByStateAndJob(app: string, state: string, jobKey: string): string {
    return `${this.base(app)}:runs:sj:${state}:${jobKey}`;
  }

  /**
   * The marker (string `1`) saying the app's `runsByStateAndJob` sets are complete, so listings may
   * use them: set at an app's first id, or by index-runs.lua when it has indexed older runs.
   */
  runIndexMarker(app: string): string {
    return `${this.base(app)}:sjidx`;
  }

  /** Where index-runs.lua stopped (an exclusive seq bound, `(<seq>`) while it builds the sets. */
  runIndexCursor(app: string): string {
    return `${this.base(app)}:sjidx:at`;
  }

  /** The leader lease hash. */
  leader(app: string): string {
    return `${this.base(app)}:leader`;
  }

  /** The partition map hash. */
  partitionMap(app: string): string {
    return `${this.base(app)}:pmap`;
  }

  /** The pub/sub channel of the app's wake-ups (messages `runs` or `jobs`). */
  events(app: string): string {
    return `${this.base(app)}:events`;
  }

  /** A SCAN pattern matching every key of this prefix (all apps and the registry). */
  scanPattern(): string {
    return `{${globEscape(this.#prefix)}[:}]*`;
  }

  /** A SCAN pattern matching every key of one app. */
  appPattern(app: string): string {
    return `${globEscape(this.base(app))}:*`;
  }
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
