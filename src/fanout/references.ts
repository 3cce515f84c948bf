import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { type Acceptance, acceptanceKey } from "../events/keys";
import { claimAcceptances, dedupeOf, dropEvents, loadEvents } from "../events/store";
import { type StoredEvent, storedEventSchema } from "../messages/events";
import { deleteBodies, getBody } from "../r2/event-bodies";
import { storeArrivals } from "./arrivals";
import type { Item } from "./item";

/** An item ready to fan out, with its event; none when it is not stored (the item is then retried). */
export type Ready = { item: Item; event: StoredEvent | undefined };

/**
 * The events of one wave of messages carried by reference. A body in R2 is
 * read and stored like an inline arrival (its id claimed against the dedupe
 * window), and its object deleted once the store holds it. A message without
 * an object (stored at ingest, swept, dispatched again, or a redelivery
 * after the delete) is read from the store and its acceptance claimed: the
 * same acceptance claims again, while one whose id another acceptance holds
 * was a duplicate, and is dropped and acknowledged.
 */
export async function resolveWave(env: Env, config: EngineConfig, wave: Item[]): Promise<Ready[]> {
  const bucket = env.EVENT_BODIES;
  const inR2 = wave.filter((i) => i.body.bodyKey);
  const bodies = await Promise.all(inR2.map((i) => (bucket ? getBody(bucket, i.body.bodyKey!) : null)));
  const arrivals: Item[] = [];
  const stored = wave.filter((i) => !i.body.bodyKey);
  for (const [n, item] of inR2.entries()) {
    const text = bodies[n];
    if (text === null || text === undefined) {
      stored.push(item);
      continue;
    }
    const parsed = storedEventSchema.safeParse(safeJson(text));
    if (parsed.success && parsed.data.id === item.body.id) arrivals.push({ msg: item.msg, body: { ...item.body, event: parsed.data } });
    else {
      console.error(`stepflare: event body ${item.body.bodyKey} is unreadable; its message will be retried toward the dead letters`);
      item.msg.retry();
    }
  }
  const { items: fresh, stored: held } = await storeArrivals(env, config, arrivals);
  if (bucket)
    await deleteBodies(
      bucket,
      held.map((i) => i.body.bodyKey!),
    );
  const ready: Ready[] = fresh.map((item) => ({ item, event: item.body.event }));
  if (stored.length > 0) ready.push(...(await readStored(env, config, stored)));
  return ready;
}

/** Items whose events the store holds, each claimed; a duplicate is dropped and acknowledged. */
async function readStored(env: Env, config: EngineConfig, items: Item[]): Promise<Ready[]> {
  const acceptances = items.map(({ body }): Acceptance => [body.id, body.acceptedAt]);
  const [rows, fresh] = await Promise.all([loadEvents(env, acceptances), claimAcceptances(env, acceptances, dedupeOf(config))]);
  const duplicates = acceptances.filter((a) => !fresh.has(acceptanceKey(...a)));
  if (duplicates.length > 0) await dropEvents(env, duplicates);
  const ready: Ready[] = [];
  for (const item of items) {
    const key = acceptanceKey(item.body.id, item.body.acceptedAt);
    if (!fresh.has(key)) {
      console.warn(`stepflare: event ${item.body.id} (accepted ${item.body.acceptedAt}) was a duplicate; acknowledged`);
      item.msg.ack();
      continue;
    }
    const row = rows.get(key);
    const parsed = row && storedEventSchema.safeParse(safeJson(row.payload));
    if (parsed && !parsed.success)
      console.error(`stepflare: stored event ${item.body.id} is unreadable; its message will be retried toward the dead letters`);
    ready.push({ item, event: parsed?.success ? parsed.data : undefined });
  }
  return ready;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
