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
 * Whether the consumer of `queue` is the events consumer: the events queue,
 * or one of its shards, named `<events>-1`, `<events>-2`, ... (bound as
 * `EVENTS_1`, `EVENTS_2`, ...; docs/scale.md).
 */
export function isEventsQueue(names: QueueNames, queue: string): boolean {
  if (queue === names.events) return true;
  const prefix = `${names.events}-`;
  return queue.startsWith(prefix) && /^[1-9][0-9]*$/.test(queue.slice(prefix.length));
}
