/**
 * Concurrency: the slots of one limit, and the runs queued for them, in the
 * object's SQLite. A run holds a slot under a ticket (which stay in the
 * queue it is): a release names the ticket, so a late release from an
 * earlier stay never frees a slot taken since. Every slot has a lease; when
 * it lapses, the object asks the run whether it still holds it.
 *
 * The slots (at most the limit's worth of rows) and the queue's length are
 * mirrored in memory, read once per instance, so a run that finds a free
 * slot and no queue takes it with one write. Releases are deleted from
 * SQLite in batches (`flushReleases`, one transaction for many runs): a
 * release lost with the instance leaves a slot row behind, which its lease
 * returns (the run, asked, no longer holds it), so a restart never admits
 * more runs than the limit, at worst fewer for a lease.
 */

/** A slot given to a queued run, to be told to it. */
export interface Grant {
  runId: string;
  ticket: number;
}

/** How long a granted slot waits for its run to take it before the object asks again. */
export const GRANT_RETRY_MS = 5_000;

interface Slot {
  ticket: number;
  leaseAt: number;
}

export class ConcurrencySlots {
  readonly #sql: SqlStorage;
  /** The slots table, mirrored: written through. */
  readonly #slots = new Map<string, Slot>();
  #queued: number;
  #limit: number;
  /** Runs whose slot was let go and whose row is not yet deleted. */
  readonly #released = new Set<string>();
  /** The earliest lease written since `takeSoonestLease` was last called. */
  #soonest: number | null;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS slots (run_id TEXT PRIMARY KEY, ticket INTEGER NOT NULL, lease_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS queue (run_id TEXT PRIMARY KEY, ticket INTEGER NOT NULL, ord REAL NOT NULL, since INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS queue_order ON queue (ord, since, run_id);
      CREATE TABLE IF NOT EXISTS slot_limit (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL);`);
    for (const r of sql.exec<{ run_id: string; ticket: number; lease_at: number }>("SELECT run_id, ticket, lease_at FROM slots")) {
      this.#slots.set(r.run_id, { ticket: Number(r.ticket), leaseAt: Number(r.lease_at) });
    }
    this.#queued = Number(sql.exec("SELECT count(*) AS n FROM queue").one().n);
    this.#limit = Number(sql.exec<{ n: number }>("SELECT n FROM slot_limit").toArray()[0]?.n ?? 1);
    this.#soonest = this.nextLeaseAt();
  }

  /**
   * A run asks for a slot (again, idempotently): granted if it holds one or
   * one is free and no run is ahead of it; else it stays queued at `ord`.
   * Answers the grant and the slots given to other runs meanwhile.
   */
  acquire(runId: string, ticket: number, ord: number, limit: number, now: number, leaseMs: number): { granted: boolean; grants: Grant[] } {
    this.#setLimit(limit);
    const held = this.#slots.get(runId);
    if (held) {
      this.#write(runId, Math.max(held.ticket, ticket), now + leaseMs);
      return { granted: true, grants: this.#fill(now) };
    }
    if (this.#queued === 0 && this.#slots.size < limit) {
      this.#write(runId, ticket, now + leaseMs);
      return { granted: true, grants: [] };
    }
    const before = this.#sql.exec<{ ticket: number }>("SELECT ticket FROM queue WHERE run_id = ?", runId).toArray()[0];
    if (!before) this.#queued += 1;
    if (!before || Number(before.ticket) < ticket) {
      this.#sql.exec("INSERT OR REPLACE INTO queue (run_id, ticket, ord, since) VALUES (?, ?, ?, ?)", runId, ticket, ord, now);
    }
    const grants = this.#fill(now);
    const mine = grants.findIndex((g) => g.runId === runId);
    if (mine < 0) return { granted: false, grants };
    grants.splice(mine, 1);
    this.#write(runId, this.#slots.get(runId)!.ticket, now + leaseMs);
    return { granted: true, grants };
  }

  /**
   * The fan-out takes slots for runs it is about to start (each under its
   * first ticket), in `ord` order, while slots are free and no run is queued:
   * a run ahead in the queue is never passed. Answers the runs that hold one
   * (also one that held it already); the others ask for themselves.
   */
  reserve(runs: { runId: string; ord: number }[], limit: number, now: number, leaseMs: number): string[] {
    this.#setLimit(limit);
    const held: string[] = [];
    for (const { runId } of [...runs].sort((a, b) => a.ord - b.ord)) {
      if (this.#slots.has(runId)) held.push(runId);
      else if (this.#queued === 0 && this.#slots.size < limit) {
        this.#write(runId, 1, now + leaseMs);
        held.push(runId);
      }
    }
    return held;
  }

  /** The run let go of its slot or its place in the queue (of `ticket` or earlier). Answers the slots given to the next runs. */
  release(runId: string, ticket: number, now: number): Grant[] {
    const held = this.#slots.get(runId);
    if (held && held.ticket <= ticket) {
      this.#slots.delete(runId);
      this.#released.add(runId);
    } else if (this.#queued > 0) {
      // A run that held the slot had no place in the queue: it left the queue when it took one.
      this.#queued -= this.#sql.exec("DELETE FROM queue WHERE run_id = ? AND ticket <= ? RETURNING run_id", runId, ticket).toArray().length;
    }
    return this.#fill(now);
  }

  /** The run took its slot, or still holds it: its lease runs on. */
  confirm(grant: Grant, now: number, leaseMs: number): void {
    this.#renew(grant, now + leaseMs);
  }

  /** Whether releases wait to be deleted from SQLite. */
  get releasesPending(): boolean {
    return this.#released.size > 0;
  }

  /** Deletes the rows of the slots let go since the last flush, in one statement. */
  flushReleases(): void {
    const ids = [...this.#released];
    this.#released.clear();
    for (let i = 0; i < ids.length; i += 90) {
      const chunk = ids.slice(i, i + 90);
      this.#sql.exec(`DELETE FROM slots WHERE run_id IN (${chunk.map(() => "?").join(",")})`, ...chunk);
    }
  }

  /** Slots whose lease has lapsed: their runs are asked whether they still hold them. */
  lapsed(now: number): Grant[] {
    return [...this.#slots]
      .filter(([, s]) => s.leaseAt <= now)
      .sort((a, b) => a[1].leaseAt - b[1].leaseAt)
      .slice(0, 100)
      .map(([runId, s]) => ({ runId, ticket: s.ticket }));
  }

  /** A lapsed slot whose run was not reached: asked again shortly. */
  retryLater(grant: Grant, at: number): void {
    this.#renew(grant, at);
  }

  /** The earliest lease written since the last call (or held when the instance started), for the object's alarm; null for none. */
  takeSoonestLease(): number | null {
    const at = this.#soonest;
    this.#soonest = null;
    return at;
  }

  nextLeaseAt(): number | null {
    let at: number | null = null;
    for (const s of this.#slots.values()) if (at === null || s.leaseAt < at) at = s.leaseAt;
    return at;
  }

  /** Slots held and runs queued, for tests and run detail. */
  counts(): { held: number; queued: number } {
    return { held: this.#slots.size, queued: this.#queued };
  }

  /** Gives free slots to the head of the queue, in order. */
  #fill(now: number): Grant[] {
    const free = this.#limit - this.#slots.size;
    if (free <= 0 || this.#queued === 0) return [];
    const next = this.#sql
      .exec<{ run_id: string; ticket: number }>("SELECT run_id, ticket FROM queue ORDER BY ord, since, run_id LIMIT ?", free)
      .toArray()
      .map((r) => ({ runId: r.run_id, ticket: Number(r.ticket) }));
    for (const g of next) {
      this.#sql.exec("DELETE FROM queue WHERE run_id = ?", g.runId);
      this.#write(g.runId, g.ticket, now + GRANT_RETRY_MS);
    }
    this.#queued -= next.length;
    return next;
  }

  #setLimit(limit: number): void {
    if (limit === this.#limit) return;
    this.#sql.exec("INSERT OR REPLACE INTO slot_limit (id, n) VALUES (0, ?)", limit);
    this.#limit = limit;
  }

  #write(runId: string, ticket: number, leaseAt: number): void {
    this.#sql.exec("INSERT OR REPLACE INTO slots (run_id, ticket, lease_at) VALUES (?, ?, ?)", runId, ticket, leaseAt);
    this.#slots.set(runId, { ticket, leaseAt });
    this.#released.delete(runId);
    if (this.#soonest === null || leaseAt < this.#soonest) this.#soonest = leaseAt;
  }

  /** Moves the lease of a slot still held under the grant's ticket. */
  #renew(grant: Grant, leaseAt: number): void {
    const slot = this.#slots.get(grant.runId);
    if (slot?.ticket !== grant.ticket) return;
    this.#write(grant.runId, grant.ticket, leaseAt);
  }
}
