import {
  abortAllDurableObjects,
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import worker from "../engine-fixture/index";
import { api, inListing, sendEvents, settledRuns, waitFor } from "./helpers";

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
  return inListing<{ status: string; ended_at: number | null; error_code: string | null; version: number }>(
    id,
    "SELECT status, ended_at, error_code, version FROM runs WHERE id = ?",
    id,
  );
}

async function objectTimersAndAlarm(runId: string) {
  const stub = testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
  return runInDurableObject(stub, async (_instance, ctx) => {
    // An ended run keeps one timer, its expiry (retention): the alarm points at it and at nothing sooner.
    const expiry = ctx.storage.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE kind = 'expire'").toArray()[0]?.due_at;
    const alarm = await ctx.storage.getAlarm();
    return {
      timers: ctx.storage.sql.exec("SELECT kind FROM timers WHERE kind != 'expire'").toArray(),
      alarm: alarm !== null && alarm === expiry ? "expiry" : alarm,
    };
  });
}

describe("the run listing", () => {
  it("writes a delivery's rows, keeps the newest version whatever the order, and retries a malformed message", async () => {
    const batch = createMessageBatch("stepflare-listing", [
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
    const late = createMessageBatch("stepflare-listing", [
      { id: "x1-again", timestamp: new Date(), attempts: 2, body: row("listing-x", 1, "running") },
    ]);
    await worker.queue(late, testEnv, ctx);
    expect((await listingOf("listing-x"))?.status).toBe("failed");
  });

  it("writes a dead-lettered listing row that is well formed, and records only a malformed one as a poison dead letter", async () => {
    // A well-formed row reaches the dead-letter queue only because its shard kept failing:
    // its run object has let it go, so dropping it would leave the listing stale.
    const batch = createMessageBatch("stepflare-listing-dlq", [
      { id: "stale-1", timestamp: new Date(), attempts: 11, body: row("listing-dlq", 3, "completed") },
      { id: "poison-1", timestamp: new Date(), attempts: 3, body: { hello: "listing" } as unknown },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["poison-1", "stale-1"]);
    expect(result.retryMessages).toEqual([]);
    expect(await listingOf("listing-dlq")).toEqual({ status: "completed", ended_at: 2003, error_code: null, version: 3 });
    const stored = await testEnv.DB.prepare("SELECT id, source, error_code, body FROM dead_letters WHERE id LIKE ?")
      .bind("stepflare-listing-dlq.%")
      .all();
    expect(stored.results).toEqual([
      {
        id: "stepflare-listing-dlq.poison-1",
        source: "stepflare-listing",
        error_code: "poison_message",
        body: '{"hello":"listing"}',
      },
    ]);
  });

  it("hands a dead-lettered row its shard still refuses back to its run object, which sends it again: the listing converges", async () => {
    const [eventId] = await sendEvents({ name: "test/parallel", data: { tag: "listing-hand-back", n: 2 } });
    const [run] = await settledRuns(eventId!);
    const stub = () => testEnv.RUNS.get(testEnv.RUNS.idFromName(run!.id));
    await waitFor(async () => {
      const s = await objectTimersAndAlarm(run!.id);
      return (await listingOf(run!.id))?.status === "completed" && s.timers.length === 0 ? true : undefined;
    }, "the listing row and the object's timers to be cleared");
    // The row its shard refused through the listing queue's retries reaches the dead-letter queue while the shard still fails.
    await inListing(run!.id, "DELETE FROM runs WHERE id = ?", run!.id);
    const failing = {
      idFromName: (name: string) => testEnv.RUN_LISTING.idFromName(name),
      get: () => ({ upsert: () => Promise.reject(new Error("the shard is down")) }),
    } as unknown as Env["RUN_LISTING"];
    const body = { ...row(run!.id, 2, "completed"), functionId: "parallel", eventId: eventId!, endedAt: Date.parse(run!.endedAt!) };
    const batch = createMessageBatch("stepflare-listing-dlq", [{ id: "still-down", timestamp: new Date(), attempts: 10, body }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...testEnv, RUN_LISTING: failing }, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["still-down"]);
    // The shard is back when the object's listing-sync timer comes due.
    await runInDurableObject(stub(), (_instance, ctx) => {
      ctx.storage.sql.exec("UPDATE timers SET due_at = ?", Date.now());
    });
    await abortAllDurableObjects();
    expect(await runDurableObjectAlarm(stub())).toBe(true);
    const listed = await waitFor(async () => (await listingOf(run!.id)) ?? undefined, "the listing row to be written again");
    expect(listed).toMatchObject({ status: "completed", version: 2 });
  });

  it("lists a run that ends in its first turn from the fan-out's batch, final, with no alarm but its expiry", async () => {
    const [eventId] = await sendEvents({ name: "test/sequential", data: { tag: "listing-one", n: 1 } });
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("completed");
    const listed = await waitFor(async () => (await listingOf(run!.id)) ?? undefined, "the listing row");
    expect(listed).toEqual({ status: "completed", ended_at: Date.parse(run!.endedAt!), error_code: null, version: 2 });
    expect(await objectTimersAndAlarm(run!.id)).toEqual({ timers: [], alarm: "expiry" });
  });

  it("answers start() after the run's first turn: final for a run that ended in it, running for one that waits", async () => {
    const start = (runId: string, name: string, data: Record<string, unknown>, functionId: string) =>
      testEnv.RUNS.get(testEnv.RUNS.idFromName(runId)).start({
        runId,
        functionId,
        event: { id: `event-of-${runId}`, name, data, ts: Date.now() },
      });
    const quick = await start("start-quick", "test/sequential", { tag: "start-quick", n: 2 }, "sequential");
    expect(quick).toMatchObject({ created: true, status: "completed", errorCode: null, version: 2 });
    expect(quick.endedAt).toBeGreaterThanOrEqual(quick.startedAt);
    const slow = await start("start-slow", "test/parallel", { tag: "start-slow", n: 2, delays: [200, 200] }, "parallel");
    expect(slow).toMatchObject({ created: true, status: "running", endedAt: null, version: 1 });
    // The run waiting on its steps holds its lease alarm; the quick one set only its expiry's.
    expect((await objectTimersAndAlarm("start-slow")).alarm).toEqual(expect.any(Number));
    expect((await objectTimersAndAlarm("start-quick")).alarm).toBe("expiry");
    const again = await start("start-quick", "test/sequential", { tag: "start-quick", n: 2 }, "sequential");
    expect(again).toMatchObject({ created: false, status: "completed", version: 2 });
  });

  it("lists a run that outlives its first turn through the listing queue, then clears its timers and alarm but its expiry", async () => {
    const [eventId] = await sendEvents({ name: "test/parallel", data: { tag: "listing-two", n: 3 } });
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("completed");
    await waitFor(
      async () => ((await listingOf(run!.id))?.status === "completed" ? true : undefined),
      "the listing to show the run completed",
    );
    const { body } = await api<{ runs: { id: string; status: string }[] }>("/api/v1/runs?functionId=parallel&status=completed&limit=100");
    expect(body.runs.map((r) => r.id)).toContain(run!.id);
    const state = await waitFor(async () => {
      const s = await objectTimersAndAlarm(run!.id);
      return s.timers.length === 0 && s.alarm === "expiry" ? s : undefined;
    }, "the object's listing-sync timer cleared and its alarm at its expiry");
    expect(state).toEqual({ timers: [], alarm: "expiry" });
  });

  it("re-sends a listing row from the object's listing-sync timer, as after a lost send", async () => {
    const [eventId] = await sendEvents({ name: "test/parallel", data: { tag: "listing-resend", n: 2 } });
    const [run] = await settledRuns(eventId!);
    await waitFor(async () => ((await listingOf(run!.id))?.status === "completed" ? true : undefined), "the listing row");
    // The row is gone (as if the send had been lost) and the object's retry timer comes due.
    await inListing(run!.id, "DELETE FROM runs WHERE id = ?", run!.id);
    const stub = testEnv.RUNS.get(testEnv.RUNS.idFromName(run!.id));
    await runInDurableObject(stub, async (_instance, ctx) => {
      ctx.storage.sql.exec("INSERT INTO timers (kind, ref, due_at) VALUES ('listing-sync', 'run', ?)", Date.now());
    });
    await abortAllDurableObjects(); // the next instance reads the timer from storage
    expect(await runDurableObjectAlarm(testEnv.RUNS.get(testEnv.RUNS.idFromName(run!.id)))).toBe(true);
    const listed = await waitFor(async () => (await listingOf(run!.id)) ?? undefined, "the listing row to be written again");
    expect(listed).toMatchObject({ status: "completed", version: 2 });
  });
});
