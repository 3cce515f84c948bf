import { keysetPage, type PagePosition } from "./keyset-page";
import { chunkJsonRows, runChunked } from "./row-chunks";

/**
 * The `events` table: every accepted event, kept so that an acceptance
 * survives a lost queue message (the sweeper sends it again) and so that large
 * events travel by reference. All of its SQL is here.
 */

/**
 * An event still undispatched after this many sweeps has failed in fan-out;
 * its messages are in the dead letters. The partial index events_sweepable
 * (migrations/0001) holds the same number: SQLite uses it only for a query
 * whose WHERE states its condition literally.
 */
export const MAX_SWEEPS = 5;

// One statement for every request in a group (or one per chunk of rows, in one
// batch): each event is inserted, or refreshed when its id was last accepted
// before the dedupe window; RETURNING names the ones accepted now. Ids seen
// inside the window (in this write too) are left untouched and start nothing.
// Each row is `[id, name, event]` with the event as JSON itself, not as a
// string holding JSON, so its text is bound once, not escaped twice.
const UPSERT_EVENTS = `
INSERT INTO events (id, name, payload, accepted_at)
SELECT value ->> 0, value ->> 1, value -> 2, ?2 FROM json_each(?1) WHERE true
ON CONFLICT(id) DO UPDATE SET
  name = excluded.name, payload = excluded.payload,
  accepted_at = excluded.accepted_at, dispatched_at = NULL, sweeps = 0
WHERE events.accepted_at < ?3
RETURNING id`;
const LOAD_EVENTS = `SELECT id, payload, accepted_at FROM events WHERE id IN (SELECT value FROM json_each(?1))`;
const MARK_DISPATCHED = `
UPDATE events SET dispatched_at = ?2
WHERE dispatched_at IS NULL AND (id, accepted_at) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?1))`;
const GET_EVENT = "SELECT payload, accepted_at, dispatched_at FROM events WHERE id = ?1";
// Gives an event its sweeps back and answers its acceptance, whether it was dispatched or not.
const RESET_SWEEPS = "UPDATE events SET sweeps = 0 WHERE id = ?1 RETURNING accepted_at, dispatched_at";
/** The oldest stale undispatched events that have not used up their sweeps. */
export const STALE_UNDISPATCHED = `
SELECT id, accepted_at FROM events
WHERE dispatched_at IS NULL AND sweeps < ${MAX_SWEEPS} AND accepted_at < ?1
  AND (accepted_at > ?3 OR (accepted_at = ?3 AND id > ?4))
ORDER BY accepted_at, id LIMIT ?2`;
// Counts a sweep, for the acceptances it re-enqueued.
const COUNT_SWEEP = `
UPDATE events SET sweeps = sweeps + 1
WHERE (id, accepted_at) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?1))`;

/** One acceptance of an event: its id and when it was accepted, which tell a re-acceptance from the first. */
export type Acceptance = [id: string, acceptedAt: number];

/** An event's row as bound to the upsert: `[id, name, event]`, the event's JSON text embedded as it is. */
export const eventRow = (id: string, name: string, eventJson: string): string =>
  `[${JSON.stringify(id)},${JSON.stringify(name)},${eventJson}]`;

/**
 * Stores events (rows from `eventRow`; `chars`, their UTF-16 units) accepted
 * at `now`, each unless its id was accepted at or after `dedupeSince`;
 * answers the ids stored now.
 */
export async function upsertEvents(db: D1Database, rows: string[], chars: number, now: number, dedupeSince: number): Promise<Set<string>> {
  const results = await runChunked<{ id: string }>(db, UPSERT_EVENTS, chunkJsonRows(rows, chars), now, dedupeSince);
  return new Set(results.flatMap((r) => r.results.map((row) => row.id)));
}

// Events that came by the queue alone (ingest path "queue"), stored where they
// are consumed: each row is `[id, name, event, acceptedAt]`. An id accepted
// less than the dedupe window (?2, ms) before this acceptance is a duplicate
// and left as it is; the same acceptance again (a redelivery) keeps its
// dispatch mark. RETURNING names the acceptances to fan out.
const STORE_QUEUED = `
INSERT INTO events (id, name, payload, accepted_at)
SELECT value ->> 0, value ->> 1, value -> 2, value ->> 3 FROM json_each(?1) WHERE true
ON CONFLICT(id) DO UPDATE SET
  name = excluded.name, payload = excluded.payload, accepted_at = excluded.accepted_at,
  dispatched_at = CASE WHEN events.accepted_at = excluded.accepted_at THEN events.dispatched_at END,
  sweeps = CASE WHEN events.accepted_at = excluded.accepted_at THEN events.sweeps ELSE 0 END
WHERE events.accepted_at = excluded.accepted_at OR events.accepted_at < excluded.accepted_at - ?2
RETURNING id, accepted_at`;

/** A queued event's row as bound to `storeQueued`. */
export const queuedEventRow = (id: string, name: string, eventJson: string, acceptedAt: number): string =>
  `[${JSON.stringify(id)},${JSON.stringify(name)},${eventJson},${acceptedAt}]`;

/**
 * Stores events that reached the consumer by the queue alone (rows from
 * `queuedEventRow`); answers the acceptances that are theirs to fan out, as
 * `id acceptedAt` keys: new ids, ids last accepted before the dedupe window,
 * and redeliveries of the same acceptance. The rest are duplicates.
 */
