import { deleteDeadLettersBefore } from "../d1/dead-letters";
import { deleteEventsBefore } from "../d1/events";
import { deleteEndedBefore } from "../d1/listing";
import { deleteExpiredWaits } from "../d1/waits";
import type { Env } from "../env";
import type { Retention } from "../shared/retention";

/** Rows deleted per statement: D1 holds its single writer for each, so each stays short. */
export const RETENTION_PAGE = 1000;

export interface Deleted {
  runs: number;
  events: number;
  deadLetters: number;
  waits: number;
}

/**
 * One pass of D1's retention at `now`: listing rows of runs ended past their
 * period (their objects delete themselves; this catches a row written after),
 * events, dead letters and waits past theirs, a page of each. Answers how
 * many of each went; a full page means more are left.
 */
export async function applyRetention(env: Env, retention: Retention, now: number, page = RETENTION_PAGE): Promise<Deleted> {
  const runs =
    (await deleteEndedBefore(env.DB, "completed", now - retention.completed, page)) +
    (await deleteEndedBefore(env.DB, "skipped", now - retention.completed, page)) +
    (await deleteEndedBefore(env.DB, "failed", now - retention.failed, page)) +
    (await deleteEndedBefore(env.DB, "cancelled", now - retention.cancelled, page));
  // An event whose fan-out failed for good stays as long as the dead letters that may replay it.
  const events = await deleteEventsBefore(env.DB, now - retention.events, now - Math.max(retention.events, retention.deadLetters), page);
  const deadLetters = await deleteDeadLettersBefore(env.DB, now - retention.deadLetters, page);
  const waits = await deleteExpiredWaits(env.DB, now, page);
  return { runs, events, deadLetters, waits };
}

/** Whether any table had a full page deleted: the sweeper should come back soon. */
export const retentionBehind = (d: Deleted, page = RETENTION_PAGE): boolean =>
  d.events >= page || d.deadLetters >= page || d.waits >= page || d.runs >= page;
