import type { Env } from "../env";
import type { StoredEvent } from "../messages/events";
import type { RemoteTarget } from "../remote/target";
import { sendListing } from "../shared/queue-shards";
import { DECISION_KEEP_MS, heldRow, startHeldRun } from "./start";

/** A batch also closes once its events' JSON reaches this size, so one run's events stay far below what an RPC carries. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * One batch key of one function: the events gathered for the next run. A
 * batch closes at `maxSize` events (or MAX_BATCH_BYTES), or `timeout` after
 * its first event; its run's id is its first event's, and it starts with
 * every event in order. Events stay stored until their run has started, so a
 * failed start is retried; each event's batch is kept by run id, so a
 * redelivery adds nothing. Call one at a time (see Serial).
 */
export class BatchKey {
  readonly #sql: SqlStorage;
  readonly #env: Env;

  constructor(sql: SqlStorage, env: Env) {
    this.#sql = sql;
    this.#env = env;
    sql.exec(`CREATE TABLE IF NOT EXISTS batch_items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, event_json TEXT NOT NULL,
        accepted_at INTEGER NOT NULL, at INTEGER NOT NULL, batch_run TEXT);
      CREATE TABLE IF NOT EXISTS batch_seen (run_id TEXT PRIMARY KEY, at INTEGER NOT NULL)`);
  }

  /** Adds an event; closes and starts the batch when it is full. Answers when to look again. */
  async add(
    functionId: string,
    runId: string,
    event: StoredEvent,
    acceptedAt: number,
    now: number,
    maxSize: number,
    timeoutMs: number,
    remote?: RemoteTarget,
  ): Promise<number | null> {
    const known = this.#sql.exec(
      "SELECT 1 FROM batch_items WHERE run_id = ? UNION ALL SELECT 1 FROM batch_seen WHERE run_id = ?",
      runId,
      runId,
    );
    if (known.toArray().length === 0) {
      const opens = this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM batch_items WHERE batch_run IS NULL").one().n === 0;
      // The event that opens a batch names its run: listed as queued until the batch starts (sent first, so a failure changes nothing here).
      if (opens) await sendListing(this.#env, [heldRow(runId, functionId, event.id, "batch", now)]);
      this.#sql.exec(
        "INSERT INTO batch_items (run_id, event_json, accepted_at, at) VALUES (?, ?, ?, ?)",
        runId,
        JSON.stringify(event),
        acceptedAt,
        now,
      );
      const open = this.#sql
        .exec<{ n: number; bytes: number }>(
          "SELECT count(*) AS n, coalesce(sum(length(event_json)), 0) AS bytes FROM batch_items WHERE batch_run IS NULL",
        )
        .one();
      if (open.n >= maxSize || open.bytes >= MAX_BATCH_BYTES) this.#close(maxSize);
    }
    return this.fire(functionId, now, timeoutMs, remote);
  }

  /**
   * Closes the open batch if its timeout has come, starts every closed batch,
   * and answers when to look again: the open batch's timeout, a retry of a
   * failed start, the keep of past answers, or null.
   */
  async fire(functionId: string, now: number, timeoutMs: number, remote?: RemoteTarget): Promise<number | null> {
    const first = this.#sql.exec<{ at: number }>("SELECT at FROM batch_items WHERE batch_run IS NULL ORDER BY seq LIMIT 1").toArray()[0];
    // The open batch never holds more than maxSize events: add() closes it there.
    if (first && first.at + timeoutMs <= now) this.#close(Number.MAX_SAFE_INTEGER);
    let retry = false;
    for (const { batch_run: batchRun } of this.#sql
      .exec<{ batch_run: string }>("SELECT DISTINCT batch_run FROM batch_items WHERE batch_run IS NOT NULL")
      .toArray()) {
      if (!(await this.#start(functionId, batchRun, now, remote))) retry = true;
    }
    this.#sql.exec("DELETE FROM batch_seen WHERE at <= ?", now - DECISION_KEEP_MS);
    const open = this.#sql.exec<{ at: number }>("SELECT at FROM batch_items WHERE batch_run IS NULL ORDER BY seq LIMIT 1").toArray()[0];
    const oldest = this.#sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM batch_seen").one().at;
    const candidates = [retry ? now + 5_000 : null, open ? open.at + timeoutMs : null, oldest === null ? null : oldest + DECISION_KEEP_MS];
    const due = candidates.filter((c): c is number => c !== null);
    return due.length === 0 ? null : Math.min(...due);
  }

  /** Closes the open batch: its first `maxSize` events get the first one's run id. */
  #close(maxSize: number): void {
    const ids = this.#sql
      .exec<{ run_id: string }>("SELECT run_id FROM batch_items WHERE batch_run IS NULL ORDER BY seq LIMIT ?", maxSize)
      .toArray()
      .map((r) => r.run_id);
    if (ids.length === 0) return;
    this.#sql.exec("UPDATE batch_items SET batch_run = ? WHERE run_id IN (SELECT value FROM json_each(?))", ids[0]!, JSON.stringify(ids));
  }

  async #start(functionId: string, batchRun: string, now: number, remote: RemoteTarget | undefined): Promise<boolean> {
    const items = this.#sql
      .exec<{ run_id: string; event_json: string; accepted_at: number }>(
        "SELECT run_id, event_json, accepted_at FROM batch_items WHERE batch_run = ? ORDER BY seq",
        batchRun,
      )
      .toArray();
    const events = items.map((i) => JSON.parse(i.event_json) as StoredEvent);
    try {
      await startHeldRun(this.#env, {
        runId: batchRun,
        functionId,
        event: events[0]!,
        events,
        acceptedAt: items[0]!.accepted_at,
        ...(remote ? { remote } : {}),
      });
    } catch (e) {
      console.error(`stepflare: starting batch run ${batchRun} failed; retrying:`, (e as Error).message);
      return false;
    }
    for (const i of items) this.#sql.exec("INSERT OR REPLACE INTO batch_seen (run_id, at) VALUES (?, ?)", i.run_id, now);
    this.#sql.exec("DELETE FROM batch_items WHERE batch_run = ?", batchRun);
    return true;
  }
}
