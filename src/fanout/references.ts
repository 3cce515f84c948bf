import type { EngineConfig } from "../config";
import { loadEvents } from "../d1/events";
import type { Env } from "../env";
import { type EventMessage, type StoredEvent, storedEventSchema } from "../messages/events";
import { deleteBodies, getBody } from "../r2/event-bodies";
import { storeArrivals } from "./arrivals";
import type { Item } from "./item";

/** An item ready to fan out, with its event; none when it is not stored (the item is then retried). */
export type Ready = { item: Item; event: StoredEvent | undefined };

/**
 * The events of one wave of messages carried by reference. A body in R2 is
 * read and stored in D1 like an inline arrival (its id checked against the
 * dedupe window), and its object deleted once D1 holds it. A message whose
 * object is gone was stored before (this is a redelivery after the delete):
 * it is read from D1 like a message without an object, and if D1 holds
 * another acceptance of its id, it was a duplicate and is acknowledged.
 */
export async function resolveWave(env: Env, config: EngineConfig, wave: Item[]): Promise<Ready[]> {
  const bucket = env.EVENT_BODIES;
  const inR2 = wave.filter((i) => i.body.bodyKey);
  const bodies = await Promise.all(inR2.map((i) => (bucket ? getBody(bucket, i.body.bodyKey!) : null)));
  const arrivals: Item[] = [];
  const fromD1 = wave.filter((i) => !i.body.bodyKey);
  for (const [n, item] of inR2.entries()) {
    const text = bodies[n];
    if (text === null || text === undefined) {
      fromD1.push(item);
      continue;
    }
    const parsed = storedEventSchema.safeParse(safeJson(text));
    if (parsed.success && parsed.data.id === item.body.id) arrivals.push({ msg: item.msg, body: { ...item.body, event: parsed.data } });
    else {
      console.error(`stepflare: event body ${item.body.bodyKey} is unreadable; its message will be retried toward the dead letters`);
      item.msg.retry();
    }
  }
  const { items: stored, stored: held } = await storeArrivals(env, config, arrivals);
  if (bucket)
    await deleteBodies(
      bucket,
      held.map((i) => i.body.bodyKey!),
    );
  const ready: Ready[] = stored.map((item) => ({ item, event: item.body.event }));
  if (fromD1.length === 0) return ready;
  const { events, elsewhere } = await readEvents(
    env,
    fromD1.map((i) => i.body),
  );
  for (const item of fromD1) {
    if (bucket && item.body.bodyKey && elsewhere.has(item.body.id) && !events.has(item.body.id)) {
      console.warn(`stepflare: event ${item.body.id} (accepted ${item.body.acceptedAt}) was a duplicate, settled before; acknowledged`);
      item.msg.ack();
    } else ready.push({ item, event: events.get(item.body.id) });
  }
  return ready;
}

/**
 * Stored events by id, read from D1, each only if it is still the acceptance
 * the message names; `elsewhere` holds the ids D1 has under another acceptance.
 */
async function readEvents(env: Env, bodies: EventMessage[]): Promise<{ events: Map<string, StoredEvent>; elsewhere: Set<string> }> {
  const events = new Map<string, StoredEvent>();
  const elsewhere = new Set<string>();
  const rows = await loadEvents(
    env.DB,
    bodies.map((m) => m.id),
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const m of bodies) {
    const row = byId.get(m.id);
    if (!row) continue;
    if (Number(row.accepted_at) !== m.acceptedAt) {
      elsewhere.add(m.id);
      continue;
    }
    const parsed = storedEventSchema.safeParse(safeJson(row.payload));
    if (parsed.success) events.set(m.id, parsed.data);
    else console.error(`stepflare: stored event ${m.id} is unreadable; its message will be retried toward the dead letters`);
  }
  return { events, elsewhere };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
