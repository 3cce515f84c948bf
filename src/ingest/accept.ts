import { utf8Bytes } from "../../sdk/json";
import type { EventPayload } from "../../sdk/protocol";
import type { Env } from "../env";
import { type EventMessage, INLINE_EVENT_MAX_BYTES, type StoredEvent } from "../fanout/message";
import type { Written } from "../shared/group-commit";
import { HttpError } from "../shared/http-error";
import { sendAll } from "../shared/queue-batches";
import { chunkJsonRows, MAX_BOUND_BYTES, runChunked } from "../shared/row-chunks";
import { ulid } from "../shared/ulid";
import { type IdSeed, seededEventId } from "./id-seed";

// One statement for every request in the group (or one per chunk of rows, in
// one batch): each event is inserted, or refreshed when its id was last
// accepted before the dedupe window; RETURNING names the ones accepted now. Ids
// seen inside the window (in this write too) are left untouched and start
// nothing. Each row is `[id, name, event, ts]` with the event as JSON itself,
// not as a string holding JSON, so its text is bound once, not escaped twice.
const UPSERT_EVENTS = `
INSERT INTO events (id, name, payload, ts, accepted_at)
SELECT value ->> 0, value ->> 1, value -> 2, value ->> 3, ?2 FROM json_each(?1) WHERE true
ON CONFLICT(id) DO UPDATE SET
  name = excluded.name, payload = excluded.payload, ts = excluded.ts,
  accepted_at = excluded.accepted_at, dispatched_at = NULL, sweeps = 0
WHERE events.accepted_at < ?3
RETURNING id`;

/** One event's row as stored, at most: D1 refuses a row over 2,000,000 bytes. */
export const MAX_STORED_BYTES = MAX_BOUND_BYTES;

/** One request's events, with their ids settled, ready to be written. */
export interface PreparedEvents {
  events: StoredEvent[];
  texts: string[];
  /** Each event's row as bound to the statement (JSON). */
  rows: string[];
  /** UTF-16 units of all rows: the request's size in a group. */
  chars: number;
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
  // Cannot throw: the data came from JSON.parse, or from a schema whose output parseEvents checked as JSON.
  const texts = events.map((e) => JSON.stringify(e));
  const rows = events.map((e, i) => `[${JSON.stringify(e.id)},${JSON.stringify(e.name)},${texts[i]},${e.ts}]`);
  let chars = 0;
  rows.forEach((row, i) => {
    chars += row.length;
    const bytes = row.length * 3 > MAX_STORED_BYTES ? utf8Bytes(row) : 0;
    if (bytes > MAX_STORED_BYTES) {
      throw new HttpError(
        413,
        "payload_too_large",
        `event ${i} is ${bytes} bytes as stored (its JSON with id and timestamp), over the limit of ${MAX_STORED_BYTES} bytes`,
      );
    }
  });
  return { events, texts, rows, chars };
}

/**
 * Makes the events of one or more requests durable in one D1 statement and
 * answers each request's ids; `after` is the send of the newly accepted ones
 * to the events queue, which the caller keeps alive (`waitUntil`) but need
 * not wait for. Once D1 has them they are never lost: if the send fails, the
 * sweeper enqueues them later. An id repeated across the requests is
 * accepted for the first and a duplicate for the rest.
 */
export async function writeEvents(
  env: Env,
  requests: PreparedEvents[],
  dedupeWindowMs: number,
  afterStatement: () => void = () => {},
  now = Date.now(),
): Promise<Written<AcceptResult>> {
  const chunks = chunkJsonRows(
    requests.length === 1 ? requests[0]!.rows : requests.flatMap((r) => r.rows),
    requests.reduce((n, r) => n + r.chars, 0),
  );
  const results = await runChunked<{ id: string }>(env.DB, UPSERT_EVENTS, chunks, now, now - dedupeWindowMs);
  afterStatement();
  const fresh = new Set(results.flatMap((r) => r.results.map((row) => row.id)));

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
  if (messages.length === 0) return { results: answers };
  const after = sendAll(env.EVENTS, messages).catch((e: Error) => {
    console.error(`stepflare: events queue send failed; ${messages.length} event(s) left for the sweeper:`, e.message);
  });
  return { results: answers, after };
}
