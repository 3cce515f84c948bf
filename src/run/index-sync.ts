import type { RunState } from "./types";

// Monotonic upsert: an update only lands if it is newer than what the index
// holds, so a late or repeated sync can never move a run backwards.
const UPSERT_RUN = `
INSERT INTO runs (id, function_id, event_id, status, started_at, ended_at, error_code, version)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT(id) DO UPDATE SET
  status = excluded.status, ended_at = excluded.ended_at, error_code = excluded.error_code, version = excluded.version
WHERE excluded.version > runs.version`;

/** Writes the run's listing row to the D1 index. */
export async function syncRunIndex(db: D1Database, run: RunState, eventId: string): Promise<void> {
  await db
    .prepare(UPSERT_RUN)
    .bind(run.id, run.functionId, eventId, run.status, run.startedAt, run.endedAt, run.error?.code ?? null, run.version)
    .run();
}
