import { utf8Bytes } from "../../sdk/internal";
import type { Env } from "../env";
import { type EventMessage, INLINE_EVENT_MAX_BYTES } from "../messages/events";
import { sendAll } from "../shared/queue-batches";
import { type AcceptResult, type PreparedEvents, writeEvents } from "./accept";

/**
 * Ingest's queue path: the events queue is the durable record, and D1 is not
 * written before the answer. An event small enough to ride in its message
 * goes with `stored: false`: the events consumer stores it and checks its id
 * against the dedupe window. A larger one is written to D1 first, as on the
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
  const messages: EventMessage[] = [];
  const large: PreparedEvents = { events: [], texts: [], rows: [], chars: 0 };
  prepared.events.forEach((event, i) => {
    const text = prepared.texts[i]!;
    if (utf8Bytes(text) <= INLINE_EVENT_MAX_BYTES) {
      messages.push({ v: 1, id: event.id, acceptedAt: now, event, stored: false });
      return;
    }
    const row = prepared.rows[i]!;
    large.events.push(event);
    large.texts.push(text);
    large.rows.push(row);
    large.chars += row.length;
  });
  const [written] = await Promise.all([
    large.events.length === 0 ? undefined : writeEvents(env, [large], dedupeWindowMs, undefined, now),
    messages.length === 0 ? undefined : sendAll(env.EVENTS, messages),
  ]);
  if (written?.after) keepAlive(written.after);
  return { ids: prepared.events.map((e) => e.id), accepted: messages.length + (written?.results[0]?.accepted ?? 0) };
}
