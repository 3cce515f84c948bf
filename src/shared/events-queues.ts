import type { Env } from "../env";
import type { EventMessage, PackedEventsMessage } from "../messages/events";
import { fnv1a } from "./fnv";
import { sendAll } from "./queue-batches";

type EventsBody = EventMessage | PackedEventsMessage;

/**
 * The events queue and its shards, in order: `EVENTS`, then `EVENTS_1`,
 * `EVENTS_2`, ... for as long as they are bound without a gap. Each shard is
 * a queue of its own (5,000 messages/s each), consumed by the same code.
 * Read per request, as every binding is.
 */
export function eventsQueues(env: Env): Queue<EventsBody>[] {
  const queues: Queue<EventsBody>[] = [env.EVENTS];
  const bound = env as unknown as Record<string, Queue<EventsBody> | undefined>;
  for (let n = 1; ; n++) {
    const shard = bound[`EVENTS_${n}`];
    if (!shard) return queues;
    queues.push(shard);
  }
}

/** A message's shard, from its (first) event's id by FNV-1a: the same id always goes to the same shard. */
export const shardOf = (id: string, shards: number): number => fnv1a(id) % shards;

const firstId = (m: EventsBody): string => ("events" in m ? m.events[0]!.id : m.id);

/** Sends every message to its shard of the events queue, chunked within sendBatch's limits. */
export async function sendEvents(env: Env, messages: EventsBody[]): Promise<void> {
  const queues = eventsQueues(env);
  if (queues.length === 1) return sendAll(env.EVENTS, messages);
  const byShard = queues.map((): EventsBody[] => []);
  for (const m of messages) byShard[shardOf(firstId(m), queues.length)]!.push(m);
  await Promise.all(byShard.map((bodies, i) => (bodies.length === 0 ? undefined : sendAll(queues[i]!, bodies))));
}
