import type { ClaimRequest } from '@oasis/core';
import { CompiledQuery } from 'kysely';
import { type Row, RUN_COLUMNS } from '../rows';
import type { TableNames } from '../tables';
import type { RunEnd, RunStatements, Trx } from './dialect';

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
 * connection, and keep the guarantees of the generic statements they replace: the candidates
 * in claim order from the pending-runs index, no run of a serial job that has one running (the
 * unique serial guard stays the last word), owner, incarnation, lease and start in one update.
 */
export class SqliteRunStatements implements RunStatements {
  readonly #candidates: string;
  readonly #claim: string;
  readonly #completionRows: string;
  readonly #end: string;

  /** Writes the statements for the store's tables. */
  constructor(t: TableNames) {
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

  /** See `RunStatements.claimCandidates`. */
  async claimCandidates(trx: Trx, request: ClaimRequest, now: number, window: number): Promise<Row[]> {
    const params = [request.app, now, JSON.stringify(request.handlers), request.nodeId, window];
    const r = await trx.executeQuery<Row>(CompiledQuery.raw(this.#candidates, params));
    return r.rows;
  }

  /** See `RunStatements.claim`. */
  async claim(trx: Trx, ids: number[], request: ClaimRequest, now: number): Promise<Row[]> {
    const params = [request.nodeId, request.incarnation, now + request.leaseMs, now, JSON.stringify(ids)];
    const r = await trx.executeQuery<Row>(CompiledQuery.raw(this.#claim, params));
    return r.rows;
  }

  /** See `RunStatements.completionRows`. */
  async completionRows(trx: Trx, ids: number[]): Promise<Row[]> {
    const r = await trx.executeQuery<Row>(CompiledQuery.raw(this.#completionRows, [JSON.stringify(ids)]));
    return r.rows;
  }

  /** See `RunStatements.endRuns`. */
  async endRuns(trx: Trx, ends: RunEnd[], now: number): Promise<void> {
    const values = ends.map((e) => [e.id, e.state, e.durationMs, e.result, e.error]);
    await trx.executeQuery(CompiledQuery.raw(this.#end, [now, JSON.stringify(values)]));
  }
}
