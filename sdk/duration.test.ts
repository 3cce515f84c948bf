import { describe, expect, it } from "vitest";
import { durationMs, MAX_SLEEP_MS } from "./duration";

describe("durationMs", () => {
  it("reads milliseconds and the strings ms reads, alone or in parts", () => {
    expect(durationMs(250, "t")).toBe(250);
    expect(durationMs("500ms", "t")).toBe(500);
    expect(durationMs("30s", "t")).toBe(30_000);
    expect(durationMs("5m", "t")).toBe(300_000);
    expect(durationMs("2h", "t")).toBe(7_200_000);
    expect(durationMs("7d", "t")).toBe(604_800_000);
    expect(durationMs("1h30m", "t")).toBe(5_400_000);
    expect(durationMs("1h 30m 15s", "t")).toBe(5_415_000);
    expect(durationMs("1.5h", "t")).toBe(5_400_000);
  });

  it("takes one year exactly and refuses a millisecond more, or anything it cannot read, with invalid_duration", () => {
    expect(durationMs("1y", "t")).toBe(MAX_SLEEP_MS);
    expect(durationMs(MAX_SLEEP_MS, "t")).toBe(MAX_SLEEP_MS);
    for (const bad of [MAX_SLEEP_MS + 1, -1, Number.POSITIVE_INFINITY, "", "soon", "5 fortnights", "1h-30m", "h", null, {}]) {
      expect(() => durationMs(bad, 'step.sleep("x")'), String(bad)).toThrow(expect.objectContaining({ code: "invalid_duration" }));
    }
  });
});
