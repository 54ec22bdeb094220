import type { ClaimRequest } from '@oasis/core';
import { type Row, RUN_COLUMNS } from '../rows';
import type { TableNames } from '../tables';
import type { RunEnd, RunStatements, Trx } from './dialect';

/** What the statements need of a better-sqlite3 statement. */
interface Statement {
  raw(toggle: boolean): Statement;
  all(params: unknown[]): unknown[][];
  run(params: unknown[]): unknown;
}

/** The run columns and then the owner node's incarnation, as `completionRows` reads them. */
const COMPLETION_COLUMNS = [...RUN_COLUMNS, 'n_incarnation'];

/** A row object from an array of `columns`' values. */
function rowOf(columns: readonly string[], values: unknown[]): Row {
  const row: Row = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]!] = values[i];
  return row;
}

/** `"name"`: an identifier quoted for SQLite (table names carry the user's validated prefix). */
function id(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * SQLite's claim and completion statements, written once per store as SQL text. A drain spends
 * its time in these few statements, in the one thread that runs both the engine and SQLite: built
 * through kysely on every call, their building and compiling cost as much as SQLite's work (the
 * 50-arm `CASE` of a completion most of all). Here each text is fixed, lists travel as one JSON
 * array bound to `json_each(?)`, so the connection's statement cache always hits, and the rows
 * come back with the columns `toRun` reads and no others.
 *
 * They run inside the store step's transaction (the caller's `BEGIN IMMEDIATE`), on its
 * connection (better-sqlite3's own, straight: rows come back as arrays, which better-sqlite3
 * makes at half the cost of objects), and keep the guarantees of the generic statements they replace: the candidates
 * in claim order from the pending-runs index, no run of a serial job that has one running (the
 * unique serial guard stays the last word), owner, incarnation, lease and start in one update.
 */
export class SqliteRunStatements implements RunStatements {
  readonly #candidates: string;
  readonly #claim: string;
  readonly #completionRows: string;
  readonly #end: string;
  readonly #prepare: (sql: string) => unknown;

  /**
   * Writes the statements for the store's tables; `prepare` is the open connection's (cached)
   * `prepare`, the one the store's transactions run on.
   */
  constructor(t: TableNames, prepare: (sql: string) => unknown) {
    this.#prepare = prepare;
    const runs = id(t.runs);
    const columns = RUN_COLUMNS.map(id).join(', ');
    // `+due_at`: keeps due_at out of the index choice, so SQLite walks runs_pending_order in
    // claim order and stops after the window, instead of range-scanning due_at and sorting
    this.#candidates = `select r.id, r.job_key, r.block from ${runs} as r
 where r.app = ? and r.state = 'pending' and +r.due_at <= ?
   and r.handler in (select value from json_each(?))
   and (r.target_node is null or r.target_node = ?)
   and (r.job_key is null or r.block = 'parallel' or not exists (
         select 1 from ${runs} as x where x.app = r.app and x.job_key = r.job_key and x.state = 'running'))
 order by r.priority desc, r.due_at, r.id
 limit ?`;
    this.#claim = `update ${runs}
   set state = 'running', owner_node = ?, owner_incarnation = ?, lease_expires_at = ?, started_at = ?
 where id in (select value from json_each(?)) and state = 'pending'
 returning ${columns}`;
    this.#completionRows = `select ${RUN_COLUMNS.map((c) => `r.${id(c)}`).join(', ')},
       (select n.incarnation from ${id(t.nodes)} as n where n.app = r.app and n.node_id = r.owner_node) as n_incarnation
  from ${runs} as r
 where r.id in (select value from json_each(?))`;
    // each element of the bound array is [id, state, duration ms, result JSON, error JSON]
    this.#end = `update ${runs}
   set state = e.value ->> 1, finished_at = ?, lease_expires_at = null,
       duration_ms = cast(e.value ->> 2 as integer), result = e.value ->> 3, error = e.value ->> 4
  from json_each(?) as e
 where ${runs}.id = e.value ->> 0`;
  }

  /** The statement of `text`, returning arrays. */
  #statement(text: string): Statement {
    return (this.#prepare(text) as Statement).raw(true);
  }

  /** See `RunStatements.claimCandidates`. */
  async claimCandidates(_trx: Trx, request: ClaimRequest, now: number, window: number): Promise<Row[]> {
    const params = [request.app, now, JSON.stringify(request.handlers), request.nodeId, window];
    return this.#statement(this.#candidates)
      .all(params)
      .map(([id, job_key, block]) => ({ id, job_key, block }));
  }

  /** See `RunStatements.claim`. */
  async claim(_trx: Trx, ids: number[], request: ClaimRequest, now: number): Promise<Row[]> {
    const params = [request.nodeId, request.incarnation, now + request.leaseMs, now, JSON.stringify(ids)];
    return this.#statement(this.#claim)
      .all(params)
      .map((values) => rowOf(RUN_COLUMNS, values));
  }

  /** See `RunStatements.completionRows`. */
  async completionRows(_trx: Trx, ids: number[]): Promise<Row[]> {
    return this.#statement(this.#completionRows)
      .all([JSON.stringify(ids)])
      .map((values) => rowOf(COMPLETION_COLUMNS, values));
  }

  /** See `RunStatements.endRuns`. */
  async endRuns(_trx: Trx, ends: RunEnd[], now: number): Promise<void> {
    const values = ends.map((e) => [e.id, e.state, e.durationMs, e.result, e.error]);
    (this.#prepare(this.#end) as Statement).run([now, JSON.stringify(values)]);
  }
}
