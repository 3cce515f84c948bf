import { z } from "zod";

/** Queue names the engine consumes; override them to run two deployments in one account. */
export const queueNamesSchema = z
  .object({
    events: z.string().default("stepflare-events"),
    steps: z.string().default("stepflare-steps"),
    failures: z.string().default("stepflare-failures"),
    listing: z.string().default("stepflare-listing"),
    eventsDeadLetter: z.string().default("stepflare-events-dlq"),
    stepsDeadLetter: z.string().default("stepflare-steps-dlq"),
    listingDeadLetter: z.string().default("stepflare-listing-dlq"),
  })
  .strict();
export type QueueNames = z.output<typeof queueNamesSchema>;

/**
 * The queue a consumed `queue` belongs to: the events, steps or listing
 * queue, for the queue itself or one of its shards, named `<queue>-1`,
 * `<queue>-2`, ... (bound as `EVENTS_1`, `STEPS_1`, ...; docs/scale.md).
 * Any other queue is its own.
 */
export function shardedBase(names: QueueNames, queue: string): string {
  for (const base of [names.events, names.steps, names.listing]) {
    if (queue === base) return base;
    const prefix = `${base}-`;
    if (queue.startsWith(prefix) && /^[1-9][0-9]*$/.test(queue.slice(prefix.length))) return base;
  }
  return queue;
}
