import type { Env } from "../env";
import { eachLimited } from "../shared/each-limited";

/** Listed as running for longer than this, a run's row is checked against its object. */
export const LISTED_RUNNING_AFTER_MS = 60_000;
/** Rows checked per sweep: a walk through every long-running row, this many at a time. */
export const RECONCILE_LIMIT = 100;
const RECONCILE_CONCURRENCY = 10;

// The next rows of the walk: listed as running, started before the cutoff, after the cursor.
const LISTED_RUNNING = `
SELECT id, version, started_at FROM runs
WHERE status = 'running' AND started_at < ?1 AND (started_at > ?2 OR (started_at = ?2 AND id > ?3))
ORDER BY started_at, id LIMIT ?4`;
/** The error code of a run listed as running whose object holds no run: its storage was lost while D1 kept the row. */
export const RUN_MISSING = "run_missing";
// Rows whose object answered that it holds no run, unless the listing has moved on since they were read.
// The version stays: a row the object itself sends later is newer, and still lands.
const MARK_MISSING = `
UPDATE runs SET status = 'failed', ended_at = ?2, error_code = '${RUN_MISSING}'
WHERE status = 'running' AND (id, version) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?1))`;

/** Where the walk stands: the last row checked, or the start. */
export interface ListingCursor {
  startedAt: number;
  id: string;
}

const START: ListingCursor = { startedAt: 0, id: "" };

/**
 * Checks a page of rows the listing shows as running against their run
 * objects, and has each object whose run has moved on (a newer version: it
 * ended, or was replayed) send its row again. The listing is written through
 * the index queue, and a local queue loses its messages on a restart, so a
 * run that ended just before one would otherwise stay listed as running for
 * good. A row whose object holds no run is marked failed, `run_missing`, so
 * it stops claiming a run is running and leaves the walk: the fan-out lists a
 * run only after its object has stored it, so such an object has lost it (an
 * object that throws or is slow is left for the next pass). Answers how many
 * objects re-sent, how many rows were marked missing, and where the walk goes
 * on from (the start again once it reached the end).
 */
export async function reconcileListing(
  env: Env,
  cursor: ListingCursor = START,
  now = Date.now(),
): Promise<{ resent: number; missing: number; next: ListingCursor }> {
  const rows = (
    await env.DB.prepare(LISTED_RUNNING)
      .bind(now - LISTED_RUNNING_AFTER_MS, cursor.startedAt, cursor.id, RECONCILE_LIMIT)
      .all<{ id: string; version: number; started_at: number }>()
  ).results;
  let resent = 0;
  const missing: [string, number][] = [];
  await eachLimited(rows, RECONCILE_CONCURRENCY, async (row) => {
    try {
      const check = await env.RUNS.get(env.RUNS.idFromName(row.id)).syncListingIfNewer(Number(row.version));
      if (check === "resent") resent++;
      else if (check === "no-run") missing.push([row.id, Number(row.version)]);
    } catch (e) {
      console.error(`stepflare: checking the listing row of run ${row.id} failed:`, (e as Error).message);
    }
  });
  if (missing.length > 0) await env.DB.prepare(MARK_MISSING).bind(JSON.stringify(missing), now).run();
  const last = rows[rows.length - 1];
  return {
    resent,
    missing: missing.length,
    next: rows.length < RECONCILE_LIMIT || !last ? START : { startedAt: Number(last.started_at), id: last.id },
  };
}
