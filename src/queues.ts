import { z } from "zod";

/** Queue names the engine consumes; override them to run two deployments in one account. */
export const queueNamesSchema = z
  .object({
    events: z.string().default("stepflare-events"),
    steps: z.string().default("stepflare-steps"),
    failures: z.string().default("stepflare-failures"),
    index: z.string().default("stepflare-index"),
    eventsDeadLetter: z.string().default("stepflare-events-dlq"),
    stepsDeadLetter: z.string().default("stepflare-steps-dlq"),
    indexDeadLetter: z.string().default("stepflare-index-dlq"),
  })
  .strict();
export type QueueNames = z.output<typeof queueNamesSchema>;
