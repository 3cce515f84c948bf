import type { ShardPlace } from "../listing/keys";
import { forgetShard, noteShard, type ShardDirectory } from "./shards";

const PLACE_TABLE = "CREATE TABLE IF NOT EXISTS place (bucket INTEGER NOT NULL, shard INTEGER NOT NULL)";

/**
 * A shard object's entry in its D1 directory (./shards.ts), kept by the
 * shard: noted before its first row, and forgotten, with all of the shard's
 * storage, when it is left empty. The object notes in its own `place` table
 * that it is listed. Its writes and prunes take turns through `inTurn`: each
 * may wait on D1, and a prune must not forget a shard a write is filling.
 */
export class ShardEntry {
  #turn: Promise<unknown> = Promise.resolve();
  #noted = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly db: D1Database,
    private readonly dir: ShardDirectory,
  ) {}

  /** Lists the shard in the directory if it is not yet; call before writing its first row. */
  async note(place: ShardPlace): Promise<void> {
    if (this.#noted) return;
    const sql = this.storage.sql;
    sql.exec(PLACE_TABLE);
    if (sql.exec("SELECT 1 FROM place").toArray().length === 0) {
      await noteShard(this.db, this.dir, place);
      sql.exec("INSERT INTO place (bucket, shard) VALUES (?, ?)", place.bucket, place.shard);
    }
    this.#noted = true;
  }

  /** Takes the shard out of the directory, then deletes all of its storage. */
  async forget(place: ShardPlace): Promise<void> {
    this.#noted = false;
    await forgetShard(this.db, this.dir, place);
    await this.storage.deleteAll();
  }

  /** Runs `work` after every write or prune before it. */
  inTurn<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#turn.then(work, work);
    this.#turn = next.catch(() => undefined);
    return next;
  }
}
