import type { ShardPlace } from "../listing/keys";

/**
 * The directory of the run listing's shards (table `listing_shards`): which
 * shard objects hold rows, so a reader asks those and no others. Each shard
 * notes itself before its first row and forgets itself when retention leaves
 * it empty (src/listing/shard.ts). All of its SQL is here.
 */

export async function noteShard(db: D1Database, p: ShardPlace): Promise<void> {
  await db.prepare("INSERT OR IGNORE INTO listing_shards (bucket, shard) VALUES (?1, ?2)").bind(p.bucket, p.shard).run();
}

export async function forgetShard(db: D1Database, p: ShardPlace): Promise<void> {
  await db.prepare("DELETE FROM listing_shards WHERE bucket = ?1 AND shard = ?2").bind(p.bucket, p.shard).run();
}

/** The shards noted in buckets `from` to `to` (inclusive), newest bucket first or oldest first. */
export async function shardsBetween(db: D1Database, from: number, to: number, order: "newest" | "oldest"): Promise<ShardPlace[]> {
  const dir = order === "newest" ? "DESC" : "ASC";
  const rows = await db
    .prepare(`SELECT bucket, shard FROM listing_shards WHERE bucket >= ?1 AND bucket <= ?2 ORDER BY bucket ${dir}, shard`)
    .bind(from, to)
    .all<{ bucket: number; shard: number }>();
  return rows.results.map((r) => ({ bucket: Number(r.bucket), shard: Number(r.shard) }));
}

/** Every shard noted, oldest bucket first. */
export const allShards = (db: D1Database): Promise<ShardPlace[]> => shardsBetween(db, 0, Number.MAX_SAFE_INTEGER, "oldest");
