import { CompiledQuery } from 'kysely';

/** How many texts one cache keeps by default; later keys are compiled on every call. */
const MAX_TEXTS = 64;

/**
 * Small statements of a fixed shape that run in every claim or completion (the node check, the
 * clock, the event log, SQLite's stats upsert): kysely builds and compiles each once per key, and
 * later calls reuse its SQL text with their own values, since building and compiling cost more
 * CPU than SQLite spends running such a statement. A key names one shape: the same SQL text
 * whatever the values, bound in the order the caller gives them. The text is kept only when the
 * first compilation bound exactly those values in that order; otherwise the key is compiled on
 * every call, as without this cache. `SqlStore#readRows` keeps the hot reads' shapes in one too.
 */
export class CompiledOnce {
  readonly #texts = new Map<string, string | null>();
  readonly #max: number;

  /** A cache of at most `max` statement texts. */
  constructor(max = MAX_TEXTS) {
    this.#max = max;
  }

  /** The query of `compile()` for `key`, with `parameters` bound. */
  query<R>(key: string, compile: () => CompiledQuery<R>, parameters: readonly unknown[]): CompiledQuery<R> {
    const text = this.#texts.get(key);
    if (typeof text === 'string') return CompiledQuery.raw(text, [...parameters]) as CompiledQuery<R>;
    const compiled = compile();
    if (text === undefined && this.#texts.size < this.#max) {
      const same =
        compiled.parameters.length === parameters.length &&
        compiled.parameters.every((v, i) => Object.is(v, parameters[i]));
      this.#texts.set(key, same ? compiled.sql : null);
    }
    return compiled;
  }
}
