import { describe, expect, it } from "vitest";
import { planMessages, STEPS_PER_MESSAGE, stepMessageSchema } from "./steps";

describe("steps messages", () => {
  const run = { runId: "01HZZZZZZZZZZZZZZZZZZZZZZZ", planSeq: 3, gen: 1 };
  const steps = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `p${i}`, attempt: 1 + (i % 2) }));

  it("packs a plan ten steps to a message, in order, each a valid message", () => {
    const messages = planMessages(run, steps(25));
    expect(messages.map((m) => m.steps.length)).toEqual([10, 10, 5]);
    expect(messages.flatMap((m) => m.steps)).toEqual(steps(25));
    for (const m of messages) expect(stepMessageSchema.parse(m)).toEqual({ v: 1, ...run, steps: m.steps });
    expect(planMessages(run, steps(STEPS_PER_MESSAGE))).toHaveLength(1);
    expect(planMessages(run, [])).toEqual([]);
  });

  it("refuses a message of no steps or of more than ten", () => {
    expect(stepMessageSchema.safeParse({ v: 1, ...run, steps: [] }).success).toBe(false);
    expect(stepMessageSchema.safeParse({ v: 1, ...run, steps: steps(STEPS_PER_MESSAGE + 1) }).success).toBe(false);
  });
});
