import { describe, expect, it } from "vitest";
import { sendEvents, settledRuns } from "./helpers";

type Attempt = { attempt: number; startedAt?: string; endedAt: string; error: { name: string; message: string; code?: string } };

describe("a step's failed attempts", () => {
  it("are kept, oldest first, each with its times and its error, beside the step's outcome", async () => {
    const [eventId] = await sendEvents({ name: "test/flaky", data: { tag: "history", failTimes: 2 } });
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("completed");
    const step = run!.steps.find((s) => s.id === "flaky") as { attempts: number; status: string; failedAttempts?: Attempt[] };
    expect(step).toMatchObject({ status: "completed", attempts: 3 });
    expect(step.failedAttempts!.map((a) => [a.attempt, a.error.message])).toEqual([
      [1, "boom 1"],
      [2, "boom 2"],
    ]);
    for (const a of step.failedAttempts!) expect(Date.parse(a.endedAt)).toBeGreaterThanOrEqual(Date.parse(a.startedAt!));
    expect(Date.parse(step.failedAttempts![1]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(step.failedAttempts![0]!.endedAt));
    // A step that never failed has no history.
    expect(run!.steps.find((s) => s.id === "before")).not.toHaveProperty("failedAttempts");
  });

  it("keep a failed step's every attempt, the last with the error the run failed with", async () => {
    const [eventId] = await sendEvents({ name: "test/flaky", data: { tag: "history-fail", failTimes: 99 } });
    const [run] = await settledRuns(eventId!, 1, 20_000);
    expect(run!.status).toBe("failed");
    const step = run!.steps.find((s) => s.id === "flaky") as { attempts: number; failedAttempts?: Attempt[] };
    expect(step.failedAttempts!.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(step.failedAttempts!.at(-1)!.error.message).toBe(run!.error!.message);
  });
});
