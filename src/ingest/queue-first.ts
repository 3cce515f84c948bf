import { utf8Bytes } from "../../sdk/internal";
import type { Env } from "../env";
import {
  type EventMessage,
  INLINE_EVENT_MAX_BYTES,
  PACK_MAX_BYTES,
  PACK_MAX_EVENTS,
  type PackedEventsMessage,
  type StoredEvent,
} from "../messages/events";
import { sendAll } from "../shared/queue-batches";
import { type AcceptResult, type PreparedEvents, writeEvents } from "./accept";

/**
 * Ingest's queue path: the events queue is the durable record, and D1 is not
 * written before the answer. Events small enough to ride in a message go
 * with `stored: false`, packed up to ten to a message: the events consumer
 * stores them and checks their ids against the dedupe window. A larger one is written to D1 first, as on the
 * store path, and travels by reference. Resolves once the queue has every
 * message; `keepAlive` holds the large events' own send.
 */
export async function queueEvents(
  env: Env,
  prepared: PreparedEvents,
  dedupeWindowMs: number,
  keepAlive: (p: Promise<unknown>) => void,
  now = Date.now(),
): Promise<AcceptResult> {
  const messages: (EventMessage | PackedEventsMessage)[] = [];
  const large: PreparedEvents = { events: [], texts: [], rows: [], chars: 0 };
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
    const row = prepared.rows[i]!;
    large.events.push(event);
    large.texts.push(text);
    large.rows.push(row);
    large.chars += row.length;
  });
  seal();
  const [written] = await Promise.all([
    large.events.length === 0 ? undefined : writeEvents(env, [large], dedupeWindowMs, undefined, now),
    messages.length === 0 ? undefined : sendAll(env.EVENTS, messages),
  ]);
  if (written?.after) keepAlive(written.after);
  return { ids: prepared.events.map((e) => e.id), accepted: seen.size - large.events.length + (written?.results[0]?.accepted ?? 0) };
}
