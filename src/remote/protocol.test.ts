import { describe, expect, it } from "vitest";
import { callBody, journalId, readAnswer, sdkEvent } from "./protocol";

const headers = (h: Record<string, string> = {}) => new Headers(h);

describe("the executor request", () => {
  it("carries the event, the memo by hashed id in settle order, and a ctx that never checkpoints", () => {
    const steps = new Map([
      ["b1", { data: 2 }],
      ["a1", { error: { name: "Error", message: "no" } }],
    ]);
    const body = callBody({
      event: { name: "e" },
      events: [{ name: "e" }],
      steps,
      runId: "R",
      attempt: 2,
      maxAttempts: 5,
      disableImmediateExecution: true,
    });
    expect(body).toEqual({
      event: { name: "e" },
      events: [{ name: "e" }],
      steps: { b1: { data: 2 }, a1: { error: { name: "Error", message: "no" } } },
      ctx: {
        run_id: "R",
        attempt: 2,
        max_attempts: 5,
        disable_immediate_execution: true,
        use_api: false,
        stack: { stack: ["b1", "a1"], current: 2 },
      },
      version: -1,
    });
    expect(body.ctx).not.toHaveProperty("fn_id");
  });

  it("names the engine's invoke and cron events as the SDK's triggers expect them", () => {
    expect(sdkEvent({ name: "stepflare/function.invoked", data: { n: 1 } })).toEqual({ name: "inngest/function.invoked", data: { n: 1 } });
    expect(sdkEvent({ name: "stepflare/scheduled.timer", data: {} })).toMatchObject({ name: "inngest/scheduled.timer" });
    expect(sdkEvent({ name: "shop/order.placed" })).toEqual({ name: "shop/order.placed" });
  });
});

describe("the app's answers", () => {
  it("200 is the function's result; an empty body is null", () => {
    expect(readAnswer(200, headers(), '{"ok":1}')).toEqual({ type: "result", data: { ok: 1 } });
    expect(readAnswer(200, headers(), "")).toEqual({ type: "result", data: null });
  });

  it("206 is a list of ops", () => {
    const text = JSON.stringify([
      { id: "h1", op: "StepPlanned", name: "a", displayName: "a" },
      { id: "h2", op: "Sleep", name: "1s" },
    ]);
    expect(readAnswer(206, headers(), text)).toMatchObject({
      type: "ops",
      ops: [
        { id: "h1", op: "StepPlanned" },
        { id: "h2", op: "Sleep", name: "1s" },
      ],
    });
    expect(readAnswer(206, headers({ "retry-after": "12" }), text)).toMatchObject({ type: "ops", retryAfterMs: 12_000 });
  });

  it("an error keeps the SDK's no-retry signal and Retry-After (seconds or a date)", () => {
    const err = JSON.stringify({ name: "Error", message: "boom", stack: "at x" });
    expect(readAnswer(500, headers({ "x-inngest-no-retry": "false" }), err)).toEqual({
      type: "error",
      status: 500,
      error: { name: "Error", message: "boom", stack: "at x" },
      noRetry: false,
    });
    expect(readAnswer(400, headers({ "x-inngest-no-retry": "true" }), err)).toMatchObject({ noRetry: true });
    expect(readAnswer(500, headers({ "retry-after": "30" }), err)).toMatchObject({ retryAfterMs: 30_000 });
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(readAnswer(500, headers({ "retry-after": "2026-01-01T00:01:00.000Z" }), err, now)).toMatchObject({ retryAfterMs: 60_000 });
    expect(readAnswer(502, headers(), "<html>bad gateway</html>")).toMatchObject({
      type: "error",
      error: { message: "<html>bad gateway</html>" },
    });
  });

  it("a 200 or 206 body that breaks the protocol is malformed", () => {
    expect(readAnswer(206, headers(), "[]")).toMatchObject({ type: "malformed" });
    expect(readAnswer(206, headers(), '{"op":"StepRun"}')).toMatchObject({ type: "malformed" });
    expect(readAnswer(200, headers(), "{not json")).toMatchObject({ type: "malformed" });
  });
});

describe("an op's journal id", () => {
  const id = "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8";
  it("is the user's step id and the start of the hashed id; without a name, the hashed id", () => {
    expect(journalId({ id, op: "StepPlanned", displayName: "Fetch", userland: { id: "fetch-user" } })).toBe("fetch-user 86f7e437faa5");
    expect(journalId({ id, op: "Sleep", displayName: "nap" })).toBe("nap 86f7e437faa5");
    expect(journalId({ id, op: "StepPlanned" })).toBe(id);
  });

  it("keeps to what step ids take: no ':', no control characters, no leading space, 113 characters at most", () => {
    expect(journalId({ id, op: "StepPlanned", displayName: "  a:b\u0001c" })).toBe("a_b_c 86f7e437faa5");
    expect(journalId({ id, op: "StepPlanned", displayName: "x".repeat(300) })).toHaveLength(113);
  });
});
