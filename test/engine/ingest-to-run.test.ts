import { describe, expect, it } from "vitest";
import { callsOf } from "../engine-fixture/functions";
import { api, sendEvents, settledRuns } from "./helpers";

describe("an event to a completed run", () => {
  it("runs a sequential function with one memoized step per iteration", async () => {
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "seq1", n: 4 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    expect(run!.output).toEqual([0, 2, 4, 6]);
    expect(run!.steps.map((s) => s.key)).toEqual(["add", "add:1", "add:2", "add:3"]);
    expect(callsOf("seq1", "add")).toBe(4);
  });

  it("runs the handler once for 100 sequential steps: O(n) handler work, not a replay per step", async () => {
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "seq100", n: 100 } });
    const [run] = await settledRuns(id!);
    expect(run!.steps).toHaveLength(100);
    expect(callsOf("seq100", "add")).toBe(100);
    expect(callsOf("seq100", "handler")).toBe(1);
  });

  it("answers 404 for unknown runs and events", async () => {
    expect((await api("/api/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV")).body).toMatchObject({ error: { code: "run_not_found" } });
    expect((await api("/api/v1/runs/not-a-run")).status).toBe(404);
    expect((await api("/api/v1/events/nope")).body).toMatchObject({ error: { code: "event_not_found" } });
  });
});
