/**
 * The `waits` table: one row per pending step.waitForEvent, so an event
 * finds the runs waiting for it by its name and the value of each `match`
 * path in use, without looking at any other wait.
 */

export interface WaitRow {
  runId: string;
  stepKey: string;
  name: string;
  matchPath: string;
  matchValue: string;
  expiresAt: number;
}

export async function putWait(db: D1Database, w: WaitRow): Promise<void> {
  await db
    .prepare(`INSERT OR REPLACE INTO waits (run_id, step_key, name, match_path, match_value, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`)
    .bind(w.runId, w.stepKey, w.name, w.matchPath, w.matchValue, w.expiresAt)
    .run();
}

export async function deleteWait(db: D1Database, runId: string, stepKey: string): Promise<void> {
  await db.prepare("DELETE FROM waits WHERE run_id = ?1 AND step_key = ?2").bind(runId, stepKey).run();
}

/** The `match` paths waits on each of these event names use ('' for waits with none), in one query; a name no wait awaits is absent. */
export async function matchPathsOf(db: D1Database, names: string[]): Promise<Map<string, string[]>> {
  const rows = await db
    .prepare("SELECT DISTINCT name, match_path FROM waits WHERE name IN (SELECT value FROM json_each(?1))")
    .bind(JSON.stringify(names))
    .all<{ name: string; match_path: string }>();
  const paths = new Map<string, string[]>();
  for (const r of rows.results) {
    const list = paths.get(r.name);
    if (list) list.push(r.match_path);
    else paths.set(r.name, [r.match_path]);
  }
  return paths;
}

/** The unexpired waits for this name whose `match` path holds this value. */
export async function waitsFor(db: D1Database, name: string, matchPath: string, matchValue: string, now: number) {
  const rows = await db
    .prepare("SELECT run_id, step_key FROM waits WHERE name = ?1 AND match_path = ?2 AND match_value = ?3 AND expires_at > ?4")
    .bind(name, matchPath, matchValue, now)
    .all<{ run_id: string; step_key: string }>();
  return rows.results.map((r) => ({ runId: r.run_id, stepKey: r.step_key }));
}

/** Deletes up to `limit` waits past their timeout (their run took no event by then, or ended); answers how many. */
export async function deleteExpiredWaits(db: D1Database, now: number, limit: number): Promise<number> {
  const r = await db
    .prepare("DELETE FROM waits WHERE rowid IN (SELECT rowid FROM waits WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)")
    .bind(now, limit)
    .run();
  return r.meta.changes ?? 0;
}
