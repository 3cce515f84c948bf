import type { Env } from "../env";
import type { StoredEvent } from "../messages/events";
import type { RemoteTarget } from "../remote/target";
import { sendListing } from "../shared/queue-shards";
import { DECISION_KEEP_MS, heldRow, skippedRow, startHeldRun } from "./start";

/** When a debounced run starts: `period` after the last event, but no later than `timeout` after the first. */
export const debounceDue = (now: number, firstAt: number, periodMs: number, timeoutMs: number | undefined): number =>
  timeoutMs === undefined ? now + periodMs : Math.min(now + periodMs, firstAt + timeoutMs);

type Pending = {
  run_id: string;
  event_json: string;
  accepted_at: number;
  first_at: number;
  due_at: number;
};

/**
 * One debounce key of one function: the latest event, which the run will
 * start with, and when, listed as queued until it starts. A newer event
 * supersedes it (listed as skipped, `debounced`) and pushes the start back. Each event's fate is kept by run
 * id, so a redelivery changes nothing. Call one at a time (see Serial).
 */
export class DebounceKey {
  readonly #sql: SqlStorage;
  readonly #env: Env;

  constructor(sql: SqlStorage, env: Env) {
    this.#sql = sql;
    this.#env = env;
    sql.exec(`CREATE TABLE IF NOT EXISTS debounce_pending (
        run_id TEXT PRIMARY KEY, event_json TEXT NOT NULL, accepted_at INTEGER NOT NULL, first_at INTEGER NOT NULL, due_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS debounce_seen (run_id TEXT PRIMARY KEY, at INTEGER NOT NULL)`);
  }

  /** Takes an event; answers when the pending run is due. */
  async push(
    functionId: string,
    runId: string,
    event: StoredEvent,
    acceptedAt: number,
    now: number,
    periodMs: number,
    timeoutMs: number | undefined,
  ): Promise<number> {
    const pending = this.#pending();
    if (this.#seen(runId) || pending?.run_id === runId) return pending?.due_at ?? now;
    // Listed first (the run it supersedes as skipped, this one as held): if that fails, nothing here has changed and the event is retried.
    const rows = [heldRow(runId, functionId, event.id, "debounce", now)];
    if (pending) rows.unshift(skippedRow(pending.run_id, functionId, (JSON.parse(pending.event_json) as StoredEvent).id, "debounced", now));
    await sendListing(this.#env, rows);
    let firstAt = now;
    if (pending) {
      firstAt = pending.first_at;
      this.#sql.exec("DELETE FROM debounce_pending");
      this.#sql.exec("INSERT OR REPLACE INTO debounce_seen (run_id, at) VALUES (?, ?)", pending.run_id, now);
    }
    const dueAt = debounceDue(now, firstAt, periodMs, timeoutMs);
    this.#sql.exec(
      "INSERT INTO debounce_pending (run_id, event_json, accepted_at, first_at, due_at) VALUES (?, ?, ?, ?, ?)",
      runId,
      JSON.stringify(event),
      acceptedAt,
      firstAt,
      dueAt,
    );
    return dueAt;
  }

  /** Starts the pending run if it is due; answers when to look again (a start that failed is retried), or null. */
  async fire(functionId: string, now: number, remote?: RemoteTarget): Promise<number | null> {
    this.#sql.exec("DELETE FROM debounce_seen WHERE at <= ?", now - DECISION_KEEP_MS);
    const pending = this.#pending();
    if (pending && pending.due_at <= now) {
      const event = JSON.parse(pending.event_json) as StoredEvent;
      try {
        await startHeldRun(this.#env, {
          runId: pending.run_id,
          functionId,
          event,
          acceptedAt: pending.accepted_at,
          ...(remote ? { remote } : {}),
        });
      } catch (e) {
        console.error(`stepflare: starting debounced run ${pending.run_id} failed; retrying:`, (e as Error).message);
        return now + 5_000;
      }
      this.#sql.exec("DELETE FROM debounce_pending");
      this.#sql.exec("INSERT OR REPLACE INTO debounce_seen (run_id, at) VALUES (?, ?)", pending.run_id, now);
    }
    const next = this.#pending()?.due_at;
    if (next !== undefined) return next;
    const oldest = this.#sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM debounce_seen").one().at;
    return oldest === null ? null : oldest + DECISION_KEEP_MS;
  }

  #pending(): Pending | undefined {
    return this.#sql.exec<Pending>("SELECT * FROM debounce_pending").toArray()[0] as Pending | undefined;
  }

  #seen(runId: string): boolean {
    return this.#sql.exec("SELECT 1 FROM debounce_seen WHERE run_id = ?", runId).toArray().length > 0;
  }
}
