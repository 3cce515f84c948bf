import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { type Acceptance, acceptanceKey } from "../events/keys";
import { claimAcceptances, dedupeOf, storeEvents } from "../events/store";
import type { Item } from "./item";

/** The items left to fan out, and the arrivals the event store now holds (each fresh, or a duplicate already acknowledged). */
export interface Arrived {
  items: Item[];
  stored: Item[];
}

/**
 * Claims the ids of the events that came by the queue alone, then stores the
 * fresh ones, before any fans out: a wait registered later then finds them
 * by its look-back. An id accepted again within the dedupe window is a
 * duplicate: acknowledged, and it starts nothing. A redelivery claims the
 * same acceptance again and stores nothing new. If a write fails, every
 * arrival is retried.
 */
export async function storeArrivals(env: Env, config: EngineConfig, items: Item[]): Promise<Arrived> {
  const arrivals = items.filter((i) => i.body.stored === false && i.body.event);
  if (arrivals.length === 0) return { items, stored: [] };
  let fresh: Set<string>;
  try {
    fresh = await claimAcceptances(
      env,
      arrivals.map(({ body }): Acceptance => [body.id, body.acceptedAt]),
      dedupeOf(config),
    );
    const first = new Set<string>();
    const rows = arrivals.flatMap(({ body }) => {
      const key = acceptanceKey(body.id, body.acceptedAt);
      if (!fresh.has(key) || first.has(key)) return [];
      first.add(key);
      return [{ id: body.id, name: body.event!.name, payload: JSON.stringify(body.event), acceptedAt: body.acceptedAt }];
    });
    await storeEvents(env, rows);
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
