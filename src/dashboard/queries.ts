/**
 * The SQL the functions and events listings and the dashboard add, in one
 * place: run counts by function and status, the events listing's select, and
 * how many runs a bulk replay's filter selects.
 */

export const EVENT_LIST_SELECT = "SELECT id, name, ts, accepted_at, dispatched_at FROM events";

export interface EventListRow {
  id: string;
  name: string;
  ts: number;
  accepted_at: number;
  dispatched_at: number | null;
}

/** Runs listed in D1 per function and status: one pass over the runs table. */
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

export interface DeadLetterFilter {
  functionId?: string;
  since?: number;
  until?: number;
  code?: string;
}

/** How many runs `POST /api/v1/dead-letters/replay` with this filter would replay (its unreplayed run dead letters). */
export async function replayableRunCount(db: D1Database, f: DeadLetterFilter): Promise<number> {
  const args: unknown[] = [];
  const where = ["source = 'run'", "replayed_at IS NULL", "run_id IS NOT NULL"];
  if (f.functionId) where.push(`function_id = ?${args.push(f.functionId)}`);
  if (f.since !== undefined) where.push(`failed_at >= ?${args.push(f.since)}`);
  if (f.until !== undefined) where.push(`failed_at < ?${args.push(f.until)}`);
  if (f.code) where.push(`error_code = ?${args.push(f.code)}`);
  const row = await db
    .prepare(`SELECT count(DISTINCT run_id) AS n FROM dead_letters WHERE ${where.join(" AND ")}`)
    .bind(...args)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
