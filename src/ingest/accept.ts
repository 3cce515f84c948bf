import { type EventPayload, utf8Bytes } from "../../sdk/internal";
import type { Env } from "../env";
import { type Acceptance, acceptanceKey } from "../events/keys";
import { claimAcceptances, type Dedupe, dropEvents, storeEvents } from "../events/store";
import { type EventMessage, INLINE_EVENT_MAX_BYTES, type StoredEvent } from "../messages/events";
import type { Written } from "../shared/group-commit";
import { HttpError } from "../shared/http-error";
import { sendEvents } from "../shared/queue-shards";
import { ulid } from "../shared/ulid";
import { type IdSeed, seededEventId } from "./id-seed";

/** One event's JSON as stored, at most: SQLite in a Durable Object refuses a row over 2 MB, and the row holds more than the JSON. */
export const MAX_STORED_BYTES = 1_900_000;

/** One request's events, with their ids settled, ready to be written. */
export interface PreparedEvents {
  events: StoredEvent[];
  /** Each event's JSON, as stored. */
  texts: string[];
  /** UTF-16 units of all texts: the request's size in a group. */
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
  let chars = 0;
  texts.forEach((text, i) => {
    chars += text.length;
    const bytes = text.length * 3 > MAX_STORED_BYTES ? utf8Bytes(text) : 0;
    if (bytes > MAX_STORED_BYTES) {
      throw new HttpError(
        413,
        "payload_too_large",
        `event ${i} is ${bytes} bytes as stored (its JSON with id and timestamp), over the limit of ${MAX_STORED_BYTES} bytes`,
      );
    }
  });
  return { events, texts, chars };
}

/**
 * Makes the events of one or more requests durable in the event store and
 * answers each request's ids; `after` is the send of the newly accepted ones
 * to the events queue, which the caller keeps alive (`waitUntil`) but need
 * not wait for. The events are stored first, then their ids claimed: once
 * stored they are never lost (if the claim or the send fails, the sweeper
 * enqueues them, and the consumer claims them). A duplicate's stored row is
 * dropped. An id repeated across the requests is accepted for the first and
 * a duplicate for the rest.
 */
export async function writeEvents(
  env: Env,
  requests: PreparedEvents[],
  dedupe: Dedupe,
  afterStatement: () => void = () => {},
  now = Date.now(),
): Promise<Written<AcceptResult>> {
  const rows = requests.flatMap(({ events, texts }) =>
    events.map((e, i) => ({ id: e.id, name: e.name, payload: texts[i]!, acceptedAt: now })),
  );
  await storeEvents(env, rows);
  const fresh = await claimAcceptances(
    env,
    rows.map((r): Acceptance => [r.id, now]),
    dedupe,
  );
  afterStatement();
  const duplicates = [...new Set(rows.map((r) => r.id))].filter((id) => !fresh.has(acceptanceKey(id, now)));
  if (duplicates.length > 0) {
    await dropEvents(
      env,
      duplicates.map((id): Acceptance => [id, now]),
    ).catch((e: Error) =>
      console.error(`stepflare: dropping ${duplicates.length} duplicate event(s) failed; the sweeper will:`, e.message),
    );
  }

  const messages: EventMessage[] = [];
  const answers = requests.map(({ events, texts }) => {
    let accepted = 0;
    events.forEach((event, i) => {
      if (!fresh.delete(acceptanceKey(event.id, now))) return; // duplicate, or a repeat of an id earlier in this write
      const inline = utf8Bytes(texts[i] ?? "") <= INLINE_EVENT_MAX_BYTES;
      messages.push({ v: 1, id: event.id, acceptedAt: now, ...(inline ? { event } : {}) });
      accepted++;
    });
    return { ids: events.map((e) => e.id), accepted };
  });
  if (messages.length === 0) return { results: answers };
  const after = sendEvents(env, messages).catch((e: Error) => {
    console.error(`stepflare: events queue send failed; ${messages.length} event(s) left for the sweeper:`, e.message);
  });
  return { results: answers, after };
}
