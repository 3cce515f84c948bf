import { DurableObject } from "cloudflare:workers";
import { ShardEntry } from "../d1/shard-entry";
import type { Env } from "../env";
import type { ShardPlace } from "../listing/keys";
import { acceptanceOf, claimIds, EXPIRE_PAGE, expireIds, ID_SCHEMA } from "./id-index";
import type { Acceptance } from "./keys";

/**
 * An event still undispatched after this many sweeps has failed in fan-out;
 * its messages are in the dead letters. The partial index events_sweepable
 * holds the same number: SQLite uses it only for a query whose WHERE states its condition literally.
 */
export const MAX_SWEEPS = 5;

const EVENT_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  dispatched_at INTEGER,
  -- times the sweeper re-enqueued this acceptance; it gives up after a few
  sweeps INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (id, accepted_at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_newest ON events (accepted_at, id);
CREATE INDEX IF NOT EXISTS events_by_name ON events (name, accepted_at, id);
CREATE INDEX IF NOT EXISTS events_sweepable ON events (accepted_at, id) WHERE dispatched_at IS NULL AND sweeps < ${MAX_SWEEPS};`;

/** An acceptance as stored: the event's JSON as text, and when it was dispatched, for one the engine starts itself. */
export interface EventRow {
  id: string;
  name: string;
  payload: string;
  acceptedAt: number;
  dispatchedAt?: number;
}

export interface StoredEventRow {
  id: string;
  accepted_at: number;
  payload: string;
  dispatched_at: number | null;
}

/** An event as the events listing shows it. */
export interface ListedEvent {
  id: string;
  name: string;
  accepted_at: number;
  dispatched_at: number | null;
}

/** A page query within one shard: newest first, below `before` (time, then id), at or after `since`. */
export interface EventPageQuery {
  name?: string | undefined;
  since?: number | undefined;
  before?: { at: number; id: string } | undefined;
  limit: number;
}

/** The oldest stale undispatched acceptances that have not used up their sweeps: accepted before ?1, after (?2, ?3), at most ?4. */
export const STALE_EVENTS = `
SELECT id, accepted_at FROM events
WHERE dispatched_at IS NULL AND sweeps < ${MAX_SWEEPS} AND accepted_at < ? AND (accepted_at, id) > (?, ?)
ORDER BY accepted_at, id LIMIT ?`;

/** Acceptances bound as one JSON array, read back by json_each. */
const ACCEPTANCES = "SELECT value ->> 0, value ->> 1 FROM json_each(?)";

/**
 * One shard of the event store (./keys.ts), in one of two roles by its name.
 * An event shard holds the acceptances of one hour whose ids hash to it, and
 * its entry in D1's directory (`event_shards`), noted before its first row
 * and forgotten when retention leaves it empty. An id shard holds the id
 * index (./id-index.ts) and deletes what it no longer needs by alarm.
 */
export class StepflareEventsObject extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  /** An event shard's entry in D1's `event_shards`. */
  readonly #entry: ShardEntry;
  #armed = false;
  /** Each role's tables are made on its first use: an object plays one role, and a new one makes only its own. */
  #made = { events: false, ids: false };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#entry = new ShardEntry(ctx.storage, env.DB, "event_shards");
  }

  get #events(): SqlStorage {
    if (!this.#made.events) {
      this.#sql.exec(EVENT_SCHEMA);
      this.#made.events = true;
    }
    return this.#sql;
  }

  get #ids(): SqlStorage {
    if (!this.#made.ids) {
      this.#sql.exec(ID_SCHEMA);
      this.#made.ids = true;
    }
    return this.#sql;
  }

  // ---- the id role ----

  /** Claims acceptances of ids (./id-index.ts): answers the keys of those that are new. */
  async claim(acceptances: Acceptance[], windowMs: number, keepMs: number): Promise<string[]> {
    const sql = this.#ids;
    const fresh = this.ctx.storage.transactionSync(() => claimIds(sql, acceptances, windowMs, keepMs));
    if (!this.#armed) {
      this.#armed = true;
      if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + keepMs);
    }
    return fresh;
  }

  acceptance(id: string): number | null {
    return acceptanceOf(this.#ids, id);
  }

  /** Deletes ids past their keep: at most once an hour while the next is far off, sooner while behind. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const { deleted, next } = expireIds(this.#ids, now);
    if (next === null) {
      this.#armed = false;
      await this.ctx.storage.deleteAll();
      this.#made = { events: false, ids: false };
      return;
    }
    await this.ctx.storage.setAlarm(deleted >= EXPIRE_PAGE ? now + 1000 : Math.max(next, now + 60 * 60 * 1000));
  }

  // ---- the event role ----

  /** Stores acceptances; one already held keeps its row (a redelivery keeps its dispatch mark). */
  store(place: ShardPlace, rows: EventRow[]): Promise<void> {
    return this.#entry.inTurn(async () => {
      await this.#entry.note(place);
      this.ctx.storage.transactionSync(() => {
        for (const r of rows) {
          this.#events.exec(
            "INSERT OR IGNORE INTO events (id, accepted_at, name, payload, dispatched_at) VALUES (?, ?, ?, ?, ?)",
            r.id,
            r.acceptedAt,
            r.name,
            r.payload,
            r.dispatchedAt ?? null,
          );
        }
      });
    });
  }

  load(acceptances: Acceptance[]): StoredEventRow[] {
    return this.#events
      .exec<StoredEventRow & Record<string, SqlStorageValue>>(
        `SELECT id, accepted_at, payload, dispatched_at FROM events WHERE (id, accepted_at) IN (${ACCEPTANCES})`,
        JSON.stringify(acceptances),
      )
      .toArray();
  }

  /** Marks these acceptances dispatched at `now`. */
  markDispatched(acceptances: Acceptance[], now: number): void {
    this.#events.exec(
      `UPDATE events SET dispatched_at = ? WHERE dispatched_at IS NULL AND (id, accepted_at) IN (${ACCEPTANCES})`,
      now,
      JSON.stringify(acceptances),
    );
  }

  /** Deletes these acceptances, those never dispatched: duplicates found after they were stored (an event once fanned out stays). */
  drop(acceptances: Acceptance[]): void {
    this.#events.exec(
      `DELETE FROM events WHERE dispatched_at IS NULL AND (id, accepted_at) IN (${ACCEPTANCES})`,
      JSON.stringify(acceptances),
    );
  }

  /** Up to `limit` acceptances before `before`, undispatched with sweeps left, oldest first, after `after`. */
  stale(before: number, limit: number, after: Acceptance): Acceptance[] {
    return this.#events
      .exec<{ id: string; accepted_at: number }>(STALE_EVENTS, before, after[1], after[0], limit)
      .toArray()
      .map((r): Acceptance => [r.id, Number(r.accepted_at)]);
  }

  /** Counts a sweep for each of these acceptances. */
  countSweep(acceptances: Acceptance[]): void {
    this.#events.exec(`UPDATE events SET sweeps = sweeps + 1 WHERE (id, accepted_at) IN (${ACCEPTANCES})`, JSON.stringify(acceptances));
  }

  /** Gives an acceptance its sweeps back; answers whether it was dispatched, or null when it is not held. */
  resetSweeps(id: string, acceptedAt: number): { dispatched_at: number | null } | null {
    const [row] = this.#events
      .exec<{ dispatched_at: number | null }>(
        "UPDATE events SET sweeps = 0 WHERE id = ? AND accepted_at = ? RETURNING dispatched_at",
        id,
        acceptedAt,
      )
      .toArray();
    return row ?? null;
  }

  page(q: EventPageQuery): ListedEvent[] {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    const add = (clause: string, ...values: SqlStorageValue[]) => {
      where.push(clause);
      args.push(...values);
    };
    if (q.name) add("name = ?", q.name);
    if (q.since !== undefined) add("accepted_at >= ?", q.since);
    if (q.before) add("(accepted_at, id) < (?, ?)", q.before.at, q.before.id);
    return this.#events
      .exec<ListedEvent & Record<string, SqlStorageValue>>(
        `SELECT id, name, accepted_at, dispatched_at FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY accepted_at DESC, id DESC LIMIT ?`,
        ...args,
        q.limit,
      )
      .toArray();
  }

  /** Events of this name accepted at or after `since`, oldest first: a registering wait's look-back. */
  since(name: string, since: number, limit: number): { id: string; accepted_at: number; payload: string }[] {
    return this.#events
      .exec<{ id: string; accepted_at: number; payload: string }>(
        "SELECT id, accepted_at, payload FROM events WHERE name = ? AND accepted_at >= ? ORDER BY accepted_at, id LIMIT ?",
        name,
        since,
        limit,
      )
      .toArray();
  }

  /**
   * Deletes up to `limit` acceptances before `before` and dispatched, and
   * undispatched ones before `undispatchedBefore`; answers how many went and
   * how many are left. A shard left empty forgets its directory entry and its storage.
   */
  prune(place: ShardPlace, before: number, undispatchedBefore: number, limit: number): Promise<{ deleted: number; left: number }> {
    return this.#entry.inTurn(async () => {
      const deleted = this.#events
        .exec(
          `DELETE FROM events WHERE (id, accepted_at) IN (SELECT id, accepted_at FROM events
             WHERE accepted_at < ? AND (dispatched_at IS NOT NULL OR accepted_at < ?) LIMIT ?) RETURNING id`,
          before,
          undispatchedBefore,
          limit,
        )
        .toArray().length;
      const left = Number(this.#events.exec<{ n: number }>("SELECT count(*) AS n FROM events").one().n);
      if (left === 0) {
        await this.#entry.forget(place);
        this.#made = { events: false, ids: false };
      }
      return { deleted, left };
    });
  }
}