export async function storeQueued(db: D1Database, rows: string[], chars: number, dedupeWindowMs: number): Promise<Set<string>> {
  const results = await runChunked<{ id: string; accepted_at: number }>(db, STORE_QUEUED, chunkJsonRows(rows, chars), dedupeWindowMs);
  return new Set(results.flatMap((r) => r.results.map((row) => acceptanceKey(row.id, Number(row.accepted_at)))));
}

/** One acceptance as a set key. */
export const acceptanceKey = (id: string, acceptedAt: number): string => `${id} ${acceptedAt}`;

export interface StoredEventRow {
  id: string;
  payload: string;
  accepted_at: number;
}

// Events the Worker made itself (a cron's timer), dispatched as they are stored: each row is `[id, name, event]`.
const INSERT_DISPATCHED = `
INSERT INTO events (id, name, payload, accepted_at, dispatched_at)
SELECT value ->> 0, value ->> 1, value -> 2, ?2, ?2 FROM json_each(?1) WHERE true
ON CONFLICT(id) DO NOTHING`;

/** Stores events the engine made and starts the runs of itself (rows from `eventRow`), accepted and dispatched at `now`; an id already stored is left as it is. */
export const insertDispatched = (db: D1Database, rows: string[], now: number): D1PreparedStatement =>
  db.prepare(INSERT_DISPATCHED).bind(`[${rows.join(",")}]`, now);

/** The stored rows of these event ids (those that exist). */
export async function loadEvents(db: D1Database, ids: string[]): Promise<StoredEventRow[]> {
  return (await db.prepare(LOAD_EVENTS).bind(JSON.stringify(ids)).all<StoredEventRow>()).results;
}

/** Marks these acceptances dispatched at `now` (a later acceptance of the same id stays undispatched); for a batch. */
export const markDispatched = (db: D1Database, acceptances: Acceptance[], now: number): D1PreparedStatement =>
  db.prepare(MARK_DISPATCHED).bind(JSON.stringify(acceptances), now);

/** One stored event's payload and acceptance, or null. */
export const getEvent = (db: D1Database, id: string) =>
  db.prepare(GET_EVENT).bind(id).first<{ payload: string; accepted_at: number; dispatched_at: number | null }>();

/** Gives an event its sweeps back; answers its acceptance, or null when there is no such event. */
export const resetSweeps = (db: D1Database, id: string) =>
  db.prepare(RESET_SWEEPS).bind(id).first<{ accepted_at: number; dispatched_at: number | null }>();

/**
 * Up to `limit` acceptances before `before` that are undispatched and have
 * sweeps left, oldest first, after `after` (an acceptance a previous page ended on).
 */
export async function staleUndispatched(
  db: D1Database,
  before: number,
  limit: number,
  after: Acceptance = ["", -1],
): Promise<Acceptance[]> {
  const rows = await db.prepare(STALE_UNDISPATCHED).bind(before, limit, after[1], after[0]).all<{ id: string; accepted_at: number }>();
  return rows.results.map((r) => [r.id, Number(r.accepted_at)]);
}

/** Counts one sweep for each of these acceptances. */
export async function countSweep(db: D1Database, acceptances: Acceptance[]): Promise<void> {
  await db.prepare(COUNT_SWEEP).bind(JSON.stringify(acceptances)).run();
}

/** An event as the events listing shows it. */
export interface ListedEvent {
  id: string;
  name: string;
  accepted_at: number;
  dispatched_at: number | null;
}

/** One page of accepted events, newest first: of one name, and accepted within [since, until), when given. */
export async function listEvents(
  db: D1Database,
  q: { name?: string | undefined; since?: number | undefined; until?: number | undefined; after: PagePosition | undefined; limit: number },
): Promise<{ rows: ListedEvent[]; next: PagePosition | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.name) where.push(`name = ?${args.push(q.name)}`);
  if (q.since !== undefined) where.push(`accepted_at >= ?${args.push(q.since)}`);
  if (q.until !== undefined) where.push(`accepted_at < ?${args.push(q.until)}`);
  return keysetPage<ListedEvent>(db, {
    select: "SELECT id, name, accepted_at, dispatched_at FROM events",
    where,
    args,
    timeColumn: "accepted_at",
    after: q.after,
    limit: q.limit,
  });
}

/** Events of this name accepted at or after `since`, oldest first, at most `limit`: what a wait looks back on when it registers. */
export async function eventsSince(db: D1Database, name: string, since: number, limit: number): Promise<string[]> {
  const rows = await db
    .prepare("SELECT payload FROM events WHERE name = ?1 AND accepted_at >= ?2 ORDER BY accepted_at, id LIMIT ?3")
    .bind(name, since, limit)
    .all<{ payload: string }>();
  return rows.results.map((r) => r.payload);
}

/**
 * Deletes up to `limit` events accepted before `before` and dispatched, and
 * those never dispatched (their fan-out failed for good) accepted before
 * `undispatchedBefore`; answers how many.
 */
export async function deleteEventsBefore(db: D1Database, before: number, undispatchedBefore: number, limit: number): Promise<number> {
  const r = await db
    .prepare(
      `DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE accepted_at < ?1
         AND (dispatched_at IS NOT NULL OR accepted_at < ?2) ORDER BY accepted_at LIMIT ?3)`,
    )
    .bind(before, undispatchedBefore, limit)
    .run();
  return r.meta.changes ?? 0;
}
