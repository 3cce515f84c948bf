/**
 * Concurrency: the slots of one limit, and the runs queued for them, in the
 * object's SQLite. A run holds a slot under a ticket (which stay in the
 * queue it is): a release names the ticket, so a late release from an
 * earlier stay never frees a slot taken since. Every slot has a lease; when
 * it lapses, the object asks the run whether it still holds it.
 */

/** A slot given to a queued run, to be told to it. */
export interface Grant {
  runId: string;
  ticket: number;
}

/** How long a granted slot waits for its run to take it before the object asks again. */
export const GRANT_RETRY_MS = 5_000;

export class ConcurrencySlots {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS slots (run_id TEXT PRIMARY KEY, ticket INTEGER NOT NULL, lease_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS queue (run_id TEXT PRIMARY KEY, ticket INTEGER NOT NULL, ord REAL NOT NULL, since INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS queue_order ON queue (ord, since, run_id);
      CREATE TABLE IF NOT EXISTS slot_limit (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL);`);
  }

  /**
   * A run asks for a slot (again, idempotently): granted if it holds one or
   * one is free and no run is ahead of it; else it stays queued at `ord`.
   * Answers the grant and the slots given to other runs meanwhile.
   */
  acquire(runId: string, ticket: number, ord: number, limit: number, now: number, leaseMs: number): { granted: boolean; grants: Grant[] } {
    this.#sql.exec("INSERT OR REPLACE INTO slot_limit (id, n) VALUES (0, ?)", limit);
    const held = this.#sql.exec<{ ticket: number }>("SELECT ticket FROM slots WHERE run_id = ?", runId).toArray()[0];
    if (held) {
      this.#sql.exec("UPDATE slots SET ticket = max(ticket, ?), lease_at = ? WHERE run_id = ?", ticket, now + leaseMs, runId);
      return { granted: true, grants: this.#fill(now) };
    }
    this.#sql.exec(
      `INSERT INTO queue (run_id, ticket, ord, since) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (run_id) DO UPDATE SET ticket = ?2, ord = ?3, since = ?4 WHERE ticket < ?2`,
      runId,
      ticket,
      ord,
      now,
    );
    const grants = this.#fill(now);
    const mine = grants.findIndex((g) => g.runId === runId);
    if (mine < 0) return { granted: false, grants };
    grants.splice(mine, 1);
    this.#sql.exec("UPDATE slots SET lease_at = ? WHERE run_id = ?", now + leaseMs, runId);
    return { granted: true, grants };
  }

  /** The run let go of its slot or its place in the queue (of `ticket` or earlier). Answers the slots given to the next runs. */
  release(runId: string, ticket: number, now: number): Grant[] {
    this.#sql.exec("DELETE FROM slots WHERE run_id = ? AND ticket <= ?", runId, ticket);
    this.#sql.exec("DELETE FROM queue WHERE run_id = ? AND ticket <= ?", runId, ticket);
    return this.#fill(now);
  }

  /** The run took its slot, or still holds it: its lease runs on. */
  confirm(grant: Grant, now: number, leaseMs: number): void {
    this.#sql.exec("UPDATE slots SET lease_at = ? WHERE run_id = ? AND ticket = ?", now + leaseMs, grant.runId, grant.ticket);
  }

  /** Slots whose lease has lapsed: their runs are asked whether they still hold them. */
  lapsed(now: number): Grant[] {
    return this.#sql
      .exec<{ run_id: string; ticket: number }>("SELECT run_id, ticket FROM slots WHERE lease_at <= ? ORDER BY lease_at LIMIT 100", now)
      .toArray()
      .map((r) => ({ runId: r.run_id, ticket: Number(r.ticket) }));
  }

  /** A lapsed slot whose run was not reached: asked again shortly. */
  retryLater(grant: Grant, at: number): void {
    this.#sql.exec("UPDATE slots SET lease_at = ? WHERE run_id = ? AND ticket = ?", at, grant.runId, grant.ticket);
  }

  nextLeaseAt(): number | null {
    const row = this.#sql.exec<{ at: number | null }>("SELECT min(lease_at) AS at FROM slots").one();
    return row.at === null ? null : Number(row.at);
  }

  /** Slots held and runs queued, for tests and run detail. */
  counts(): { held: number; queued: number } {
    const held = Number(this.#sql.exec("SELECT count(*) AS n FROM slots").one().n);
    const queued = Number(this.#sql.exec("SELECT count(*) AS n FROM queue").one().n);
    return { held, queued };
  }

  /** Gives free slots to the head of the queue, in order. */
  #fill(now: number): Grant[] {
    const limit = Number(this.#sql.exec<{ n: number }>("SELECT n FROM slot_limit").toArray()[0]?.n ?? 1);
    const free = limit - Number(this.#sql.exec("SELECT count(*) AS n FROM slots").one().n);
    if (free <= 0) return [];
    const next = this.#sql
      .exec<{ run_id: string; ticket: number }>("SELECT run_id, ticket FROM queue ORDER BY ord, since, run_id LIMIT ?", free)
      .toArray();
    for (const r of next) {
      this.#sql.exec("DELETE FROM queue WHERE run_id = ?", r.run_id);
      this.#sql.exec("INSERT INTO slots (run_id, ticket, lease_at) VALUES (?, ?, ?)", r.run_id, r.ticket, now + GRANT_RETRY_MS);
    }
    return next.map((r) => ({ runId: r.run_id, ticket: Number(r.ticket) }));
  }
}
