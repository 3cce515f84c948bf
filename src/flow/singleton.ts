import type { Env } from "../env";
import type { StartedRun, StartRun } from "../run/rpc";
import { DECISION_KEEP_MS } from "./start";

export type SingletonAnswer = { type: "started"; run: StartedRun } | { type: "skipped" };

const ENDED = new Set(["completed", "failed", "cancelled"]);

/**
 * One singleton key of one function: the run holding it, and each event's
 * answer by run id (a redelivery is answered the same). The object starts
 * the run itself, one decision at a time, so two events in one delivery
 * cannot both take the key. On a conflict it asks the holder its status,
 * so a run that ended (with no notice) never holds the key.
 */
export class SingletonKey {
  readonly #sql: SqlStorage;
  readonly #env: Env;

  constructor(sql: SqlStorage, env: Env) {
    this.#sql = sql;
    this.#env = env;
    sql.exec(`CREATE TABLE IF NOT EXISTS singleton_holder (run_id TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS singleton_answers (run_id TEXT PRIMARY KEY, started INTEGER NOT NULL, at INTEGER NOT NULL)`);
  }

  /** Call one at a time (see Serial). */
  async admit(init: StartRun, mode: "skip" | "cancel", now: number): Promise<SingletonAnswer> {
    const answered = this.#sql.exec<{ started: number }>("SELECT started FROM singleton_answers WHERE run_id = ?", init.runId).toArray()[0];
    if (answered?.started === 0) return { type: "skipped" };
    if (!answered) {
      const holder = this.#sql.exec<{ run_id: string }>("SELECT run_id FROM singleton_holder").toArray()[0]?.run_id;
      if (holder !== undefined && holder !== init.runId) {
        const other = this.#env.RUNS.get(this.#env.RUNS.idFromName(holder));
        const status = await other.status();
        if (status !== null && !ENDED.has(status)) {
          if (mode === "skip") {
            this.#answer(init.runId, false, now);
            return { type: "skipped" };
          }
          await other.cancel();
        }
      }
      this.#sql.exec("DELETE FROM singleton_holder");
      this.#sql.exec("INSERT INTO singleton_holder (run_id) VALUES (?)", init.runId);
      this.#answer(init.runId, true, now);
    }
    try {
      const run = await this.#env.RUNS.get(this.#env.RUNS.idFromName(init.runId)).start(init);
      return { type: "started", run };
    } catch (e) {
      // Not started: the key is free again, and the event's redelivery decides anew.
      this.#sql.exec("DELETE FROM singleton_holder WHERE run_id = ?", init.runId);
      this.#sql.exec("DELETE FROM singleton_answers WHERE run_id = ?", init.runId);
      throw e;
    }
  }

  /** Forgets answers older than the keep; answers when to prune next, or null when none are left. */
  prune(now: number): number | null {
    this.#sql.exec("DELETE FROM singleton_answers WHERE at <= ?", now - DECISION_KEEP_MS);
    const oldest = this.#sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM singleton_answers").one().at;
    return oldest === null ? null : oldest + DECISION_KEEP_MS;
  }

  #answer(runId: string, started: boolean, now: number): void {
    this.#sql.exec("INSERT OR REPLACE INTO singleton_answers (run_id, started, at) VALUES (?, ?, ?)", runId, started ? 1 : 0, now);
  }
}
