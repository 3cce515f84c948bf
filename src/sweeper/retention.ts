import { deleteDeadLettersBefore } from "../d1/dead-letters";
import { deleteExpiredWaits } from "../d1/waits";
import type { Env } from "../env";
import { pruneEvents } from "../events/store";
import { pruneListing } from "../listing/store";
import type { Retention } from "../shared/retention";

/** Rows deleted per statement: D1 holds its single writer for each, so each stays short. */
export const RETENTION_PAGE = 1000;
/** Listing shards, and event shards, asked per pass, oldest first; a shard left empty leaves its directory. */
export const RETENTION_SHARDS = 256;

export interface Deleted {
  runs: number;
  /** Listing shards were left unasked, or one had a full page deleted. */
  runsBehind: boolean;
  events: number;
  /** Event shards were left unasked, or one had a full page deleted. */
  eventsBehind: boolean;
  deadLetters: number;
  waits: number;
}

/**
 * One pass of retention at `now`: listing rows of runs ended past their
 * period (their objects delete themselves; this catches a row written
 * after), events past theirs, each in their shards, and dead letters and
 * waits in D1, a page of each. Answers how many of each went; a full page
 * means more are left. The id index deletes its own ids by alarm.
 */
export async function applyRetention(env: Env, retention: Retention, now: number, page = RETENTION_PAGE): Promise<Deleted> {
  const before = { completed: now - retention.completed, failed: now - retention.failed, cancelled: now - retention.cancelled };
  const { deleted: runs, behind: runsBehind } = await pruneListing(env, before, page, RETENTION_SHARDS);
  // An event whose fan-out failed for good stays as long as the dead letters that may replay it.
  const { deleted: events, behind: eventsBehind } = await pruneEvents(
    env,
    now - retention.events,
    now - Math.max(retention.events, retention.deadLetters),
    page,
    RETENTION_SHARDS,
  );
  const deadLetters = await deleteDeadLettersBefore(env.DB, now - retention.deadLetters, page);
  const waits = await deleteExpiredWaits(env.DB, now, page);
  return { runs, runsBehind, events, eventsBehind, deadLetters, waits };
}

/** Whether any table had a full page deleted: the sweeper should come back soon. */
export const retentionBehind = (d: Deleted, page = RETENTION_PAGE): boolean =>
  d.eventsBehind || d.deadLetters >= page || d.waits >= page || d.runsBehind;
