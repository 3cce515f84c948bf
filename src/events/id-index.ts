import { type Acceptance, acceptanceKey } from "./keys";

/**
 * The id index held by an id shard: each event id's latest acceptance, kept
 * while an acceptance of it may still be a duplicate or be looked up by id.
 * Pure SQL over the shard's storage; the object (./object.ts) owns it.
 */

export const ID_SCHEMA = `
CREATE TABLE IF NOT EXISTS ids (
  id TEXT PRIMARY KEY,
  accepted_at INTEGER NOT NULL,
  keep_until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ids_by_expiry ON ids (keep_until);`;

// A new id is taken; a known one is taken again only by the same acceptance
// (a redelivery) or when its last acceptance is older than the window (?4).
const CLAIM = `
INSERT INTO ids (id, accepted_at, keep_until) VALUES (?1, ?2, ?3)
ON CONFLICT(id) DO UPDATE SET accepted_at = excluded.accepted_at, keep_until = max(ids.keep_until, excluded.keep_until)
WHERE ids.accepted_at = excluded.accepted_at OR ids.accepted_at < excluded.accepted_at - ?4
RETURNING accepted_at`;

/** Ids deleted per alarm; a shard with more left runs again soon. */
export const EXPIRE_PAGE = 5000;

/**
 * Claims each acceptance in order; answers the keys of those that are theirs
 * to fan out: new ids, ids last accepted before the window, and the same
 * acceptance again. The rest are duplicates. Each id is kept `keepMs` from its acceptance.
 */
export function claimIds(sql: SqlStorage, acceptances: Acceptance[], windowMs: number, keepMs: number): string[] {
  const fresh: string[] = [];
  for (const [id, acceptedAt] of acceptances) {
    if (sql.exec(CLAIM, id, acceptedAt, acceptedAt + keepMs, windowMs).toArray().length > 0) fresh.push(acceptanceKey(id, acceptedAt));
  }
  return fresh;
}

/** When this id was last accepted, or null when the index no longer holds it. */
export function acceptanceOf(sql: SqlStorage, id: string): number | null {
  const [row] = sql.exec<{ accepted_at: number }>("SELECT accepted_at FROM ids WHERE id = ?", id).toArray();
  return row ? Number(row.accepted_at) : null;
}

/** Deletes up to a page of ids kept until before `now`; answers how many went and the next time one is due, if any. */
export function expireIds(sql: SqlStorage, now: number): { deleted: number; next: number | null } {
  const deleted = sql
    .exec(
      "DELETE FROM ids WHERE id IN (SELECT id FROM ids WHERE keep_until <= ? ORDER BY keep_until LIMIT ?) RETURNING id",
      now,
      EXPIRE_PAGE,
    )
    .toArray().length;
  const [row] = sql.exec<{ t: number | null }>("SELECT min(keep_until) AS t FROM ids").toArray();
  return { deleted, next: row?.t === null || row?.t === undefined ? null : Number(row.t) };
}
