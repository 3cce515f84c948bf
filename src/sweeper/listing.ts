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
 * good. Answers how many objects re-sent and where the walk goes on from
 * (the start again once it reached the end).
 */
export async function reconcileListing(
  env: Env,
  cursor: ListingCursor = START,
  now = Date.now(),
): Promise<{ resent: number; next: ListingCursor }> {
  const rows = (
    await env.DB.prepare(LISTED_RUNNING)
      .bind(now - LISTED_RUNNING_AFTER_MS, cursor.startedAt, cursor.id, RECONCILE_LIMIT)
      .all<{ id: string; version: number; started_at: number }>()
  ).results;
  let resent = 0;
  await eachLimited(rows, RECONCILE_CONCURRENCY, async (row) => {
    try {
      if (await env.RUNS.get(env.RUNS.idFromName(row.id)).syncIndexIfNewer(Number(row.version))) resent++;
    } catch (e) {
      console.error(`stepflare: checking the listing row of run ${row.id} failed:`, (e as Error).message);
    }
  });
  const last = rows[rows.length - 1];
  return { resent, next: rows.length < RECONCILE_LIMIT || !last ? START : { startedAt: Number(last.started_at), id: last.id } };
}
