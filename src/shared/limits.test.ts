import { describe, expect, it } from "vitest";
import { resolveConfig } from "../config";

const engineWith = (limits: Record<string, number>) => resolveConfig({ functions: [], limits });

describe("engine limits", () => {
  it("take steps per run up to 10,000 and a step timeout up to 15 minutes, and refuse one more when the engine is built", () => {
    expect(engineWith({ maxStepsPerRun: 10_000, stepTimeoutMs: 900_000 }).limits).toMatchObject({
      maxStepsPerRun: 10_000,
      stepTimeoutMs: 900_000,
    });
    expect(() => engineWith({ maxStepsPerRun: 10_001 })).toThrow(/maxStepsPerRun/);
    expect(() => engineWith({ stepTimeoutMs: 900_001 })).toThrow(/stepTimeoutMs/);
  });
});
