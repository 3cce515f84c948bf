import type { Env } from "../env";
import type { EventMessage, PackedEventsMessage } from "../messages/events";
import { sendSharded } from "./queue-shards";

export { shardOf } from "./queue-shards";

type EventsBody = EventMessage | PackedEventsMessage;

const firstId = (m: EventsBody): string => ("events" in m ? m.events[0]!.id : m.id);

/** Sends every message to its shard of the events queue (`EVENTS`, `EVENTS_1`, ...: ./queue-shards.ts), by its (first) event's id, chunked within sendBatch's limits. */
export const sendEvents = (env: Env, messages: EventsBody[]): Promise<void> => sendSharded(env, "EVENTS", messages, firstId);
