import { DurableObject } from "cloudflare:workers";
import { ShardEntry } from "../d1/shard-entry";
import type { Env } from "../env";
import type { ShardPlace } from "./keys";
import { HELD_VERSION, type ListedRun, type ListingRow, NOT_ENDED, type PruneBefore, RUN_MISSING } from "./rows";

const LISTED = "id, function_id, event_id, status, started_at, ended_at, error_code";
const NOT_ENDED_SQL = `(${NOT_ENDED.map((s) => `'${s}'`).join(", ")})`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  function_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  error_code TEXT,
  version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_function ON runs (function_id, id);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, id);
CREATE INDEX IF NOT EXISTS runs_by_event ON runs (event_id);`;

// Monotonic: a row lands only if it is newer than the one held, whatever order rows arrive in.
const UPSERT = `
INSERT INTO runs (id, function_id, event_id, status, started_at, ended_at, error_code, version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
  status = excluded.status, ended_at = excluded.ended_at, error_code = excluded.error_code, version = excluded.version
WHERE excluded.version > runs.version`;

/** The clauses whose value is given, each with one `?`, and their values in order. */
function clauses(pairs: [clause: string, value: string | undefined][]): { where: string[]; args: string[] } {
  const given = pairs.filter((p): p is [string, string] => p[1] !== undefined && p[1] !== "");
  return { where: given.map(([c]) => c), args: given.map(([, v]) => v) };
}

/** A page query within one shard: newest id first, ids below `beforeId` and at or above `fromId`. */
export interface ShardPageQuery {
  functionId?: string | undefined;
  status?: string | undefined;
  fromId?: string | undefined;
  beforeId?: string | undefined;
  limit: number;
}

/** Runs of one function still going, oldest id first, after `afterId` and below `beforeId`, at or above `fromId`. */
export interface ShardCancellableQuery {
  functionId: string;
  fromId?: string | undefined;
  beforeId?: string | undefined;
  afterId?: string | undefined;
  limit: number;
}

/**
 * One shard of the run listing: the rows of the runs created in one hour
 * whose ids hash to it (./keys.ts). It owns its rows and its entry in D1's
 * directory of shards, noted before its first row and forgotten when
 * retention leaves it empty, so readers find every shard that holds a row.
 */
export class StepflareListingObject extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  readonly #entry: ShardEntry;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(SCHEMA);
    this.#entry = new ShardEntry(ctx.storage, env.DB, "listing_shards");
  }

  /** Writes these rows, each only where it is newer than the one held. */
  upsert(place: ShardPlace, rows: ListingRow[]): Promise<void> {
    return this.#entry.inTurn(async () => {
      await this.#entry.note(place);
      this.ctx.storage.transactionSync(() => {
        for (const r of rows)
          this.#sql.exec(UPSERT, r.id, r.functionId, r.eventId, r.status, r.startedAt, r.endedAt, r.errorCode, r.version);
      });
    });
  }

  page(q: ShardPageQuery): ListedRun[] {
    const { where, args } = clauses([
      ["function_id = ?", q.functionId],
      ["status = ?", q.status],
      ["id >= ?", q.fromId],
      ["id < ?", q.beforeId],
    ]);
    const sql = `SELECT ${LISTED} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
    return this.#sql.exec<ListedRun & Record<string, SqlStorageValue>>(sql, ...args, q.limit).toArray();
  }

  get(id: string): (ListedRun & { version: number }) | null {
    const [row] = this.#sql
      .exec<ListedRun & { version: number } & Record<string, SqlStorageValue>>(`SELECT ${LISTED}, version FROM runs WHERE id = ?`, id)
      .toArray();
    return row ?? null;
  }

  ofEvent(eventId: string): ListedRun[] {
    return this.#sql.exec<ListedRun & Record<string, SqlStorageValue>>(`SELECT ${LISTED} FROM runs WHERE event_id = ?`, eventId).toArray();
  }

  /** Rows listed as not ended (a held run's aside: its flow object owns it), oldest id first, after `afterId` and below `beforeId`. */
  notEnded(afterId: string, beforeId: string, limit: number): { id: string; version: number }[] {
    return this.#sql
      .exec<{ id: string; version: number }>(
        `SELECT id, version FROM runs WHERE status IN ${NOT_ENDED_SQL} AND version > ${HELD_VERSION} AND id > ? AND id < ? ORDER BY id LIMIT ?`,
        afterId,
        beforeId,
        limit,
      )
      .toArray();
  }

  /** Marks these rows failed `run_missing` where they are still at this version and not ended; the version stays, so a newer row still lands. */
  markMissing(runs: [id: string, version: number][], now: number): void {
    this.ctx.storage.transactionSync(() => {
      for (const [id, version] of runs) {
        this.#sql.exec(
          `UPDATE runs SET status = 'failed', ended_at = ?, error_code = '${RUN_MISSING}' WHERE id = ? AND version = ? AND status IN ${NOT_ENDED_SQL}`,
          now,
          id,
          version,
        );
      }
    });
  }

  counts(): { function_id: string; status: string; n: number }[] {
    return this.#sql
      .exec<{ function_id: string; status: string; n: number }>(
        "SELECT function_id, status, count(*) AS n FROM runs GROUP BY function_id, status",
      )
      .toArray();
  }

  /** Runs of these functions created at or after `fromId`, per status, with the first start and the last end (the bench polls it). */
  summary(functionIds: string[], fromId: string): { status: string; n: number; first_started: number | null; last_ended: number | null }[] {
    return this.#sql
      .exec<{ status: string; n: number; first_started: number | null; last_ended: number | null }>(
        `SELECT status, count(*) AS n, min(started_at) AS first_started, max(ended_at) AS last_ended FROM runs
         WHERE function_id IN (SELECT value FROM json_each(?)) AND id >= ? GROUP BY status`,
        JSON.stringify(functionIds),
        fromId,
      )
      .toArray();
  }

  cancellable(q: ShardCancellableQuery): string[] {
    const { where, args } = clauses([
      ["function_id = ?", q.functionId],
      ["id >= ?", q.fromId],
      ["id < ?", q.beforeId],
      ["id > ?", q.afterId],
    ]);
    where.push(`status IN ${NOT_ENDED_SQL}`, `version > ${HELD_VERSION}`);
    return this.#sql
      .exec<{ id: string }>(`SELECT id FROM runs WHERE ${where.join(" AND ")} ORDER BY id LIMIT ?`, ...args, q.limit)
      .toArray()
      .map((r) => r.id);
  }

  /** Removes one run's row at or below `version`: its object expired (a newer row, from a replay, stays). */
  remove(id: string, version: number): void {
    this.#sql.exec("DELETE FROM runs WHERE id = ? AND version <= ?", id, version);
  }

  /**
   * Deletes up to `limit` rows of runs ended before their status's time
   * (skipped with completed); answers how many went and how many rows are
   * left. A shard left empty forgets its directory entry and its storage.
   */
  prune(place: ShardPlace, before: PruneBefore, limit: number): Promise<{ deleted: number; left: number }> {
    return this.#entry.inTurn(async () => {
      const deleted = this.#sql
        .exec(
          `DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs WHERE
             (status IN ('completed', 'skipped') AND ended_at < ?) OR (status = 'failed' AND ended_at < ?) OR (status = 'cancelled' AND ended_at < ?)
           LIMIT ?) RETURNING id`,
          before.completed,
          before.failed,
          before.cancelled,
          limit,
        )
        .toArray().length;
      const left = Number(this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM runs").one().n);
      if (left === 0) {
        await this.#entry.forget(place);
        this.#sql.exec(SCHEMA);
      }
      return { deleted, left };
    });
  }
}
