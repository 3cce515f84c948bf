import { DECISION_KEEP_MS } from "./start";

/**
 * A rate limit's window for one function and key: every event's answer by
 * its run id, so a redelivered event is answered the same and counted once.
 * A sliding window: an event is allowed when fewer than `limit` allowed
 * starts fall in the `period` before it, so no window of `period` ever holds
 * more than `limit` starts.
 */
export class RateLimitWindow {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS rate_starts (run_id TEXT PRIMARY KEY, at INTEGER NOT NULL, allowed INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS rate_starts_at ON rate_starts (allowed, at)`);
  }

  /** Whether the run may start; answers when the window should next be pruned. */
  admit(runId: string, now: number, limit: number, periodMs: number): { allowed: boolean; pruneAt: number } {
    const pruneAt = now + periodMs + DECISION_KEEP_MS;
    const seen = this.#sql.exec<{ allowed: number }>("SELECT allowed FROM rate_starts WHERE run_id = ?", runId).toArray()[0];
    if (seen) return { allowed: seen.allowed === 1, pruneAt };
    const inWindow = this.#sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM rate_starts WHERE allowed = 1 AND at > ?", now - periodMs)
      .one().n;
    const allowed = inWindow < limit;
    this.#sql.exec("INSERT INTO rate_starts (run_id, at, allowed) VALUES (?, ?, ?)", runId, now, allowed ? 1 : 0);
    return { allowed, pruneAt };
  }

  /** Forgets answers past the window and their keep; answers when to prune next, or null when empty. */
  prune(now: number, periodMs: number): number | null {
    this.#sql.exec("DELETE FROM rate_starts WHERE at <= ?", now - periodMs - DECISION_KEEP_MS);
    const oldest = this.#sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM rate_starts").one().at;
    return oldest === null ? null : oldest + periodMs + DECISION_KEEP_MS;
  }
}
