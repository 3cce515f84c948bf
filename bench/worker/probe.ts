import { DurableObject } from "cloudflare:workers";

/**
 * The platform floor under "one Durable Object per run": a SQLite-backed
 * object that creates one table and writes one row, and nothing else. Both
 * Stepflare (a run object per run) and Workflows (an engine object per
 * instance) pay at least this for every run.
 */
export class BenchProbe extends DurableObject {
  async touch(i: number): Promise<number> {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (v INTEGER)");
    this.ctx.storage.sql.exec("INSERT INTO t (v) VALUES (?)", i);
    return i;
  }
}
