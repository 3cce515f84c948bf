import { utf8Bytes } from "../../sdk/json";
import type { EventPayload } from "../../sdk/protocol";
import type { Env } from "../env";
import { type EventMessage, INLINE_EVENT_MAX_BYTES, type StoredEvent } from "../fanout/message";
import { sendAll } from "../shared/queue-batches";
import { ulid } from "../shared/ulid";
import { type IdSeed, seededEventId } from "./id-seed";

// One statement for every request in the group: each event is inserted, or
// refreshed when its id was last accepted before the dedupe window; RETURNING
// names the ones accepted now. Ids seen inside the window (in this statement
// too) are left untouched and start nothing.
const UPSERT_EVENTS = `
INSERT INTO events (id, name, payload, ts, accepted_at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?2 FROM json_each(?1) WHERE true
ON CONFLICT(id) DO UPDATE SET
  name = excluded.name, payload = excluded.payload, ts = excluded.ts,
  accepted_at = excluded.accepted_at, dispatched_at = NULL, sweeps = 0
WHERE events.accepted_at < ?3
RETURNING id`;

/** One request's events, with their ids settled, ready to be written. */
export interface PreparedEvents {
  events: StoredEvent[];
  texts: string[];
  /** The request's rows as bound to the statement (JSON), also its size in the group. */
  rowsJson: string;
}

export interface AcceptResult {
  ids: string[];
  accepted: number;
}

/** Settles each event's id and timestamp, and serialises it once. */
export async function prepareEvents(payloads: EventPayload[], seed?: IdSeed, now = Date.now()): Promise<PreparedEvents> {
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
  const rowsJson = JSON.stringify(events.map((e, i) => [e.id, e.name, texts[i], e.ts]));
  return { events, texts, rowsJson };
}

/**
 * Makes the events of one or more requests durable in one D1 statement, then
 * puts the newly accepted ones on the events queue. Once D1 has them they are
 * never lost: if the queue send fails, the sweeper enqueues them later, so
 * each caller still gets its ids. An id repeated across the requests is
 * accepted for the first and a duplicate for the rest.
 */
export async function writeEvents(
  env: Env,
  requests: PreparedEvents[],
  dedupeWindowMs: number,
  afterStatement: () => void = () => {},
  now = Date.now(),
): Promise<AcceptResult[]> {
  const rows =
    requests.length === 1
      ? requests[0]!.rowsJson
      : `[${requests
          .map((r) => r.rowsJson.slice(1, -1))
          .filter(Boolean)
          .join(",")}]`;
  const result = await env.DB.prepare(UPSERT_EVENTS)
    .bind(rows, now, now - dedupeWindowMs)
    .all<{ id: string }>();
  afterStatement();
  const fresh = new Set(result.results.map((r) => r.id));

  const messages: EventMessage[] = [];
  const answers = requests.map(({ events, texts }) => {
    let accepted = 0;
    events.forEach((event, i) => {
      if (!fresh.delete(event.id)) return; // duplicate, or a repeat of an id earlier in this statement
      const inline = utf8Bytes(texts[i] ?? "") <= INLINE_EVENT_MAX_BYTES;
      messages.push({ v: 1, id: event.id, acceptedAt: now, ...(inline ? { event } : {}) });
      accepted++;
    });
    return { ids: events.map((e) => e.id), accepted };
  });
  if (messages.length > 0) {
    try {
      await sendAll(env.EVENTS, messages);
    } catch (e) {
      console.error(`stepflare: events queue send failed; ${messages.length} event(s) left for the sweeper:`, (e as Error).message);
    }
  }
  return answers;
}
