import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, RunDetail } from "../../src";
import { callsOf, down } from "../engine-fixture/functions";
import { api, inListing, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;
const stubOf = (runId: string) => testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
const runIdOf = (eventId: string) =>
  waitFor(async () => (await api<{ runs?: { id: string }[] }>(`/api/v1/events/${eventId}`)).body.runs?.[0]?.id, "the run");
const detailOf = async (runId: string) => (await api<RunDetail>(`/api/v1/runs/${runId}`)).body;
const cancel = (runId: string) => api<Record<string, unknown>>(`/api/v1/runs/${runId}/cancel`, { method: "POST" });
const timerKinds = (runId: string) =>
  runInDurableObject(stubOf(runId), (_instance, ctx) =>
    ctx.storage.sql
      .exec<{ kind: string }>("SELECT kind FROM timers")
      .toArray()
      .map((t) => t.kind),
  );
const listed = async (runId: string) =>
  (await inListing<{ status: string; error_code: string }>(runId, "SELECT status, error_code FROM runs WHERE id = ?", runId))!;

describe("POST /api/v1/runs/:runId/cancel", () => {
  it("cancels a sleeping run at once: listed cancelled, no timer left but its system event's and its expiry, and idempotent", async () => {
    const [eventId] = await sendEvents({ name: "test/napper", data: { tag: "cancel-sleep", duration: "1h" } });
    const runId = await runIdOf(eventId!);
    await waitFor(async () => ((await detailOf(runId)).status === "sleeping" ? true : undefined), "the run to sleep");
    expect((await cancel(runId)).body).toEqual({ id: runId, status: "cancelled", cancelled: true });
    expect(await detailOf(runId)).toMatchObject({ status: "cancelled", error: { code: "run_cancelled" } });
    expect(await listed(runId)).toEqual({ status: "cancelled", error_code: "run_cancelled" });
    expect((await timerKinds(runId)).filter((k) => k !== "system-event" && k !== "listing-sync" && k !== "expire")).toEqual([]);
    expect((await cancel(runId)).body).toEqual({ id: runId, status: "cancelled", cancelled: false });
    // Its system event starts the functions subscribed to it.
    await waitFor(
      async () => (callsOf("cancel-sleep", "stepflare/function.cancelled:napper:run_cancelled") === 1 ? true : undefined),
      "the cancelled event's subscriber",
    );
  });

  it("discards the results of steps still out, and runs no further step", async () => {
    const [eventId] = await sendEvents({ name: "test/parallel", data: { tag: "cancel-out", n: 2, delays: [600, 600] } });
    const runId = await runIdOf(eventId!);
    await waitFor(async () => (callsOf("cancel-out", "p0") > 0 ? true : undefined), "the steps to start");
    expect((await cancel(runId)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1200)); // the steps finish and report
    const detail = await detailOf(runId);
    expect(detail.status).toBe("cancelled");
    // Shown cancelled: their results came back and were discarded.
    expect(detail.steps.map((s) => s.status)).toEqual(["cancelled", "cancelled"]);
    expect(detail).not.toHaveProperty("output");
  });

  it("refuses a run that completed or failed with 409 run_not_cancellable, and an unknown run with 404", async () => {
    const [done] = await sendEvents({ name: "test/typed", data: { n: 2 } });
    const [run] = await settledRuns(done!);
    expect((await cancel(run!.id)).body).toMatchObject({ error: { code: "run_not_cancellable" } });
    expect((await cancel(run!.id)).status).toBe(409);
    down.add("cancel-failed");
    const [failing] = await sendEvents({ name: "test/replayable", data: { tag: "cancel-failed" } });
    const [failed] = await settledRuns(failing!);
    expect(failed!.status).toBe("failed");
    expect((await cancel(failed!.id)).status).toBe(409);
    expect((await cancel("01ARZ3NDEKTSV4RRFFQ69G5FAV")).body).toMatchObject({ error: { code: "run_not_found" } });
  });
});

describe("POST /api/v1/cancellations", () => {
  it("cancels every run of a function still going within the window, and answers how many", async () => {
    const before = Date.now() - 1;
    const ids = await sendEvents([1, 2, 3].map((i) => ({ name: "test/napper", data: { tag: `bulk-${i}`, duration: "1h" } })));
    const runIds = await Promise.all(ids.map((id) => runIdOf(id)));
    await waitFor(async () => {
      const rows = await Promise.all(runIds.map(listed));
      return rows.every((r) => r?.status === "sleeping") ? true : undefined;
    }, "all three listed sleeping");
    const { status, body } = await api("/api/v1/cancellations", {
      method: "POST",
      body: JSON.stringify({ functionId: "napper", startedAfter: before }),
    });
    expect(status).toBe(200);
    expect(body).toEqual({ cancelled: 3, failed: [], remaining: false, nextCursor: null });
    for (const runId of runIds) expect((await detailOf(runId)).status).toBe("cancelled");
    const again = await api("/api/v1/cancellations", {
      method: "POST",
      body: JSON.stringify({ functionId: "napper", startedAfter: before }),
    });
    expect(again.body).toEqual({ cancelled: 0, failed: [], remaining: false, nextCursor: null });
  });

  it("cancels only the runs whose event the `if` expression (CEL) holds for", async () => {
    const ids = await sendEvents(["keep", "drop-1", "drop-2"].map((tag) => ({ name: "test/finishes-late", data: { tag, sleep: "1h" } })));
    const runIds = await Promise.all(ids.map((id) => runIdOf(id)));
    await waitFor(async () => {
      const rows = await Promise.all(runIds.map(listed));
      return rows.every((r) => r?.status === "sleeping") ? true : undefined;
    }, "all three listed sleeping");
    const { body } = await api("/api/v1/cancellations", {
      method: "POST",
      body: JSON.stringify({ functionId: "finishes-late", if: 'event.data.tag.startsWith("drop")' }),
    });
    expect(body).toEqual({ cancelled: 2, failed: [], remaining: false, nextCursor: null });
    expect((await detailOf(runIds[0]!)).status).toBe("sleeping");
    expect([(await detailOf(runIds[1]!)).status, (await detailOf(runIds[2]!)).status]).toEqual(["cancelled", "cancelled"]);
  });

  it("refuses an expression that is not CEL with 400 invalid_expression", async () => {
    const { status, body } = await api<{ error: { code: string; message: string } }>("/api/v1/cancellations", {
      method: "POST",
      body: JSON.stringify({ functionId: "napper", if: "event.data.tag ==" }),
    });
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_expression");
    expect(body.error.message).toMatch(/^if: /);
  });

  it("refuses a body without a function or with an unknown field", async () => {
    for (const body of [{}, { functionId: "napper", when: "now" }]) {
      const { status, body: answer } = await api<{ error: { code: string } }>("/api/v1/cancellations", {
        method: "POST",
        body: JSON.stringify(body),
      });
      expect(status, JSON.stringify(body)).toBe(400);
      expect(answer.error.code).toBe("invalid_request");
    }
  });
});

describe("timeouts.finish", () => {
  it("cancels a run still going at its finish timeout with run_timed_out", async () => {
    const [eventId] = await sendEvents({ name: "test/finishes-late", data: { tag: "late", sleep: "1h" } });
    const runId = await runIdOf(eventId!);
    const detail = await waitFor(async () => {
      const d = await detailOf(runId);
      return d.status === "cancelled" ? d : undefined;
    }, "the finish timeout");
    expect(detail.error).toMatchObject({ code: "run_timed_out" });
    expect(Date.parse(detail.endedAt!) - Date.parse(detail.startedAt)).toBeGreaterThanOrEqual(1000);
  });

  it("refuses a finish timeout it cannot read when the function is created", async () => {
    const { app } = await import("../engine-fixture/functions");
    expect(() =>
      app.createFunction({ id: "bad-timeout", triggers: [{ event: "x" }], timeouts: { finish: "soon" } }, async () => 1),
    ).toThrow(/timeouts\.finish/);
  });
});

describe("system events", () => {
  it("sends stepflare/function.failed when a run fails for good", async () => {
    down.add("sys-failed");
    const [eventId] = await sendEvents({ name: "test/replayable", data: { tag: "sys-failed" } });
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("failed");
    await waitFor(
      async () => (callsOf("sys-failed", "stepflare/function.failed:replayable:") === 1 ? true : undefined),
      "the failed event's subscriber",
    );
  });
});

describe("cancelOn", () => {
  it("cancels a run when an event matches its match path, and not for another value", async () => {
    const [started] = await sendEvents({ name: "test/cancellable", data: { tag: "co-match", orderId: "o-9" } });
    const runId = await runIdOf(started!);
    await waitFor(async () => ((await detailOf(runId)).status === "sleeping" ? true : undefined), "the run to sleep");
    await waitFor(async () => {
      const rows = await testEnv.DB.prepare("SELECT step_key FROM waits WHERE run_id = ?").bind(runId).all();
      return rows.results.length === 2 ? true : undefined;
    }, "both cancelOn entries in the index");
    await sendEvents({ name: "test/order.cancelled", data: { orderId: "o-other" } });
    await new Promise((r) => setTimeout(r, 300));
    expect((await detailOf(runId)).status).toBe("sleeping");
    const [cancelId] = await sendEvents({ name: "test/order.cancelled", data: { orderId: "o-9" } });
    const detail = await waitFor(async () => {
      const d = await detailOf(runId);
      return d.status === "cancelled" ? d : undefined;
    }, "the cancellation");
    expect(detail.error).toMatchObject({ code: "run_cancelled", message: expect.stringContaining(cancelId!) });
  });

  it("cancels with an event accepted together with the trigger (the look-back), and by an `if`", async () => {
    const [started] = await sendEvents([
      { name: "test/cancellable", data: { tag: "co-early", orderId: "o-early" } },
      { name: "test/all.cancelled", data: { tag: "co-early" } },
    ]);
    const runId = await runIdOf(started!);
    await waitFor(async () => ((await detailOf(runId)).status === "cancelled" ? true : undefined), "the cancellation");
  });

  it("refuses a cancelOn `if` that is not CEL when the function is created, naming the function and field", async () => {
    const { app } = await import("../engine-fixture/functions");
    expect(() =>
      app.createFunction({ id: "bad-cancel", triggers: [{ event: "x" }], cancelOn: [{ event: "y", if: "event.data ==" }] }, async () => 1),
    ).toThrow(expect.objectContaining({ code: "invalid_expression", message: expect.stringMatching(/"bad-cancel": cancelOn\.0\.if: /) }));
  });
});

describe("the engine's own events", () => {
  it("cannot be sent from outside", async () => {
    const { status, body } = await api<{ error: { code: string; message: string } }>("/e/test-key", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "stepflare/function.failed", data: {} }),
    });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: "invalid_event", message: expect.stringContaining("stepflare/") });
  });

  it("are not sent for a run a system event started: a failing handler of function.failed does not start itself again", async () => {
    down.add("sys-loop");
    const [eventId] = await sendEvents({ name: "test/replayable", data: { tag: "sys-loop" } });
    await settledRuns(eventId!);
    await waitFor(async () => (callsOf("sys-loop", "failing-watcher:replayable") === 1 ? true : undefined), "the watcher");
    await new Promise((r) => setTimeout(r, 500));
    expect(callsOf("sys-loop", "failing-watcher:failing-watcher")).toBe(0);
  });
});
