import { utf8Bytes } from "../../sdk/internal";
import type { Env } from "../env";
import type { Dedupe } from "../events/store";
import {
  type EventMessage,
  INLINE_EVENT_MAX_BYTES,
  PACK_MAX_BYTES,
  PACK_MAX_EVENTS,
  type PackedEventsMessage,
  type StoredEvent,
} from "../messages/events";
import { bodyKey, deleteBodies, putBody } from "../r2/event-bodies";
import { sendEvents } from "../shared/queue-shards";
import { type AcceptResult, type PreparedEvents, writeEvents } from "./accept";

let warnedNoBucket = false;

/**
 * Ingest's queue path: the events queue is the durable record, and nothing
 * else is written before the answer. Events small enough to ride in a message go
 * with `stored: false`, packed up to ten to a message: the events consumer
 * stores them and checks their ids against the dedupe window. A larger one
 * is put in R2 (`EVENT_BODIES`) first, and its message names the object;
 * without that bucket it is stored first, as on the store path.
 * Resolves once the queue has every message; `keepAlive` holds the rest.
 */
export async function queueEvents(
  env: Env,
  prepared: PreparedEvents,
  dedupe: Dedupe,
  keepAlive: (p: Promise<unknown>) => void,
  now = Date.now(),
): Promise<AcceptResult> {
  const messages: (EventMessage | PackedEventsMessage)[] = [];
  const large: PreparedEvents = { events: [], texts: [], chars: 0 };
  let pack: { events: StoredEvent[]; bytes: number } = { events: [], bytes: 0 };
  const seal = () => {
    const [first, ...rest] = pack.events;
    if (first)
      messages.push(
        rest.length === 0
          ? { v: 1, id: first.id, acceptedAt: now, event: first, stored: false }
          : { v: 1, acceptedAt: now, events: pack.events, stored: false },
      );
    pack = { events: [], bytes: 0 };
  };
  // An id repeated within the request is accepted for its first event only, as on the store path.
  const seen = new Set<string>();
  prepared.events.forEach((event, i) => {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    const text = prepared.texts[i]!;
    const bytes = utf8Bytes(text);
    if (bytes <= INLINE_EVENT_MAX_BYTES) {
      if (pack.events.length >= PACK_MAX_EVENTS || pack.bytes + bytes > PACK_MAX_BYTES) seal();
      pack.events.push(event);
      pack.bytes += bytes;
      return;
    }
    large.events.push(event);
    large.texts.push(text);
    large.chars += text.length;
  });
  seal();
  const bucket = env.EVENT_BODIES;
  if (!bucket && large.events.length > 0 && !warnedNoBucket) {
    warnedNoBucket = true;
    console.warn("stepflare: no EVENT_BODIES R2 binding; events over 64 KiB are stored before ingest answers (docs/deploying.md)");
  }
  const [written] = await Promise.all([
    large.events.length === 0 || bucket ? undefined : writeEvents(env, [large], dedupe, undefined, now),
    messages.length === 0 ? undefined : sendEvents(env, messages),
    large.events.length === 0 || !bucket ? undefined : sendByReference(env, bucket, large, now, keepAlive),
  ]);
  if (written?.after) keepAlive(written.after);
  const accepted = bucket ? seen.size : seen.size - large.events.length + (written?.results[0]?.accepted ?? 0);
  return { ids: prepared.events.map((e) => e.id), accepted };
}

/**
 * Puts each large event in R2, then sends the messages that name the
 * objects: a message never names an object R2 does not hold yet. If a put
 * or the send fails, the request fails (503) and the objects are deleted in
 * the background.
 */
async function sendByReference(
  env: Env,
  bucket: R2Bucket,
  large: PreparedEvents,
  now: number,
  keepAlive: (p: Promise<unknown>) => void,
): Promise<void> {
  const keys = large.events.map(() => bodyKey(now));
  try {
    await Promise.all(keys.map((key, i) => putBody(bucket, key, large.texts[i]!)));
    await sendEvents(
      env,
      large.events.map((event, i) => ({ v: 1, id: event.id, acceptedAt: now, bodyKey: keys[i]!, stored: false })),
    );
  } catch (e) {
    keepAlive(deleteBodies(bucket, keys));
    throw e;
  }
}
