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
