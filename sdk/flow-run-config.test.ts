import { describe, expect, it } from "vitest";
import { defineFunction, type FunctionConfigInput } from "./function";

const handler = async () => null;
const define = (extra: Partial<FunctionConfigInput>) => defineFunction({ id: "fn", triggers: [{ event: "a/b" }], ...extra }, handler);

describe("run-side flow control in a function's config", () => {
  it("takes concurrency as a number, an object, or up to two, each as a list", () => {
    expect(define({ concurrency: 5 }).config.concurrency).toEqual([{ limit: 5 }]);
    expect(define({ concurrency: { limit: 2, key: "event.data.id" } }).config.concurrency).toEqual([{ limit: 2, key: "event.data.id" }]);
    const two = [{ limit: 10 }, { limit: 1, key: "event.data.account", scope: "env" as const }];
    expect(define({ concurrency: two }).config.concurrency).toEqual(two);
  });

  it("takes throttle with a period as a duration, priority and timeouts.start", () => {
    const config = define({
      throttle: { limit: 3, period: "1m", burst: 2, key: "event.data.user" },
      priority: { run: 'event.data.plan == "pro" ? 120 : 0' },
      timeouts: { start: "30s" },
    }).config;
    expect(config.throttle).toEqual({ limit: 3, period: 60_000, burst: 2, key: "event.data.user" });
    expect(config.timeouts).toEqual({ start: 30_000 });
    expect(config.priority).toEqual({ run: 'event.data.plan == "pro" ? 120 : 0' });
  });

  it.each<[string, Partial<FunctionConfigInput>, string, RegExp]>([
    ["a limit of 0", { concurrency: 0 }, "invalid_function", /concurrency.*1 to 1000/],
    ["a limit over 1000", { concurrency: { limit: 1001 } }, "invalid_function", /1 to 1000/],
    ["three limits", { concurrency: [{ limit: 1 }, { limit: 2 }, { limit: 3 }] }, "invalid_function", /concurrency/],
    ["env scope without a key", { concurrency: { limit: 1, scope: "env" } }, "invalid_function", /scope "env" needs a key/],
    ["a key that is not CEL", { concurrency: { limit: 1, key: "event.data ==" } }, "invalid_expression", /concurrency\.key/],
    [
      "a throttle period under a second",
      { throttle: { limit: 1, period: 500 } },
      "invalid_duration",
      /throttle\.period: a period is 1 second to 7 days/,
    ],
    ["a throttle period that is no duration", { throttle: { limit: 1, period: "soon" } }, "invalid_duration", /throttle\.period/],
    ["a priority that is not CEL", { priority: { run: "(" } }, "invalid_expression", /priority\.run/],
    ["a start timeout that is no duration", { timeouts: { start: "later" } }, "invalid_duration", /timeouts\.start/],
  ])("refuses %s, naming the function and field", (_what, extra, code, message) => {
    expect(() => define(extra)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    expect(() => define(extra)).toThrow(/"fn"/);
  });
});
