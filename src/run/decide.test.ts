import { describe, expect, it } from "vitest";
import { NonRetriableError, RetryAfterError, StepFailedError } from "../../sdk/internal";
import { retryDelayMs } from "./backoff";
import { decideHandlerError, decideStepResult, returnedResult } from "./decide";
import type { StepState } from "./types";

const backoff = { baseMs: 1000, maxMs: 60_000 };
const step = (over: Partial<StepState> = {}): StepState => ({
  key: "s",
  id: "s",
  seq: 0,
  status: "running",
  attempts: 1,
  retries: 4,
  outputJson: null,
  error: null,
  startedAt: 0,
  endedAt: null,
  settleSeq: null,
  planSeq: null,
  mode: "queue",
  claimedAttempt: 1,
  claimToken: null,
  deadlineAt: null,
  wakeAt: null,
  attemptStartedAt: null,
  wait: null,
  invoke: null,
  ...over,
});
const ctx = { now: 10_000, backoff, gen: 2 };
const err = { name: "Error", message: "x" };

describe("decideStepResult", () => {
  it("ignores results for settled and unknown steps", () => {
    expect(decideStepResult(step({ status: "completed" }), { key: "s", attempt: 1, ok: true, outputJson: "1" }, ctx)).toMatchObject({
      type: "ignore",
    });
    expect(decideStepResult(undefined, { key: "s", attempt: 1, ok: true, outputJson: "1" }, ctx)).toMatchObject({ type: "ignore" });
  });
  it("ignores a result from another generation of the run (before a replay), and takes one of this generation or none", () => {
    const ok = { key: "s", attempt: 1, ok: true as const, outputJson: "1" };
    expect(decideStepResult(step(), { ...ok, gen: 1 }, ctx)).toEqual({ type: "ignore", reason: "stale-generation" });
    const failure = { key: "s", attempt: 1, ok: false as const, error: err, nonRetriable: true, gen: 1 };
    expect(decideStepResult(step(), failure, ctx)).toEqual({ type: "ignore", reason: "stale-generation" });
    expect(decideStepResult(step(), { ...ok, gen: 2 }, ctx)).toMatchObject({ type: "complete" });
    expect(decideStepResult(step(), ok, ctx)).toMatchObject({ type: "complete" });
  });
  it("accepts output at exactly the limit and fails one byte over, without retrying", () => {
    const s = { key: "s", id: "s" };
    expect(returnedResult(s, 1, "12345678", 10)).toEqual({ key: "s", attempt: 1, ok: true, outputJson: '"12345678"' });
    expect(decideStepResult(step(), returnedResult(s, 1, "12345678", 10), ctx)).toMatchObject({ type: "complete", bytes: 10 });
    const over = returnedResult(s, 1, "123456789", 10);
    expect(over).toMatchObject({ ok: false, nonRetriable: true, error: { code: "step_output_too_large" } });
    expect(decideStepResult(step(), over, ctx)).toMatchObject({ type: "fail", error: { code: "step_output_too_large" } });
  });
  it("counts multi-byte characters as bytes", () => {
    const s = { key: "s", id: "s" };
    expect(returnedResult(s, 1, "ééééé", 12)).toMatchObject({ ok: true });
    expect(returnedResult(s, 1, "éééééé", 13)).toMatchObject({ ok: false, error: { code: "step_output_too_large" } });
  });
  it("retries while attempts remain, then fails", () => {
    expect(
      decideStepResult(step({ attempts: 5 }), { key: "s", attempt: 5, ok: false, error: err, nonRetriable: false }, ctx),
    ).toMatchObject({ type: "fail" });
    const retry = decideStepResult(step({ attempts: 4 }), { key: "s", attempt: 4, ok: false, error: err, nonRetriable: false }, ctx);
    expect(retry.type).toBe("retry");
  });
  it("records a late failure on a run that has ended as final, with no retry, and still takes a late success", () => {
    const late = { key: "s", attempt: 1, ok: false as const, error: err, nonRetriable: false };
    expect(decideStepResult(step(), late, { ...ctx, runEnded: true })).toEqual({ type: "fail", error: err });
    expect(decideStepResult(step(), late, { ...ctx, runEnded: false }).type).toBe("retry");
    expect(decideStepResult(step(), { key: "s", attempt: 1, ok: true, outputJson: "1" }, { ...ctx, runEnded: true })).toMatchObject({
      type: "complete",
    });
  });
  it("fails at once when non-retriable, and honours retryAfterMs", () => {
    expect(decideStepResult(step(), { key: "s", attempt: 1, ok: false, error: err, nonRetriable: true }, ctx)).toMatchObject({
      type: "fail",
    });
    expect(decideStepResult(step(), { key: "s", attempt: 1, ok: false, error: err, nonRetriable: false, retryAfterMs: 777 }, ctx)).toEqual({
      type: "retry",
      at: 10_777,
      error: err,
    });
  });
  it("ignores a failure from an attempt that is no longer current", () => {
    expect(
      decideStepResult(step({ attempts: 2 }), { key: "s", attempt: 1, ok: false, error: err, nonRetriable: false }, ctx),
    ).toMatchObject({
      type: "ignore",
      reason: "stale-attempt",
    });
  });
});

describe("decideHandlerError", () => {
  const base = { attempt: 0, retries: 2, now: 0, backoff };
  it("fails the run for a step's final failure, naming the step", () => {
    expect(decideHandlerError(new StepFailedError("charge", err), base)).toEqual({
      type: "fail",
      error: expect.objectContaining({ stepId: "charge" }),
    });
  });
  it("fails at once for NonRetriableError and after the last attempt otherwise", () => {
    expect(decideHandlerError(new NonRetriableError("no"), base).type).toBe("fail");
    expect(decideHandlerError(new Error("x"), { ...base, attempt: 2 }).type).toBe("fail");
    expect(decideHandlerError(new Error("x"), base).type).toBe("retry");
    expect(decideHandlerError(new RetryAfterError("later", 5000), base)).toEqual({ type: "retry", at: 5000 });
  });
});

describe("retryDelayMs", () => {
  it("doubles from the base with equal jitter, capped", () => {
    expect(retryDelayMs(1, backoff, () => 0)).toBe(500);
    expect(retryDelayMs(1, backoff, () => 1)).toBe(1000);
    expect(retryDelayMs(3, backoff, () => 1)).toBe(4000);
    expect(retryDelayMs(30, backoff, () => 1)).toBe(60_000);
  });
});
