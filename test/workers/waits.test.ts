import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, RunDetail } from "../../src";
import { callsOf } from "../worker/functions";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;
const runIdOf = (eventId: string) =>
  waitFor(async () => (await api<{ runs?: { id: string }[] }>(`/api/v1/events/${eventId}`)).body.runs?.[0]?.id, "the run");
const detailOf = async (runId: string) => (await api<RunDetail>(`/api/v1/runs/${runId}`)).body;
const waitingRun = async (eventId: string) => {
  const runId = await runIdOf(eventId);
  return waitFor(async () => {
    const d = await detailOf(runId);
    return d.status === "waiting" ? d : undefined;
  }, "the run to wait");
};
const waitRows = (runId: string) =>
  testEnv.DB.prepare("SELECT step_key, name, match_path, match_value FROM waits WHERE run_id = ?").bind(runId).all();

describe("step.waitForEvent", () => {
  it("waits, shown as waiting with what it waits for, and resumes with the matching event only", async () => {
    const [created] = await sendEvents({ name: "test/order.created", data: { tag: "order-1", orderId: "o-1" } });
    const run = await waitingRun(created!);
    const step = run.steps.find((s) => s.id === "wait-payment") as Record<string, unknown>;
    expect(step).toMatchObject({ status: "waiting", type: "wait", wait: { event: "test/order.paid", match: "data.orderId" } });
    expect(Date.parse(step.timeoutAt as string) - Date.parse(step.startedAt as string)).toBeGreaterThan(9_000);
    await waitFor(async () => ((await waitRows(run.id)).results.length === 1 ? true : undefined), "the wait in the index");
    expect((await waitRows(run.id)).results).toEqual([
      { step_key: "wait-payment", name: "test/order.paid", match_path: "data.orderId", match_value: '"o-1"' },
    ]);
    await sendEvents({ name: "test/order.paid", data: { tag: "order-1", orderId: "o-other", amount: 1 } });
    await new Promise((r) => setTimeout(r, 300));
    expect((await detailOf(run.id)).status).toBe("waiting");
    await sendEvents({ name: "test/order.paid", data: { tag: "order-1", orderId: "o-1", amount: 42 } });
    const [done] = await settledRuns(created!);
    expect(done).toMatchObject({ status: "completed", output: { paid: { tag: "order-1", orderId: "o-1", amount: 42 } } });
    expect((await waitRows(run.id)).results).toEqual([]);
  });

  it("answers null at its timeout", async () => {
    const [created] = await sendEvents({ name: "test/order.created", data: { tag: "order-timeout", orderId: "o-t", timeout: "500ms" } });
    const [done] = await settledRuns(created!);
    expect(done).toMatchObject({ status: "completed", output: { paid: null } });
  });

  it("takes an event sent after the trigger but before the wait began: it is not lost", async () => {
    const [created] = await sendEvents({ name: "test/order.created", data: { tag: "order-early", orderId: "o-e", prepMs: 600 } });
    await sendEvents({ name: "test/order.paid", data: { orderId: "o-e", amount: 7 } }); // the run is still preparing
    const [done] = await settledRuns(created!);
    expect(done).toMatchObject({ status: "completed", output: { paid: { orderId: "o-e", amount: 7 } } });
    expect(callsOf("order-early", "resumed")).toBe(1);
  });

  it("lets one event resume at most one wait of a run", async () => {
    const [started] = await sendEvents({ name: "test/two-waits", data: { tag: "pings" } });
    await waitingRun(started!);
    await sendEvents({ name: "test/ping", data: { tag: "pings", n: 1 } });
    const runId = await runIdOf(started!);
    await waitFor(async () => ((await detailOf(runId)).steps.length === 2 ? true : undefined), "the second wait");
    await new Promise((r) => setTimeout(r, 300));
    expect((await detailOf(runId)).status).toBe("waiting");
    await sendEvents({ name: "test/ping", data: { tag: "pings", n: 2 } });
    const [done] = await settledRuns(started!);
    expect(done!.output).toEqual([1, 2, "pings"]);
  });

  it("filters with a CEL `if` over the trigger and the candidate", async () => {
    const [expected] = await sendEvents({ name: "test/deposit.expected", data: { account: "acc-1", min: 100 } });
    await waitingRun(expected!);
    await sendEvents([
      { name: "test/deposit", data: { account: "acc-1", amount: 50 } },
      { name: "test/deposit", data: { account: "acc-2", amount: 500 } },
    ]);
    await new Promise((r) => setTimeout(r, 300));
    await sendEvents({ name: "test/deposit", data: { account: "acc-1", amount: 150 } });
    const [done] = await settledRuns(expected!);
    expect(done).toMatchObject({ status: "completed", output: 150 });
  });

  it("ends the run when a wait loses a race, and its index row goes with the next event for it", async () => {
    const [started] = await sendEvents({ name: "test/wait-race", data: { tag: "race-wait" } });
    const [done] = await settledRuns(started!);
    expect(done).toMatchObject({ status: "completed", output: "slept" });
    await waitFor(async () => ((await waitRows(done!.id)).results.length === 1 ? true : undefined), "the row left behind");
    await sendEvents({ name: "test/never", data: { tag: "race-wait" } });
    await waitFor(async () => ((await waitRows(done!.id)).results.length === 0 ? true : undefined), "the row to go");
    expect((await detailOf(done!.id)).status).toBe("completed");
  });

  it("fails the run with a stable code for options it cannot take", async () => {
    for (const [options, code] of [
      [{ event: "test/x" }, "invalid_duration"],
      [{ event: "test/x", timeout: "2y" }, "invalid_duration"],
      [{ event: "test/x", timeout: "1h", if: "async.data ==" }, "invalid_expression"],
      [{ event: "test/x", timeout: "1h", match: "data..id" }, "invalid_step"],
      [{ event: "not a name", timeout: "1h" }, "invalid_step"],
    ] as const) {
      const [eventId] = await sendEvents({ name: "test/bad-wait", data: { options } });
      const [run] = await settledRuns(eventId!);
      expect(run, JSON.stringify(options)).toMatchObject({ status: "failed", error: { code } });
    }
  });
});
