import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { type Acceptance, acceptanceKey } from "../events/keys";
import { claimAcceptances, dedupeOf, dropEvents, storeEvents } from "../events/store";
import type { Item } from "./item";

/** The items left to fan out, and the arrivals the event store now holds (each fresh, or a duplicate already acknowledged). */
export interface Arrived {
  items: Item[];
  stored: Item[];
}

/**
 * Claims the ids of the events that came by the queue alone and stores them,
 * both at once, before any fans out: a wait registered later then finds them
 * by its look-back. The queue holds the message until it is acknowledged, so
 * either write failing retries the same acceptance, which claims again. An id
 * accepted again within the dedupe window is a duplicate: its stored row is
 * dropped, it is acknowledged, and it starts nothing.
 */
export async function storeArrivals(env: Env, config: EngineConfig, items: Item[]): Promise<Arrived> {
  const arrivals = items.filter((i) => i.body.stored === false && i.body.event);
  if (arrivals.length === 0) return { items, stored: [] };
  const keys = new Set<string>();
  const rows = arrivals.flatMap(({ body }) => {
    const key = acceptanceKey(body.id, body.acceptedAt);
    if (keys.has(key)) return [];
    keys.add(key);
    return [{ id: body.id, name: body.event!.name, payload: JSON.stringify(body.event), acceptedAt: body.acceptedAt }];
  });
  let fresh: Set<string>;
  try {
    [fresh] = await Promise.all([
      claimAcceptances(
        env,
        rows.map((r): Acceptance => [r.id, r.acceptedAt]),
        dedupeOf(config),
      ),
      storeEvents(env, rows),
    ]);
    const duplicates = rows.filter((r) => !fresh.has(acceptanceKey(r.id, r.acceptedAt))).map((r): Acceptance => [r.id, r.acceptedAt]);
    if (duplicates.length > 0) await dropEvents(env, duplicates);
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
