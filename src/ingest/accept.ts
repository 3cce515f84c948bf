import { type EventPayload, utf8Bytes } from "../../sdk/internal";
import { eventRow, upsertEvents } from "../d1/events";
import { MAX_BOUND_BYTES } from "../d1/row-chunks";
import type { Env } from "../env";
import { type EventMessage, INLINE_EVENT_MAX_BYTES, type StoredEvent } from "../messages/events";
import type { Written } from "../shared/group-commit";
import { HttpError } from "../shared/http-error";
import { sendAll } from "../shared/queue-batches";
import { ulid } from "../shared/ulid";
import { type IdSeed, seededEventId } from "./id-seed";

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
  const rows = events.map((e, i) => eventRow(e.id, e.name, texts[i]!));
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
  const fresh = await upsertEvents(
    env.DB,
    requests.length === 1 ? requests[0]!.rows : requests.flatMap((r) => r.rows),
    requests.reduce((n, r) => n + r.chars, 0),
    now,
    now - dedupeWindowMs,
  );
  afterStatement();

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
