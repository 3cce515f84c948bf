import { z } from "zod";

/**
 * Steps per message: a plan's steps go ten to a message, and the steps
 * consumer takes ten messages a delivery (wrangler.toml), so one invocation
 * runs at most 100 steps, as with one step a message, in a tenth of the messages.
 */
export const STEPS_PER_MESSAGE = 10;

/** Planned steps of one run and plan to execute: a message on the steps queue. */
export const stepMessageSchema = z
  .object({
    v: z.literal(1),
    runId: z.string().min(1),
    planSeq: z.number().int().nonnegative(),
    /** The run's generation (replays) when the steps were planned. */
    gen: z.number().int().nonnegative(),
    steps: z
      .array(z.object({ key: z.string().min(1), attempt: z.number().int().positive() }).strict())
      .min(1)
      .max(STEPS_PER_MESSAGE),
  })
  .strict();
export type StepMessage = z.infer<typeof stepMessageSchema>;

/** The messages for these steps of one plan, up to STEPS_PER_MESSAGE each, in order. */
export function planMessages(
  run: { runId: string; planSeq: number; gen: number },
  steps: { key: string; attempt: number }[],
): StepMessage[] {
  const messages: StepMessage[] = [];
  for (let i = 0; i < steps.length; i += STEPS_PER_MESSAGE) {
    messages.push({ v: 1, ...run, steps: steps.slice(i, i + STEPS_PER_MESSAGE) });
  }
  return messages;
}
