import { DurableObject } from "cloudflare:workers";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import type { Acceptance } from "../events/keys";
import { countSweep, staleEvents } from "../events/store";
import { bucketOfTime } from "../listing/keys";
import { RUN_MISSING } from "../listing/rows";
import type { ListingCursor } from "../listing/store";
import type { EventMessage } from "../messages/events";
import { sendEvents } from "../shared/queue-shards";
import { reconcileListing } from "./listing";
import { applyRetention, type Deleted, retentionBehind } from "./retention";

const LISTING_CURSOR = "listing-cursor";
/** The oldest hour whose event shards may hold an event to sweep: older ones are not asked again. */
const SWEEP_FROM = "sweep-from";

const SWEEP_EVERY_MS = 30_000;
const STALE_AFTER_MS = 30_000;
/** Events re-enqueued per page: a read and a write of each event shard that holds some, and ten queue batches. */
const SWEEP_PAGE = 1000;
/**
 * Pages per alarm, of events and of listing rows: a page of each is about 12
 * and at most 133 subrequests (32 listing shards, 100 run objects, the
 * directory), so an alarm stays within 1,000 subrequests. A sweeper still behind after them runs again at once.
 */
const SWEEP_PAGES = 20;
const RECONCILE_PAGES = 5;
const BEHIND_AGAIN_MS = 1_000;

/**
 * One object per deployment that re-enqueues events accepted but not yet
 * fanned out, so an event survives a lost queue message or a local restart
 * (local queues are in memory), and walks the runs listed as not ended so a
 * listing row lost the same way is sent again (./listing.ts). Its alarm
 * re-arms itself while it runs.
 */
export class SweeperObject extends DurableObject<Env> {
  readonly #config: EngineConfig;

  constructor(ctx: DurableObjectState, env: Env, config: EngineConfig) {
    super(ctx, env);
    this.#config = config;
  }

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
  async sweep(now = Date.now(), pageSize = SWEEP_PAGE): Promise<number> {
    return (await this.#sweepPages(now, pageSize)).swept;
  }

  /**
   * Re-enqueues page after page of stale events, each page after the last one's
   * end, until a page comes back short (caught up) or the alarm's pages are spent (behind).
   * The walk starts at the oldest hour that held one last time, and never
   * later than the hour before this one: a queued event is stored in the hour it was accepted.
   */
  async #sweepPages(now: number, pageSize: number): Promise<{ swept: number; behind: boolean }> {
    const before = now - STALE_AFTER_MS;
    const from = Math.min((await this.ctx.storage.get<number>(SWEEP_FROM)) ?? Number.MAX_SAFE_INTEGER, bucketOfTime(before) - 1);
    let swept = 0;
    let after: Acceptance = ["", -1];
    let oldest: number | null = null;
    for (let page = 0; page < SWEEP_PAGES; page++) {
      const found = await staleEvents(this.env, from, before, pageSize, after);
      oldest ??= found.oldest;
      const stale = found.stale;
      if (stale.length > 0) {
        const messages: EventMessage[] = stale.map(([id, acceptedAt]) => ({ v: 1, id, acceptedAt }));
        await sendEvents(this.env, messages);
        await countSweep(this.env, stale);
        swept += stale.length;
      }
      if (stale.length < pageSize) {
        await this.ctx.storage.put(SWEEP_FROM, oldest ?? bucketOfTime(before));
        return { swept, behind: false };
      }
      after = stale[stale.length - 1]!;
    }
    return { swept, behind: true };
  }

  /**
   * Checks the next page of runs listed as not ended against their objects;
   * answers how many re-sent their row and how many rows were marked missing.
   */
  async reconcile(now = Date.now()): Promise<{ resent: number; missing: number }> {
    const { resent, missing } = await this.#reconcilePage(now);
    return { resent, missing };
  }

  /** One pass of D1's retention (a page of each table) at `now`: what was deleted. */
  async retain(now = Date.now(), page?: number): Promise<Deleted> {
    return applyRetention(this.env, this.#config.retention, now, page);
  }

  /** One page of the walk; `wrapped` once it reached the end and starts again from the beginning. */
  async #reconcilePage(now: number): Promise<{ resent: number; missing: number; wrapped: boolean }> {
    const cursor = await this.ctx.storage.get<ListingCursor>(LISTING_CURSOR);
    const { resent, missing, next } = await reconcileListing(this.env, cursor, now);
    await this.ctx.storage.put(LISTING_CURSOR, next);
    return { resent, missing, wrapped: next.id === "" && next.startedAt === 0 };
  }

  /**
   * Sweeps events, then walks the listing, each for several pages while it is
   * behind; a sweeper behind on either runs again a second later instead of
   * waiting its 30 s, so a backlog drains at the pages' pace, not a fixed amount per period.
   */
  override async alarm(): Promise<void> {
    let behind = false;
    try {
      const { swept, behind: more } = await this.#sweepPages(Date.now(), SWEEP_PAGE);
      behind ||= more;
      if (swept > 0) console.warn(`stepflare: sweeper re-enqueued ${swept} event(s) that were accepted but not fanned out`);
    } catch (e) {
      console.error("stepflare: sweeping undispatched events failed:", e instanceof Error ? e.message : String(e));
    }
    try {
      let resent = 0;
      let missing = 0;
      for (let page = 0; ; page++) {
        const found = await this.#reconcilePage(Date.now());
        resent += found.resent;
        missing += found.missing;
        if (found.wrapped) break;
        if (page === RECONCILE_PAGES - 1) {
          behind = true;
          break;
        }
      }
      if (resent > 0) console.warn(`stepflare: sweeper had ${resent} run(s) listed as not ended send their newer listing row`);
      if (missing > 0)
        console.warn(`stepflare: sweeper marked ${missing} run(s) listed as not ended whose object holds no run ${RUN_MISSING}`);
    } catch (e) {
      console.error("stepflare: checking the runs listed as not ended failed:", e instanceof Error ? e.message : String(e));
    }
    try {
      const deleted = await this.retain();
      behind ||= retentionBehind(deleted);
    } catch (e) {
      console.error("stepflare: deleting what is past its retention failed:", e instanceof Error ? e.message : String(e));
    } finally {
      await this.ctx.storage.setAlarm(Date.now() + (behind ? BEHIND_AGAIN_MS : SWEEP_EVERY_MS));
    }
  }
}
