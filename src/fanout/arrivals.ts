import type { EngineConfig } from "../config";
import { acceptanceKey, queuedEventRow, storeQueued } from "../d1/events";
import type { Env } from "../env";
import type { Item } from "./item";

/** The items left to fan out, and the arrivals D1 now holds (each fresh, or a duplicate already acknowledged). */
export interface Arrived {
  items: Item[];
  stored: Item[];
}

/**
 * Stores the events that came by the queue alone, in one statement, before
 * any fans out: a wait registered later then finds them by its look-back. An
 * id accepted again within the dedupe window is a duplicate: acknowledged,
 * and it starts nothing. If the statement fails, every arrival is retried.
 */
export async function storeArrivals(env: Env, config: EngineConfig, items: Item[]): Promise<Arrived> {
  const arrivals = items.filter((i) => i.body.stored === false && i.body.event);
  if (arrivals.length === 0) return { items, stored: [] };
  const rows = arrivals.map(({ body }) => queuedEventRow(body.id, body.event!.name, JSON.stringify(body.event), body.acceptedAt));
  let fresh: Set<string>;
  try {
    fresh = await storeQueued(
      env.DB,
      rows,
      rows.reduce((n, r) => n + r.length, 0),
      config.limits.dedupeWindowMs,
    );
  } catch (e) {
    console.error(`stepflare: storing ${arrivals.length} queued event(s) failed; retrying them:`, (e as Error).message);
    for (const i of arrivals) i.msg.retry();
    return { items: items.filter((i) => !arrivals.includes(i)), stored: [] };
  }
  const arriving = new Set(arrivals);
  const left = items.filter((i) => {
    if (!arriving.has(i) || fresh.has(acceptanceKey(i.body.id, i.body.acceptedAt))) return true;
    i.msg.ack(); // a duplicate of an id accepted within the dedupe window
    return false;
  });
  return { items: left, stored: arrivals };
}
