import { keysetPage, type PagePosition } from "./keyset-page";
import { chunkJsonRows } from "./row-chunks";

/**
 * The run listing (table `runs`): one row per run, so runs can be listed and
 * filtered, which Durable Objects cannot be. Run objects own the truth; these
 * rows follow them, ordered by the run's version. All of its SQL is here.
 */

/** A run's listing row, as its object answered or sent it. */
export interface ListingRow {
  id: string;
  functionId: string;
  eventId: string;
  status: string;
  startedAt: number;
  endedAt: number | null;
  errorCode: string | null;
  version: number;
}

/** A listing row as the API reads it. */
export interface ListedRun {
  id: string;
  function_id: string;
  event_id: string;
  status: string;
  started_at: number;
  ended_at: number | null;
  error_code: string | null;
}

/**
 * The version of a held run's row: a debounced run that has no object yet.
 * Below a skipped row's (0) and any started run's, so either replaces it.
 */
export const HELD_VERSION = -1;

/** The error code of a run listed as running whose object holds no run: its storage was lost while D1 kept the row. */
export const RUN_MISSING = "run_missing";

// Every row in one statement. Monotonic: a row only lands if it is newer than
// what the listing holds, whatever order the rows arrive in. Each row is
// `[id, function, event, status, started, ended, error code, version]`.
const UPSERT_LISTING = `
INSERT INTO runs (id, function_id, event_id, status, started_at, ended_at, error_code, version)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7
FROM json_each(?1) WHERE true
ON CONFLICT(id) DO UPDATE SET
  status = excluded.status, ended_at = excluded.ended_at, error_code = excluded.error_code, version = excluded.version
WHERE excluded.version > runs.version`;
const LISTED_COLUMNS = "id, function_id, event_id, status, started_at, ended_at, error_code";
const RUNS_OF_EVENT = `SELECT ${LISTED_COLUMNS} FROM runs WHERE event_id = ?1 ORDER BY started_at, id`;
/** The statuses of a run not ended: the sweeper's walk checks rows listed with one of them. */
const NOT_ENDED = "('running', 'sleeping', 'waiting', 'queued')";
// The next rows of the sweeper's walk: listed as not ended (a sleeping run's row is lost as a running one's is),
// started before the cutoff, after the cursor. A held run (version below 0) has no object yet: its flow object owns it.
const LISTED_RUNNING = `
SELECT id, version, started_at FROM runs
WHERE status IN ${NOT_ENDED} AND version > ${HELD_VERSION} AND started_at < ?1 AND (started_at > ?2 OR (started_at = ?2 AND id > ?3))
ORDER BY started_at, id LIMIT ?4`;
// Rows whose object answered that it holds no run, unless the listing has moved on since they were read.
// The version stays: a row the object itself sends later is newer, and still lands.
const MARK_MISSING = `
UPDATE runs SET status = 'failed', ended_at = ?2, error_code = '${RUN_MISSING}'
WHERE status IN ${NOT_ENDED} AND (id, version) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?1))`;

/**
 * The statements that write these rows, each only where it is newer than the
 * listing's: one, or one per chunk D1 can bind (a delivery's rows pass 2 MB
 * with about 150 functions on one event); run them in one batch.
 */
export function upsertListing(db: D1Database, rows: ListingRow[]): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  const texts = rows.map((r) => JSON.stringify([r.id, r.functionId, r.eventId, r.status, r.startedAt, r.endedAt, r.errorCode, r.version]));
  const chunks = chunkJsonRows(
    texts,
    texts.reduce((n, t) => n + t.length, 0),
  );
  return chunks.map((chunk) => db.prepare(UPSERT_LISTING).bind(chunk));
}

/** Writes these rows, each only where it is newer than the listing's, all or nothing. */
export async function writeListing(db: D1Database, rows: ListingRow[]): Promise<void> {
  const statements = upsertListing(db, rows);
  if (statements.length === 1) await statements[0]!.run();
  else if (statements.length > 1) await db.batch(statements);
}

/** One page of the listing, newest first, optionally of one function or one status. */
export async function listRuns(
  db: D1Database,
  q: {
    functionId?: string | undefined;
    status?: string | undefined;
    /** Started at or after this time, and before `until`. */
    since?: number | undefined;
    until?: number | undefined;
    after: PagePosition | undefined;
    limit: number;
  },
): Promise<{ rows: ListedRun[]; next: PagePosition | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.functionId) where.push(`function_id = ?${args.push(q.functionId)}`);
  if (q.status) where.push(`status = ?${args.push(q.status)}`);
  if (q.since !== undefined) where.push(`started_at >= ?${args.push(q.since)}`);
  if (q.until !== undefined) where.push(`started_at < ?${args.push(q.until)}`);
  return keysetPage<ListedRun>(db, {
    select: `SELECT ${LISTED_COLUMNS} FROM runs`,
    where,
    args,
    timeColumn: "started_at",
    after: q.after,
    limit: q.limit,
  });
}

