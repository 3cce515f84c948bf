import { describe, expect, it } from "vitest";
import { NonRetriableError } from "../errors";
import { defineFunction } from "../function";
import type { HandlerContext } from "../types";
import { runFunction } from "./index";

const fnOf = (handler: (ctx: HandlerContext) => unknown, retries = 2) =>
  defineFunction({ id: "f", triggers: [{ event: "t/e" }], retries }, handler);
const event = { name: "t/e", data: { n: 2 } };

describe("runFunction", () => {
  it("runs every step for real and answers the output, with the steps in the order run", async () => {
    const fn = fnOf(async ({ event, step }) => {
      const a = await step.run("double", () => (event.data.n as number) * 2);
      const b = await step.run("inc", () => a + 1);
      return { b };
    });
    const result = await runFunction(fn, { event });
    expect(result).toEqual({
      output: { b: 5 },
      error: undefined,
      steps: [
        { id: "double", key: "double", status: "completed", output: 4, mocked: false },
        { id: "inc", key: "inc", status: "completed", output: 5, mocked: false },
      ],
    });
  });

  it("answers a mocked step from its mock without calling the step's function; the rest run", async () => {
    const calls: string[] = [];
    const fn = fnOf(async ({ step }) => {
      const user = await step.run("load-user", () => {
        calls.push("load-user");
        return { email: "real@example.com" };
      });
      return step.run("greet", () => `hi ${user.email}`);
    });
    const result = await runFunction(fn, { event, steps: [{ id: "load-user", handler: () => ({ email: "mock@example.com" }) }] });
    expect(calls).toEqual([]);
    expect(result.output).toBe("hi mock@example.com");
    expect(result.steps.map((s) => [s.id, s.mocked])).toEqual([
      ["load-user", true],
      ["greet", false],
    ]);
  });

  it("a mock that throws fails its step at once; the run fails with that step's error", async () => {
    const fn = fnOf(async ({ step }) => {
      await step.run("charge", () => "charged");
      return "unreachable";
    });
    const result = await runFunction(fn, {
      event,
      steps: [
        {
          id: "charge",
          handler: () => {
            throw Object.assign(new Error("card declined"), { code: "declined" });
          },
        },
      ],
    });
    expect(result.output).toBeUndefined();
    expect(result.error).toMatchObject({ name: "Error", message: "card declined", code: "declined" });
    expect(result.steps).toEqual([
      expect.objectContaining({
        id: "charge",
        status: "failed",
        mocked: true,
        error: expect.objectContaining({ message: "card declined" }),
      }),
    ]);
  });

  it("a handler that catches a failed step goes on; the step stays failed", async () => {
    const fn = fnOf(async ({ step }) => {
      const got = await step.run("flaky", () => Promise.reject(new NonRetriableError("no"))).catch((e: Error) => `caught ${e.message}`);
      return got;
    });
    const result = await runFunction(fn, { event });
    expect(result.output).toBe("caught no");
    expect(result.steps).toEqual([
      expect.objectContaining({ id: "flaky", status: "failed", error: expect.objectContaining({ name: "NonRetriableError" }) }),
    ]);
  });

  it("retries a step's function under the function's retries, then fails the run", async () => {
    let attempts = 0;
    const fn = fnOf(async ({ step }) =>
      step.run("always-fails", () => {
        attempts++;
        throw new Error(`attempt ${attempts}`);
      }),
    );
    const result = await runFunction(fn, { event });
    expect(attempts).toBe(3);
    expect(result.error).toMatchObject({ message: "attempt 3" });
    expect(result.steps).toHaveLength(1);
  });

  it("a step's own retries override the function's, and a later attempt's success counts", async () => {
    const fn = fnOf(async ({ step }) =>
      step.run({ id: "third-time", retries: 5 }, ({ attempt }) => {
        if (attempt < 4) throw new Error("not yet");
        return attempt;
      }),
    );
    expect((await runFunction(fn, { event })).output).toBe(4);
  });

  it("lists parallel steps in the order the handler started them, with reused ids keyed id, id:1", async () => {
    const fn = fnOf(async ({ step }) =>
      Promise.all([
        step.run("fetch", () => new Promise((r) => setTimeout(() => r("slow"), 20))),
        step.run("fetch", () => "fast"),
        step.run("other", () => "x"),
      ]),
    );
    const result = await runFunction(fn, { event });
    expect(result.output).toEqual(["slow", "fast", "x"]);
    expect(result.steps.map((s) => s.key)).toEqual(["fetch", "fetch:1", "other"]);
  });

  it("a parallel sibling still out when a step fails the run is settled in the answer", async () => {
    const fn = fnOf(async ({ step }) =>
      Promise.all([
        step.run("fails", () => Promise.reject(new NonRetriableError("no"))),
        step.run("slow", () => new Promise((r) => setTimeout(() => r("done"), 20))),
      ]),
    );
    const result = await runFunction(fn, { event });
    expect(result.error).toMatchObject({ name: "NonRetriableError" });
    expect(result.steps).toEqual([
      expect.objectContaining({ id: "fails", status: "failed" }),
      expect.objectContaining({ id: "slow", status: "completed", output: "done" }),
    ]);
  });

  it("retries the handler after an error outside any step, without running its finished steps again", async () => {
    let runs = 0;
    let handlerCalls = 0;
    const fn = fnOf(async ({ step, attempt }) => {
      handlerCalls++;
      const v = await step.run("once", () => ++runs);
      if (attempt === 0) throw new Error("outside any step");
      return { v, attempt };
    });
    const result = await runFunction(fn, { event });
    expect(result.output).toEqual({ v: 1, attempt: 1 });
    expect({ runs, handlerCalls }).toEqual({ runs: 1, handlerCalls: 2 });
    expect(result.steps).toHaveLength(1);
  });

  it("a sleep ends at once and records when it would have ended", async () => {
    const fn = fnOf(async ({ step }) => {
      await step.sleep("wait-a-day", "1d");
      return step.run("after", () => "woke");
    });
    const before = Date.now();
    const result = await runFunction(fn, { event });
    expect(result.output).toBe("woke");
    expect(result.steps.map((s) => [s.id, s.status])).toEqual([
      ["wait-a-day", "completed"],
      ["after", "completed"],
    ]);
    const until = result.steps[0]!.sleepUntil!;
    expect(until - before).toBeGreaterThanOrEqual(86_400_000);
    expect(until - Date.now()).toBeLessThanOrEqual(86_400_000);
  });

  it("a sendEvent sends nothing, records its events and answers an id for each", async () => {
    const fn = fnOf(async ({ step }) =>
      step.sendEvent("notify", [
        { name: "app/a", data: { n: 1 } },
        { name: "app/b", id: "mine" },
      ]),
    );
    const result = await runFunction(fn, { event });
    expect(result.output).toEqual({ ids: ["notify-0", "mine"] });
    expect(result.steps).toEqual([
      expect.objectContaining({
        id: "notify",
        status: "completed",
        events: [
          { name: "app/a", data: { n: 1 } },
          { name: "app/b", id: "mine" },
        ],
      }),
    ]);
  });

  it("a waitForEvent times out at once unless a mock answers the event", async () => {
    const fn = fnOf(async ({ step }) => {
      const paid = await step.waitForEvent("wait-paid", { event: "app/paid", match: "data.orderId", timeout: "1h" });
      return paid ? `paid ${paid.data.amount}` : "timed out";
    });
    const timedOut = await runFunction(fn, { event });
    expect(timedOut.output).toBe("timed out");
    expect(timedOut.steps[0]).toMatchObject({
      id: "wait-paid",
      status: "completed",
      waitFor: { event: "app/paid", match: "data.orderId" },
    });
    expect(timedOut.steps[0]!.waitFor!.timeoutAt - Date.now()).toBeGreaterThan(3_500_000);
    const paid = await runFunction(fn, {
      event,
      steps: [{ id: "wait-paid", handler: () => ({ id: "e2", name: "app/paid", data: { amount: 5 }, ts: 0 }) }],
    });
    expect(paid.output).toBe("paid 5");
  });

  it("an invoke is answered by its mock; without one its step fails invoke_not_mocked", async () => {
    const fn = fnOf(async ({ step }) => step.invoke("charge", { function: "charge-card", data: { cents: 500 } }));
    const mocked = await runFunction(fn, { event, steps: [{ id: "charge", handler: () => ({ charged: 500 }) }] });
    expect(mocked.output).toEqual({ charged: 500 });
    expect(mocked.steps[0]).toMatchObject({ id: "charge", mocked: true, invoke: { functionId: "charge-card", data: { cents: 500 } } });
    const unmocked = await runFunction(fn, { event });
    expect(unmocked.error).toMatchObject({ code: "invoke_not_mocked" });
    expect(unmocked.steps[0]).toMatchObject({ status: "failed", error: { code: "invoke_not_mocked" } });
  });

  it("outputs go through JSON, as the journal stores them", async () => {
    const fn = fnOf(async ({ step }) => {
      const d = await step.run("date", () => new Date(0));
      return { d, type: typeof d };
    });
    expect((await runFunction(fn, { event })).output).toEqual({ d: "1970-01-01T00:00:00.000Z", type: "string" });
  });

  it("gives the handler the event with an id and time, and the env passed", async () => {
    const fn = fnOf(async ({ event, env }) => ({ id: typeof event.id, ts: typeof event.ts, name: event.name, key: env.KEY }));
    expect((await runFunction(fn, { event, env: { KEY: "k" } })).output).toEqual({ id: "string", ts: "number", name: "t/e", key: "k" });
  });
});
