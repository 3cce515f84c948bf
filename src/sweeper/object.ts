import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { EventMessage } from "../fanout/message";
import { sendAll } from "../shared/queue-batches";

const SWEEP_EVERY_MS = 30_000;
const STALE_AFTER_MS = 30_000;
const SWEEP_LIMIT = 1000;
/** An event still undispatched after this many sweeps has failed in fan-out; its messages are in the dead letters. */
const MAX_SWEEPS = 5;

// Claims the stale undispatched events (counting the sweep) and answers them in one statement.
const CLAIM_UNDISPATCHED = `
UPDATE events SET sweeps = sweeps + 1
WHERE id IN (
  SELECT id FROM events WHERE dispatched_at IS NULL AND accepted_at < ?1 AND sweeps < ?3 ORDER BY accepted_at LIMIT ?2
)
RETURNING id, accepted_at`;

/**
 * One object per deployment that re-enqueues events accepted but not yet
 * fanned out, so an event survives a lost queue message or a local restart
 * (local queues are in memory). Its alarm re-arms itself while it runs.
 */
export class SweeperObject extends DurableObject<Env> {
  /** Arms the sweep if it is not armed. Cheap; called by ingest once per isolate. */
  async ensure(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  /** Re-enqueues stale undispatched events; answers how many. */
  async sweep(now = Date.now()): Promise<number> {
    const rows = await this.env.DB.prepare(CLAIM_UNDISPATCHED)
      .bind(now - STALE_AFTER_MS, SWEEP_LIMIT, MAX_SWEEPS)
      .all<{ id: string; accepted_at: number }>();
    const messages: EventMessage[] = rows.results.map((r) => ({ v: 1, id: r.id, acceptedAt: Number(r.accepted_at) }));
    if (messages.length > 0) await sendAll(this.env.EVENTS, messages);
    return messages.length;
  }

  override async alarm(): Promise<void> {
    try {
      const n = await this.sweep();
      if (n > 0) console.warn(`stepflare: sweeper re-enqueued ${n} event(s) that were accepted but not fanned out`);
    } finally {
      await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
    }
  }
}
