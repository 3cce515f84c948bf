import { describe, expect, it } from "vitest";
import type { RunDetail } from "../../src";
import { callsOf } from "../worker/functions";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

type Detail = RunDetail & { parent?: { runId: string; stepKey: string } };
type InvokeStep = RunDetail["steps"][number] & { type?: string; invoked?: { functionId: string; runId?: string } };
const detailOf = async (runId: string) => (await api<Detail>(`/api/v1/runs/${runId}`)).body;

describe("step.invoke", () => {
  it("runs the function as a child run, answers its output, and links the two both ways", async () => {
    const [eventId] = await sendEvents({ name: "test/invoker", data: { tag: "inv-ok", n: 20 } });
    const [run] = await settledRuns(eventId!);
    expect(run).toMatchObject({ status: "completed", output: 41 });
    const step = run!.steps.find((s) => s.id === "double-it") as InvokeStep;
    expect(step).toMatchObject({ status: "completed", type: "invoke", invoked: { functionId: "doubler" }, output: 40 });
    const child = await detailOf(step.invoked!.runId!);
    expect(child).toMatchObject({
      functionId: "doubler",
      status: "completed",
      output: 40,
      parent: { runId: run!.id, stepKey: "double-it" },
    });
    // Listed, with its own event.
    const { body } = await api<{ runs: { id: string }[] }>("/api/v1/runs?functionId=doubler");
    expect(body.runs.map((r) => r.id)).toContain(child.id);
    expect(callsOf("inv-ok", "doubler")).toBe(1);
  });

  it("takes the function by id, and waits for a child that sleeps", async () => {
    const [eventId] = await sendEvents({ name: "test/invoker", data: { tag: "inv-id", n: 1, byId: true, delayMs: 500 } });
    const runId = await waitFor(
      async () => (await api<{ runs?: { id: string }[] }>(`/api/v1/events/${eventId}`)).body.runs?.[0]?.id,
      "the run",
    );
    await waitFor(async () => ((await detailOf(runId)).status === "waiting" ? true : undefined), "the parent to wait");
    const [run] = await settledRuns(eventId!);
    expect(run).toMatchObject({ status: "completed", output: 3 });
  });

  it("throws invoke_failed with the child's error when the child fails", async () => {
    const [eventId] = await sendEvents({ name: "test/invoker", data: { tag: "inv-fail", n: 1, fail: true } });
    const [run] = await settledRuns(eventId!);
    expect(run).toMatchObject({ status: "failed", error: { code: "invoke_failed", stepId: "double-it" } });
    expect(run!.error!.message).toContain("cannot double");
  });

  it("throws invoke_timeout when the child is still going at the timeout", async () => {
    const [eventId] = await sendEvents({ name: "test/invoker", data: { tag: "inv-slow", n: 1, delayMs: 5000, timeout: "500ms" } });
    const [run] = await settledRuns(eventId!);
    expect(run).toMatchObject({ status: "failed", error: { code: "invoke_timeout" } });
  });

  it("fails with invoke_failed for a function the engine does not have", async () => {
    const [eventId] = await sendEvents({ name: "test/invokes-nothing", data: {} });
    const [run] = await settledRuns(eventId!);
    expect(run).toMatchObject({ status: "failed", error: { code: "invoke_failed", message: expect.stringContaining("no-such-function") } });
  });
});