/** One run's listing row with its version, or null. */
export async function listedRun(db: D1Database, id: string): Promise<(ListedRun & { version: number }) | null> {
  const row = await db
    .prepare(`SELECT ${LISTED_COLUMNS}, version FROM runs WHERE id = ?1`)
    .bind(id)
    .first<ListedRun & { version: number }>();
  return row && { ...row, version: Number(row.version) };
}

/** The listed runs of one event, oldest first. */
export async function runsOfEvent(db: D1Database, eventId: string): Promise<ListedRun[]> {
  return (await db.prepare(RUNS_OF_EVENT).bind(eventId).all<ListedRun>()).results;
}

/** Where the sweeper's walk of the runs listed as running stands: the last row checked, or the start. */
export interface ListingCursor {
  startedAt: number;
  id: string;
}

/** Up to `limit` runs listed as running that started before `before`, in start order after `cursor`. */
export async function listedRunning(
  db: D1Database,
  before: number,
  cursor: ListingCursor,
  limit: number,
): Promise<{ id: string; version: number; startedAt: number }[]> {
  const rows = await db
    .prepare(LISTED_RUNNING)
    .bind(before, cursor.startedAt, cursor.id, limit)
    .all<{ id: string; version: number; started_at: number }>();
  return rows.results.map((r) => ({ id: r.id, version: Number(r.version), startedAt: Number(r.started_at) }));
}

/** Marks these runs (id and listed version) failed `run_missing` at `now`, where they are still listed as running. */
export async function markMissing(db: D1Database, runs: [id: string, version: number][], now: number): Promise<void> {
  if (runs.length > 0) await db.prepare(MARK_MISSING).bind(JSON.stringify(runs), now).run();
}

/** Runs listed per function and status: one pass over the listing. */
export async function runCountsByFunction(db: D1Database): Promise<Map<string, Record<string, number>>> {
  const rows = await db
    .prepare("SELECT function_id, status, count(*) AS n FROM runs GROUP BY function_id, status")
    .all<{ function_id: string; status: string; n: number }>();
  const counts = new Map<string, Record<string, number>>();
  for (const r of rows.results) {
    const byStatus = counts.get(r.function_id) ?? {};
    byStatus[r.status] = r.n;
    counts.set(r.function_id, byStatus);
  }
  return counts;
}

/** Up to `limit` runs of a function still going (running, sleeping, waiting or queued), by id after `afterId`, started within the window. */
export async function listCancellable(
  db: D1Database,
  q: {
    functionId: string;
    startedAfter?: number | undefined;
    startedBefore?: number | undefined;
    afterId?: string | undefined;
    limit: number;
  },
): Promise<string[]> {
  const args: unknown[] = [q.functionId];
  const where = ["function_id = ?1", "status IN ('running', 'sleeping', 'waiting', 'queued')", `version > ${HELD_VERSION}`];
  if (q.startedAfter !== undefined) where.push(`started_at >= ?${args.push(q.startedAfter)}`);
  if (q.startedBefore !== undefined) where.push(`started_at < ?${args.push(q.startedBefore)}`);
  if (q.afterId !== undefined) where.push(`id > ?${args.push(q.afterId)}`);
  const rows = await db
    .prepare(`SELECT id FROM runs WHERE ${where.join(" AND ")} ORDER BY id LIMIT ?${args.push(q.limit)}`)
    .bind(...args)
    .all<{ id: string }>();
  return rows.results.map((r) => r.id);
}

/** Removes one run's row, at or below `version`: its object expired (a newer row, from a replay, stays). */
export async function deleteListed(db: D1Database, id: string, version: number): Promise<void> {
  await db.prepare("DELETE FROM runs WHERE id = ?1 AND version <= ?2").bind(id, version).run();
}

/**
 * Deletes up to `limit` rows of runs that ended with `status` before `before`
 * (their objects expire on their own); answers how many. The start bounds the
 * search through the status index, since a run ends after it starts.
 */
export async function deleteEndedBefore(db: D1Database, status: string, before: number, limit: number): Promise<number> {
  const r = await db
    .prepare("DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs WHERE status = ?1 AND started_at < ?2 AND ended_at < ?2 LIMIT ?3)")
    .bind(status, before, limit)
    .run();
  return r.meta.changes ?? 0;
}
