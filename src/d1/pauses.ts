/**
 * The `function_pauses` table: one row per paused function. Events for a
 * paused function start no runs (the fan-out lists them skipped,
 * `function_paused`). All of its SQL is here.
 */

/** Every paused function, with when it was paused. */
export async function pausedFunctions(db: D1Database): Promise<Map<string, number>> {
  const rows = await db.prepare("SELECT function_id, paused_at FROM function_pauses").all<{ function_id: string; paused_at: number }>();
  return new Map(rows.results.map((r) => [r.function_id, Number(r.paused_at)]));
}

/** Pauses a function, keeping the time of a pause already in force; answers when it was paused. */
export async function pauseFunction(db: D1Database, functionId: string, now: number): Promise<number> {
  const row = await db
    .prepare(
      "INSERT INTO function_pauses (function_id, paused_at) VALUES (?1, ?2) ON CONFLICT(function_id) DO UPDATE SET paused_at = paused_at RETURNING paused_at",
    )
    .bind(functionId, now)
    .first<{ paused_at: number }>();
  return Number(row?.paused_at ?? now);
}

/** Resumes a function; answers whether it was paused. */
export async function resumeFunction(db: D1Database, functionId: string): Promise<boolean> {
  const result = await db.prepare("DELETE FROM function_pauses WHERE function_id = ?1").bind(functionId).run();
  return result.meta.changes > 0;
}
