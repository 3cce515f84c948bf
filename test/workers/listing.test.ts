import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import worker from "../worker/index";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;

const row = (id: string, version: number, status: string) => ({
  v: 1,
  id,
  functionId: "sequential",
  eventId: `event-of-${id}`,
  status,
  startedAt: 1000,
  endedAt: status === "running" ? null : 2000 + version,
  errorCode: status === "failed" ? "boom" : null,
  version,
});

async function listingOf(id: string) {
  return testEnv.DB.prepare("SELECT status, ended_at, error_code, version FROM runs WHERE id = ?")
    .bind(id)
    .first<{ status: string; ended_at: number | null; error_code: string | null; version: number }>();
}

describe("the run listing", () => {
  it("writes a delivery's rows, keeps the newest version whatever the order, and retries a malformed message", async () => {
    const batch = createMessageBatch("stepflare-index", [
      { id: "x2", timestamp: new Date(), attempts: 1, body: row("listing-x", 2, "failed") },
      { id: "x1", timestamp: new Date(), attempts: 1, body: row("listing-x", 1, "running") },
      { id: "y1", timestamp: new Date(), attempts: 1, body: row("listing-y", 1, "running") },
      { id: "bad", timestamp: new Date(), attempts: 1, body: { ...row("listing-z", 1, "running"), status: "exploded" } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["x1", "x2", "y1"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["bad"]);
    expect(await listingOf("listing-x")).toEqual({ status: "failed", ended_at: 2002, error_code: "boom", version: 2 });
    expect(await listingOf("listing-y")).toEqual({ status: "running", ended_at: null, error_code: null, version: 1 });
    expect(await listingOf("listing-z")).toBeNull();

    // A late redelivery of an older version changes nothing.
    const late = createMessageBatch("stepflare-index", [
      { id: "x1-again", timestamp: new Date(), attempts: 2, body: row("listing-x", 1, "running") },
    ]);
    await worker.queue(late, testEnv, ctx);
    expect((await listingOf("listing-x"))?.status).toBe("failed");
  });

  it("records a listing message that exhausted its retries as a poison dead letter", async () => {
    const batch = createMessageBatch("stepflare-index-dlq", [
      { id: "poison-1", timestamp: new Date(), attempts: 3, body: { hello: "listing" } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const stored = await testEnv.DB.prepare("SELECT source, error_code, body FROM dead_letters WHERE id = ?")
      .bind("stepflare-index-dlq.poison-1")
      .first();
    expect(stored).toEqual({ source: "stepflare-index", error_code: "poison_message", body: '{"hello":"listing"}' });
  });

  it("lists a finished run through the index queue, and leaves its object with no timer and no alarm", async () => {
    const [eventId] = await sendEvents({ name: "test/sequential", data: { tag: "listing-one", n: 1 } });
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("completed");
    await waitFor(
      async () => ((await listingOf(run!.id))?.status === "completed" ? true : undefined),
      "the listing to show the run completed",
    );
    const { body } = await api<{ runs: { id: string; status: string }[] }>("/api/v1/runs?functionId=sequential&status=completed&limit=100");
    expect(body.runs.map((r) => r.id)).toContain(run!.id);
    const stub = testEnv.RUNS.get(testEnv.RUNS.idFromName(run!.id));
    const state = await waitFor(
      () =>
        runInDurableObject(stub, async (_instance, ctx) => {
          const timers = ctx.storage.sql.exec("SELECT kind FROM timers").toArray();
          const alarm = await ctx.storage.getAlarm();
          return timers.length === 0 && alarm === null ? { timers, alarm } : undefined;
        }),
      "the object's index-sync timer and alarm to be cleared",
    );
    expect(state).toEqual({ timers: [], alarm: null });
  });
});
