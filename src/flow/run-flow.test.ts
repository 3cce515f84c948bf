import { describe, expect, it } from "vitest";
import { defineFunction } from "../../sdk/function";
import { compiledFlow, keyValue, priorityOf, runNeeds } from "./needs";
import { flowObjectName } from "./object";
import { gcraReserve } from "./throttle";

describe("gcraReserve", () => {
  const starts = (n: number, spec: { limit: number; periodMs: number; burst: number }, now = 0) => {
    let tat: number | null = null;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = gcraReserve(tat, now, spec);
      tat = r.tat;
      out.push(r.startAt);
    }
    return out;
  };

  it("spaces starts period/limit apart, with limit + burst at once after a quiet spell", () => {
    expect(starts(4, { limit: 1, periodMs: 1000, burst: 0 })).toEqual([0, 1000, 2000, 3000]);
    // Inngest's example: limit 2 per 6 s, burst 1: three at once, then one every 3 s.
    expect(starts(6, { limit: 2, periodMs: 6000, burst: 1 })).toEqual([0, 0, 0, 3000, 6000, 9000]);
  });

  it("forgets a spell long past", () => {
    const first = gcraReserve(null, 0, { limit: 1, periodMs: 1000, burst: 0 });
    expect(gcraReserve(first.tat, 5000, { limit: 1, periodMs: 1000, burst: 0 }).startAt).toBe(5000);
  });
});

describe("a run's limits", () => {
  const fn = defineFunction(
    {
      id: "orders",
      triggers: [{ event: "a/b" }],
      concurrency: [
        { limit: 5, key: "event.data.account" },
        { limit: 2, scope: "env", key: "event.data.region" },
      ],
      throttle: { limit: 1, period: "1s", key: "event.data.account" },
      priority: { run: "event.data.p" },
    },
    async () => null,
  );

  it("names each limit's object by scope and key value, in one order for every run", () => {
    const needs = runNeeds(fn, compiledFlow(fn)!, { data: { account: "acc", region: "eu", p: 30 } });
    expect(needs).toEqual({
      throttle: { name: flowObjectName("throttle", "orders", "acc"), limit: 1, periodMs: 1000, burst: 0 },
      concurrency: [
        { name: flowObjectName("concurrency", "env", "eu"), limit: 2 },
        { name: flowObjectName("concurrency", "orders", "event.data.account\u0001acc"), limit: 5 },
      ],
      priority: 30,
    });
  });

  it("puts a missing key in the empty key and clamps a priority to ±600 seconds", () => {
    const needs = runNeeds(fn, compiledFlow(fn)!, { data: { p: 100_000 } });
    expect(needs.throttle?.name).toBe(flowObjectName("throttle", "orders", ""));
    expect(needs.priority).toBe(600);
    expect(priorityOf(compiledFlow(fn)!.priority, { data: { p: "high" } })).toBe(0);
    expect(keyValue(compiledFlow(fn)!.throttle!.key, { data: { account: 42 } })).toBe("42");
  });

  it("compiles once per function, and not at all for a function without run-side flow control", () => {
    expect(compiledFlow(fn)).toBe(compiledFlow(fn));
    expect(compiledFlow(defineFunction({ id: "plain", triggers: [{ event: "a/b" }] }, async () => null))).toBeNull();
  });
});
