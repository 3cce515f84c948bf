import { DurableObject } from "cloudflare:workers";
import { countSweep, staleUndispatched } from "../d1/events";
import { type ListingCursor, RUN_MISSING } from "../d1/listing";
import type { Env } from "../env";
import type { EventMessage } from "../messages/events";
import { sendAll } from "../shared/queue-batches";
import { reconcileListing } from "./listing";

const LISTING_CURSOR = "listing-cursor";

const SWEEP_EVERY_MS = 30_000;
const STALE_AFTER_MS = 30_000;
const SWEEP_LIMIT = 1000;

/**
 * One object per deployment that re-enqueues events accepted but not yet
 * fanned out, so an event survives a lost queue message or a local restart
 * (local queues are in memory), and walks the runs listed as running so a
 * listing row lost the same way is sent again (./listing.ts). Its alarm
 * re-arms itself while it runs.
 */
export class SweeperObject extends DurableObject<Env> {
  /** Arms the sweep if it is not armed. Cheap; called by ingest once per isolate. */
  async ensure(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  /**
   * Re-enqueues stale undispatched events; answers how many. A sweep counts
   * toward an event's limit only once its messages are on the queue, so a
   * queue outage, however long, never uses up the sweeps of events it kept
   * from being delivered.
   */
  async sweep(now = Date.now()): Promise<number> {
    const stale = await staleUndispatched(this.env.DB, now - STALE_AFTER_MS, SWEEP_LIMIT);
    const messages: EventMessage[] = stale.map(([id, acceptedAt]) => ({ v: 1, id, acceptedAt }));
    if (messages.length === 0) return 0;
    await sendAll(this.env.EVENTS, messages);
    await countSweep(this.env.DB, stale);
    return messages.length;
  }

  /**
   * Checks the next page of runs listed as running against their objects;
   * answers how many re-sent their row and how many rows were marked missing.
   */
  async reconcile(now = Date.now()): Promise<{ resent: number; missing: number }> {
    const cursor = await this.ctx.storage.get<ListingCursor>(LISTING_CURSOR);
    const { resent, missing, next } = await reconcileListing(this.env, cursor, now);
    await this.ctx.storage.put(LISTING_CURSOR, next);
    return { resent, missing };
  }

  override async alarm(): Promise<void> {
    try {
      const n = await this.sweep();
      if (n > 0) console.warn(`stepflare: sweeper re-enqueued ${n} event(s) that were accepted but not fanned out`);
    } catch (e) {
      console.error("stepflare: sweeping undispatched events failed:", e instanceof Error ? e.message : String(e));
    }
    try {
      const { resent, missing } = await this.reconcile();
      if (resent > 0) console.warn(`stepflare: sweeper had ${resent} run(s) listed as running send their newer listing row`);
      if (missing > 0)
        console.warn(`stepflare: sweeper marked ${missing} run(s) listed as running whose object holds no run ${RUN_MISSING}`);
    } catch (e) {
      console.error("stepflare: checking the runs listed as running failed:", e instanceof Error ? e.message : String(e));
    } finally {
      await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
    }
  }
}
