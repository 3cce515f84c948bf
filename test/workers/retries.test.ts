// Step and handler retries, their backoff, and step timeouts.
import { describe, expect, it } from "vitest";
import { callsOf, times } from "../worker/functions";
import { deadLettersOf, sendEvents, settledRuns, waitFor } from "./helpers";

describe("retries", () => {
  it("makes exactly 5 attempts with retries: 4, then fails the run, dead-letters it and calls onFailure once", async () => {
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "five", failTimes: 100 } });
    const [run] = await settledRuns(id!, 1, 20_000);
    expect(run!.status).toBe("failed");
    expect(run!.error).toMatchObject({ name: "Error", message: "boom 5", stepId: "flaky" });
    expect(run!.steps.find((s) => s.id === "flaky")).toMatchObject({ status: "failed", attempts: 5 });
    expect(callsOf("five", "flaky")).toBe(5);
    expect(callsOf("five", "before")).toBe(1);
    const letters = await waitFor(
      async () => ((await deadLettersOf(run!.id)).length ? deadLettersOf(run!.id) : undefined),
      "a dead letter",
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ source: "run", functionId: "flaky", stepKey: "flaky", attempts: 5, error: { message: "boom 5" } });
    await waitFor(async () => (callsOf("five", "onFailure") ? true : undefined), "onFailure");
    await new Promise((r) => setTimeout(r, 500)); // room for a second call that should not come
    expect(callsOf("five", "onFailure")).toBe(1);
  });

  it("names the occurrence that failed the run in its dead letter when a step id is reused", async () => {
    const [id] = await sendEvents({ name: "test/reused-id-fails" });
    const [run] = await settledRuns(id!);
    expect(run!.steps.map((s) => [s.key, s.status, s.attempts])).toEqual([
      ["call", "failed", 1],
      ["call:1", "failed", 2],
    ]);
    const [letter] = await waitFor(async () => {
      const letters = await deadLettersOf(run!.id);
      return letters.length ? letters : undefined;
    }, "the dead letter");
    expect(letter).toMatchObject({ stepKey: "call:1", attempts: 2, error: { message: "second call failed" } });
  });

  it("backs off between attempts and resumes after the last finished step", async () => {
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "recover", failTimes: 2 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual({ before: "ok", value: "recovered" });
    expect(run!.steps.find((s) => s.id === "flaky")).toMatchObject({ attempts: 3, status: "completed" });
    expect(callsOf("recover", "before")).toBe(1);
    const t = times.get("recover:flaky")!;
    // Backoff base 50 ms with equal jitter: at least half the base before retry 1, half of 100 before retry 2.
    expect(t[1]! - t[0]!).toBeGreaterThanOrEqual(25);
    expect(t[2]! - t[1]!).toBeGreaterThanOrEqual(50);
  });

  it("makes one attempt for a NonRetriableError", async () => {
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "nonret", failTimes: 100, mode: "non-retriable" } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    expect(run!.error).toMatchObject({ name: "NonRetriableError", message: "permanent" });
    expect(callsOf("nonret", "flaky")).toBe(1);
  });

  it("honours RetryAfterError's delay", async () => {
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "later", failTimes: 1, mode: "retry-after", retryAfterMs: 400 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    const t = times.get("later:flaky")!;
    expect(t).toHaveLength(2);
    expect(t[1]! - t[0]!).toBeGreaterThanOrEqual(400);
  });

  it("fails a step at once with invalid_retry_after when its RetryAfterError asks for more than 365 days", async () => {
    const retryAfterMs = 365 * 24 * 60 * 60 * 1000 + 1;
    const [id] = await sendEvents({ name: "test/flaky", data: { tag: "too-late", failTimes: 100, mode: "retry-after", retryAfterMs } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    expect(run!.error).toMatchObject({ name: "StepflareError", code: "invalid_retry_after" });
    expect(callsOf("too-late", "flaky")).toBe(1);
  });

  it("retries the handler for an error thrown outside any step, without re-running finished steps", async () => {
    const [id] = await sendEvents({ name: "test/handler-flaky", data: { tag: "outside", failTimes: 2 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual({ v: 1, attempt: 2 });
    expect(run!.attempt).toBe(2);
    expect(callsOf("outside", "once")).toBe(1);
    expect(callsOf("outside", "handler")).toBe(3);
  });

  it("calls onFailure once and makes one dead letter when three parallel siblings fail", async () => {
    const [id] = await sendEvents({ name: "test/siblings-fail", data: { tag: "three" } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("failed");
    await waitFor(async () => (callsOf("three", "onFailure") ? true : undefined), "onFailure");
    await waitFor(async () => ((await deadLettersOf(run!.id)).length ? true : undefined), "the dead letter");
    await new Promise((r) => setTimeout(r, 500)); // room for a second call or letter that should not come
    expect(callsOf("three", "onFailure")).toBe(1);
    expect(await deadLettersOf(run!.id)).toHaveLength(1);
  });
});

describe("step timeout", () => {
  it("fails an attempt that never settles with step_timeout, inline and dispatched, and a handler stuck outside any step with handler_timeout", async () => {
    const ids = await sendEvents([
      { name: "test/hangs", data: { tag: "hang-inline" } },
      { name: "test/hangs", data: { tag: "hang-queued", parallel: true } },
    ]);
    const [idleId] = await sendEvents({ name: "test/idle-handler", data: { tag: "idle" } });
    const idle = settledRuns(idleId!, 1, 25_000).then((r) => r[0]!);
    const runs = await Promise.all(ids.map((id) => settledRuns(id, 1, 25_000).then((r) => r[0]!)));
    for (const run of runs) {
      expect(run.status).toBe("failed");
      expect(run.error).toMatchObject({ code: "step_timeout", stepId: "stuck" });
      expect(run.steps.find((s) => s.id === "stuck")).toMatchObject({ status: "failed", attempts: 1 });
    }
    // Timed out twice (retries: 1), each attempt replaying the memoized step, never re-running it.
    const stuck = await idle;
    expect(stuck.status).toBe("failed");
    expect(stuck.error).toMatchObject({ name: "HandlerTimeoutError", code: "handler_timeout" });
    expect(callsOf("idle", "before")).toBe(1);
    expect(callsOf("idle", "hang")).toBe(2);
  }, 30_000);
});
