import { describe, expect, it } from "vitest";
import { compileExpression, compileValue } from "./expression";

describe("compileExpression", () => {
  it("compiles CEL once and is true only where it evaluates to true", () => {
    const big = compileExpression('event.data.amount > 100 && event.data.plan == "pro"', "if");
    expect(big({ event: { data: { amount: 4200, plan: "pro" } } })).toBe(true);
    expect(big({ event: { data: { amount: 42, plan: "pro" } } })).toBe(false);
    // A key the event lacks is an evaluation error: false, not a throw.
    expect(big({ event: { data: {} } })).toBe(false);
    expect(compileExpression('"yes"', "if")({})).toBe(false);
  });

  it("throws invalid_expression naming the field for text that is not CEL, empty, or too long", () => {
    for (const bad of ["event.data ==", "", "   ", "x".repeat(4097), 42]) {
      expect(() => compileExpression(bad, "cancelOn[0].if")).toThrow(
        expect.objectContaining({ code: "invalid_expression", message: expect.stringMatching(/^cancelOn\[0\]\.if: /) }),
      );
    }
  });
});

describe("compileValue", () => {
  it("answers the expression's value, and undefined where evaluation fails", () => {
    const key = compileValue("event.data.accountId", "concurrency.key");
    expect(key({ event: { data: { accountId: "acc-1" } } })).toBe("acc-1");
    expect(key({ event: { data: {} } })).toBeUndefined();
    expect(compileValue('event.data.plan == "pro" ? 120 : 0', "priority.run")({ event: { data: { plan: "pro" } } })).toBe(120n);
    expect(() => compileValue("event.data ==", "debounce.key")).toThrow(expect.objectContaining({ code: "invalid_expression" }));
  });
});
