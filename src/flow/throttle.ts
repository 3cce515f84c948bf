/**
 * Throttle: GCRA over run starts. `limit` starts per `period` are spaced
 * `period / limit` apart, and up to `limit + burst` may start at once after a
 * quiet spell. A start beyond that is not refused: it is given the time it
 * may start, and that time is reserved for it.
 */

/** The start time for one more start, and the new theoretical arrival time. Pure. */
export function gcraReserve(
  tat: number | null,
  now: number,
  spec: { limit: number; periodMs: number; burst: number },
): { startAt: number; tat: number } {
  const interval = spec.periodMs / spec.limit;
  const tolerance = interval * (spec.limit + spec.burst - 1);
  const base = Math.max(tat ?? now, now);
  return { startAt: Math.ceil(Math.max(now, base - tolerance)), tat: base + interval };
}

/** A reservation is kept this long past its start time, so a run asking again (after an eviction, a restart) gets the same answer. */
const KEEP_MS = 60 * 60 * 1000;

/** One throttle's state in its object's SQLite: the arrival time and each run's reserved start. */
export class ThrottleStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS throttle (id INTEGER PRIMARY KEY CHECK (id = 0), tat REAL NOT NULL);
      CREATE TABLE IF NOT EXISTS reservations (run_id TEXT PRIMARY KEY, start_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS reservations_start ON reservations (start_at);`);
  }

  /** When run `runId` may start: its reservation if it has one, else a new one. Idempotent per run. */
  reserve(runId: string, now: number, spec: { limit: number; periodMs: number; burst: number }): number {
    const held = this.#sql.exec<{ start_at: number }>("SELECT start_at FROM reservations WHERE run_id = ?", runId).toArray()[0];
    if (held) return Number(held.start_at);
    const tat = this.#sql.exec<{ tat: number }>("SELECT tat FROM throttle").toArray()[0]?.tat ?? null;
    const next = gcraReserve(tat === null ? null : Number(tat), now, spec);
    this.#sql.exec("INSERT OR REPLACE INTO throttle (id, tat) VALUES (0, ?)", next.tat);
    this.#sql.exec("INSERT INTO reservations (run_id, start_at) VALUES (?, ?)", runId, next.startAt);
    this.#sql.exec("DELETE FROM reservations WHERE start_at < ?", now - Math.max(KEEP_MS, spec.periodMs));
    return next.startAt;
  }
}
