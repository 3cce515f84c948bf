/** How long an idempotency key holds: a day, as in Inngest. */
export const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;

/**
 * One idempotency key of one function: the run that took it, and when. The
 * key holds for a day; the object's alarm then forgets it.
 */
export class IdempotencyKey {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec("CREATE TABLE IF NOT EXISTS idempotency (run_id TEXT NOT NULL, at INTEGER NOT NULL)");
  }

  /** Whether the run may start: it took the key now, or took it before (a redelivery). Answers when the key expires. */
  admit(runId: string, now: number): { allowed: boolean; expiresAt: number } {
    const held = this.#held(now);
    if (held) return { allowed: held.run_id === runId, expiresAt: held.at + IDEMPOTENCY_MS };
    this.#sql.exec("DELETE FROM idempotency");
    this.#sql.exec("INSERT INTO idempotency (run_id, at) VALUES (?, ?)", runId, now);
    return { allowed: true, expiresAt: now + IDEMPOTENCY_MS };
  }

  /** Forgets the key once its day is over; answers when it expires otherwise. */
  expire(now: number): number | null {
    const held = this.#held(now);
    if (held) return held.at + IDEMPOTENCY_MS;
    this.#sql.exec("DELETE FROM idempotency");
    return null;
  }

  #held(now: number): { run_id: string; at: number } | undefined {
    const row = this.#sql.exec<{ run_id: string; at: number }>("SELECT run_id, at FROM idempotency LIMIT 1").toArray()[0];
    return row && row.at > now - IDEMPOTENCY_MS ? row : undefined;
  }
}
