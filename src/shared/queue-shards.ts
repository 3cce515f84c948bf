import type { Env } from "../env";
import type { EventMessage, PackedEventsMessage } from "../messages/events";
import type { ListingMessage } from "../messages/listing";
import type { StepMessage } from "../messages/steps";
import { fnv1a } from "./fnv";
import { sendAll } from "./queue-batches";

/** The queues that may be sharded: each binding's shards are bound as `<binding>_1`, `<binding>_2`, ... */
export type ShardedQueue = "EVENTS" | "STEPS" | "LISTING";

/**
 * A queue and its shards, in order: `STEPS`, then `STEPS_1`, `STEPS_2`, ...
 * for as long as they are bound without a gap. Each shard is a queue of its
 * own (5,000 messages/s each), consumed by the same code. Read per call, as
 * every binding is.
 */
export function queueShards<T>(env: Env, binding: ShardedQueue): Queue<T>[] {
  const bound = env as unknown as Record<string, Queue<T> | undefined>;
  const queues: Queue<T>[] = [bound[binding]!];
  for (let n = 1; ; n++) {
    const shard = bound[`${binding}_${n}`];
    if (!shard) return queues;
    queues.push(shard);
  }
}

/** A message's shard, from its key by FNV-1a: the same key always goes to the same shard. */
export const shardOf = (key: string, shards: number): number => fnv1a(key) % shards;

/** Sends every body to the shard of its key: one alone with `send`, more chunked within sendBatch's limits. */
export async function sendSharded<T>(env: Env, binding: ShardedQueue, bodies: T[], keyOf: (body: T) => string): Promise<void> {
  const queues = queueShards<T>(env, binding);
  if (bodies.length === 1) {
    await queues[shardOf(keyOf(bodies[0]!), queues.length)]!.send(bodies[0]!, { contentType: "json" });
    return;
  }
  if (queues.length === 1) return sendAll(queues[0]!, bodies);
  const byShard = queues.map((): T[] => []);
  for (const body of bodies) byShard[shardOf(keyOf(body), queues.length)]!.push(body);
  await Promise.all(byShard.map((shard, i) => (shard.length === 0 ? undefined : sendAll(queues[i]!, shard))));
}

/** Sends steps messages, each to the steps queue shard of its run. */
export const sendSteps = (env: Env, messages: StepMessage[]): Promise<void> => sendSharded(env, "STEPS", messages, (m) => m.runId);

/** Sends listing rows, each to the listing queue shard of its run. */
export const sendListing = (env: Env, rows: ListingMessage[]): Promise<void> => sendSharded(env, "LISTING", rows, (r) => r.id);

type EventsBody = EventMessage | PackedEventsMessage;

const firstId = (m: EventsBody): string => ("events" in m ? m.events[0]!.id : m.id);

/** Sends events messages, each to the events queue shard of its (first) event's id. */
export const sendEvents = (env: Env, messages: EventsBody[]): Promise<void> => sendSharded(env, "EVENTS", messages, firstId);
