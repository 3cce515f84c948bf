import type { Env } from "../env";
import { type ListingCursor, listedRunning, markMissing } from "../listing/store";
import { eachLimited } from "../shared/each-limited";

/** A run created longer ago than this and listed as not ended has its row checked against its object. */
export const LISTED_RUNNING_AFTER_MS = 60_000;
/** Rows checked per sweep: a walk through every long-running row, this many at a time. */
export const RECONCILE_LIMIT = 100;
/** Listing shards asked per page of the walk: two hours' worth. */
export const RECONCILE_SHARDS = 32;
const RECONCILE_CONCURRENCY = 10;

const START: ListingCursor = { startedAt: 0, id: "" };

/**
 * Checks a page of rows the listing shows as running (or sleeping, waiting,
 * queued: any status of a run not ended) against their run objects, and has each object whose run has moved on (a newer version: it
 * ended, or was replayed) send its row again. The listing is written through
 * the listing queue, and a local queue loses its messages on a restart, so a
 * run that ended just before one would otherwise stay listed as not ended for
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
  const { rows, next } = await listedRunning(env, now - LISTED_RUNNING_AFTER_MS, cursor, RECONCILE_LIMIT, RECONCILE_SHARDS);
  let resent = 0;
  const missing: [string, number][] = [];
  await eachLimited(rows, RECONCILE_CONCURRENCY, async (row) => {
    try {
      const check = await env.RUNS.get(env.RUNS.idFromName(row.id)).syncListingIfNewer(row.version);
      if (check === "resent") resent++;
      else if (check === "no-run") missing.push([row.id, row.version]);
    } catch (e) {
      console.error(`stepflare: checking the listing row of run ${row.id} failed:`, (e as Error).message);
    }
  });
  await markMissing(env, missing, now);
  return { resent, missing: missing.length, next: next ?? START };
}
