import { z } from "zod";

const errorSchema = z.object({ name: z.string(), message: z.string(), code: z.string().optional(), stack: z.string().optional() });

/** The dead-letter record of a run that failed for good: a message on the failures queue. */
export const failureMessageSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal("run-failed"),
    /** Unique per failure of a run (`<run id>.<run version>`): a replayed run that fails again makes a new record. */
    id: z.string(),
    runId: z.string(),
    /** The run's version when it failed: a replay names the failure it replays by it. */
    runVersion: z.number().int().nonnegative(),
    functionId: z.string(),
    eventId: z.string(),
    /** The key of the step whose failure failed the run, if a step's did. */
    stepKey: z.string().nullable(),
    attempts: z.number().int().nonnegative(),
    error: errorSchema,
    failedAt: z.number(),
  })
  .strict();
export type FailureMessage = z.infer<typeof failureMessageSchema>;
