import { utf8Bytes } from "../../sdk/json";
import type { EventPayload } from "../../sdk/protocol";
import type { Env } from "../env";
import { type EventMessage, INLINE_EVENT_MAX_BYTES, type StoredEvent } from "../fanout/message";
import { sendAll } from "../shared/queue-batches";
import { ulid } from "../shared/ulid";
import { type IdSeed, seededEventId } from "./id-seed";

// One statement for the whole request: each event is inserted, or refreshed
// when its id was last accepted before the dedupe window; RETURNING names the
// ones accepted now. Ids seen inside the window (in this request too) are left
// untouched and start nothing.
const UPSERT_EVENTS = `
INSERT INTO events (id, name, payload, ts, accepted_at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?2 FROM json_each(?1) WHERE true
ON CONFLICT(id) DO UPDATE SET
  name = excluded.name, payload = excluded.payload, ts = excluded.ts,
  accepted_at = excluded.accepted_at, dispatched_at = NULL, sweeps = 0
WHERE events.accepted_at < ?3
RETURNING id`;

export interface AcceptResult {
  ids: string[];
  accepted: number;
}

/**
 * Makes events durable, then puts the newly accepted ones on the events
 * queue. Once D1 has them they are never lost: if the queue send fails, the
 * sweeper enqueues them later, so the caller still gets its ids.
 */
export async function acceptEvents(
  env: Env,
  payloads: EventPayload[],
  dedupeWindowMs: number,
  seed?: IdSeed,
  now = Date.now(),
): Promise<AcceptResult> {
  const ids = await Promise.all(payloads.map((p, i) => p.id ?? (seed ? seededEventId(seed, i) : ulid(now))));
  const events: StoredEvent[] = payloads.map((p, i) => ({
    id: ids[i]!,
    name: p.name,
    data: p.data ?? {},
    ts: p.ts ?? now,
    ...(p.user ? { user: p.user } : {}),
    ...(p.v ? { v: p.v } : {}),
  }));
  const texts = events.map((e) => JSON.stringify(e));
  const rows = events.map((e, i) => [e.id, e.name, texts[i], e.ts]);
  const result = await env.DB.prepare(UPSERT_EVENTS)
    .bind(JSON.stringify(rows), now, now - dedupeWindowMs)
    .all<{ id: string }>();
  const fresh = new Set(result.results.map((r) => r.id));

  const messages: EventMessage[] = [];
  events.forEach((event, i) => {
    if (!fresh.delete(event.id)) return; // duplicate, or a repeat of an id earlier in this request
    const inline = utf8Bytes(texts[i] ?? "") <= INLINE_EVENT_MAX_BYTES;
    messages.push({ v: 1, id: event.id, acceptedAt: now, ...(inline ? { event } : {}) });
  });
  if (messages.length > 0) {
    try {
      await sendAll(env.EVENTS, messages);
    } catch (e) {
      console.error(`stepflare: events queue send failed; ${messages.length} event(s) left for the sweeper:`, (e as Error).message);
    }
  }
  return { ids: events.map((e) => e.id), accepted: messages.length };
}
