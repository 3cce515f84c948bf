import type { ShardPlace } from "../listing/keys";

/**
 * The directories of the time-bucketed shard objects: `listing_shards` for
 * the run listing (src/listing/), `event_shards` for the event store
 * (src/events/). Each names the shard objects that hold rows, so a reader
 * asks those and no others. A shard notes itself before its first row and
 * forgets itself when retention leaves it empty. All of their SQL is here.
 */
export type ShardDirectory = "listing_shards" | "event_shards";

export async function noteShard(db: D1Database, dir: ShardDirectory, p: ShardPlace): Promise<void> {
  await db.prepare(`INSERT OR IGNORE INTO ${dir} (bucket, shard) VALUES (?1, ?2)`).bind(p.bucket, p.shard).run();
}

export async function forgetShard(db: D1Database, dir: ShardDirectory, p: ShardPlace): Promise<void> {
  await db.prepare(`DELETE FROM ${dir} WHERE bucket = ?1 AND shard = ?2`).bind(p.bucket, p.shard).run();
}

/** The shards noted in buckets `from` to `to` (inclusive), newest bucket first or oldest first. */
export async function shardsBetween(
  db: D1Database,
  dir: ShardDirectory,
  from: number,
  to: number,
  order: "newest" | "oldest",
): Promise<ShardPlace[]> {
  const by = order === "newest" ? "DESC" : "ASC";
  const rows = await db
    .prepare(`SELECT bucket, shard FROM ${dir} WHERE bucket >= ?1 AND bucket <= ?2 ORDER BY bucket ${by}, shard`)
    .bind(from, to)
    .all<{ bucket: number; shard: number }>();
  return rows.results.map((r) => ({ bucket: Number(r.bucket), shard: Number(r.shard) }));
}

/** Every shard noted, oldest bucket first. */
export const allShards = (db: D1Database, dir: ShardDirectory): Promise<ShardPlace[]> =>
  shardsBetween(db, dir, 0, Number.MAX_SAFE_INTEGER, "oldest");
