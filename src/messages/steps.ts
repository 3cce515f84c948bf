import { z } from "zod";

/** One planned step to execute: a message on the steps queue. */
export const stepMessageSchema = z
  .object({
    v: z.literal(1),
    runId: z.string().min(1),
    key: z.string().min(1),
    attempt: z.number().int().positive(),
    planSeq: z.number().int().nonnegative(),
    /** The run's generation (replays) when the step was planned; messages from before it carried none. */
    gen: z.number().int().nonnegative().default(0),
  })
  .strict();
export type StepMessage = z.infer<typeof stepMessageSchema>;
