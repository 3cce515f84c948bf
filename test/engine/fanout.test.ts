import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, RunDetail } from "../../src";
import { callsOf, down, fixed } from "../engine-fixture/functions";
import worker from "../engine-fixture/index";
import {
  acceptedAtOf,
  api,
  BASE,
  eventStoreFailing,
  inEventShard,
  sendEvents,
  settledRuns,
  storedEvent,
  waitFor,
  withFailingMethod,
} from "./helpers";

const testEnv = env as unknown as Env;

/** The test Worker's bindings with both shards of the events queue (test/engine-fixture/wrangler.toml) refusing every send. */
const queueDown = (refused: () => Promise<never>): Env => {
  const down = { send: refused, sendBatch: refused } as unknown as Queue;
  return { ...testEnv, EVENTS: down, EVENTS_1: down } as Env;
};

async function deliver(messages: { id: string; body: unknown; attempts?: number }[], withEnv: Env = testEnv) {
  const batch = createMessageBatch(
    "stepflare-events",
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, withEnv, ctx);
  return getQueueResult(batch, ctx);
}

describe("events consumer", () => {
  it("runs each subscriber of an event on its own: one failing neither holds up nor re-runs the other, and a replay runs only it", async () => {
    const tag = "fan-out-isolation";
    down.add(tag); // fan-out-fails's step waits until this is lifted, then fails
    const [id] = await sendEvents({ name: "test/fan-out", data: { tag } });
    type Listed = { runs: { id: string; functionId: string; status: string }[] };
    const byFunction = async () => new Map((await api<Listed>(`/api/v1/events/${id}`)).body.runs.map((r) => [r.functionId, r.id] as const));
    const runIds = await waitFor(async () => ((await byFunction()).size === 2 ? byFunction() : undefined), "both runs");
    const detail = async (fn: string) => (await api<RunDetail>(`/api/v1/runs/${runIds.get(fn)}`)).body;
    // The sibling completes while the other's first attempt is still out.
    const sibling = await waitFor(async () => {
      const d = await detail("fan-out-sibling");
      return d.status === "completed" ? d : undefined;
    }, "the sibling to complete");
    expect(sibling).toMatchObject({ output: "worked", attempt: 0, steps: [{ id: "work", attempts: 1 }] });
    expect(await detail("fan-out-fails")).toMatchObject({ status: "running", steps: [{ id: "call", status: "running", attempts: 1 }] });
    down.delete(tag);
    const failed = await waitFor(async () => {
      const d = await detail("fan-out-fails");
      return d.status === "failed" ? d : undefined;
    }, "the failing run to spend its retries");
    expect(failed).toMatchObject({ error: { message: "provider is down" }, steps: [{ id: "call", status: "failed", attempts: 3 }] });
    fixed.add(tag);
    expect((await api(`/api/v1/runs/${failed.id}/replay`, { method: "POST" })).status).toBe(200);
    await waitFor(async () => ((await detail("fan-out-fails")).status === "completed" ? true : undefined), "the replay to complete");
    expect(callsOf(tag, "call")).toBe(4);
    // The sibling ran once, through all of it, and is exactly as it was.
    expect([callsOf(tag, "sibling-handler"), callsOf(tag, "work")]).toEqual([1, 1]);
    expect(await detail("fan-out-sibling")).toEqual(sibling);
  });

  it("makes no second run when a message is delivered twice, and acknowledges each message", async () => {
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "redeliver", n: 1 } });
    const [first] = await settledRuns(id!);
    const row = await storedEvent(id!);
    const body = { v: 1, id, acceptedAt: row!.accepted_at, event: JSON.parse(row!.payload) };
    const byReference = { v: 1, id, acceptedAt: row!.accepted_at };
    const result = await deliver([
      { id: "m1", body },
      { id: "m2", body: byReference },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
    const runs = await api<{ runs: { id: string }[] }>(`/api/v1/events/${id}`);
    expect(runs.body.runs.map((r) => r.id)).toEqual([first!.id]);
    const detail = await testEnv.RUNS.get(testEnv.RUNS.idFromName(first!.id)).getDetail();
    expect(detail?.steps).toHaveLength(1);
  });

  it("reads events carried by reference a wave of ten at a time: a failed read retries only its wave", async () => {
    const ids = await sendEvents(Array.from({ length: 13 }, () => ({ name: "nobody/listens" })));
    const byId = new Map(await Promise.all(ids.map(async (id) => [id, (await storedEvent(id))!] as const)));
    const messages = ids.map((id, i) => {
      const row = byId.get(id)!;
      // The last one inline, the other twelve by reference (as large or swept events travel).
      const body = { v: 1, id, acceptedAt: row.accepted_at, ...(i === 12 ? { event: JSON.parse(row.payload) } : {}) };
      return { id: `m${i}`, body };
    });
    // Reads of the first ten fail, as a shard that cannot answer; each wave's reads are one call per shard.
    const firstWave = new Set(ids.slice(0, 10));
    const reads: string[][] = [];
    const flaky = eventStoreFailing("load", new Error("shard read failed"), (args) => {
      const read = (args[0] as [string, number][]).map(([id]) => id);
      reads.push(read);
      return read.some((id) => firstWave.has(id));
    });
    const result = await deliver(messages, { ...testEnv, EVENT_STORE: flaky });
    expect(reads.flat().sort()).toEqual(ids.slice(0, 12).sort());
    expect(reads.every((r) => r.every((id) => firstWave.has(id)) || r.every((id) => !firstWave.has(id)))).toBe(true);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(
      messages
        .slice(0, 10)
        .map((m) => m.id)
        .sort(),
    );
    expect(result.explicitAcks.sort()).toEqual(["m10", "m11", "m12"]);
  });

  it("retries a malformed message and a message for an unknown event, and acknowledges its good siblings", async () => {
    const [id] = await sendEvents({ name: "nobody/listens" });
    const row = await storedEvent(id!);
    const result = await deliver([
      { id: "good", body: { v: 1, id, acceptedAt: row!.accepted_at } },
      { id: "garbage", body: { hello: "world" } },
      { id: "unknown", body: { v: 1, id: "no-such-event", acceptedAt: 1 } },
    ]);
    expect(result.explicitAcks).toEqual(["good"]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["garbage", "unknown"]);
  });

  it("lists the runs that started when a sibling's start failed, and retries the event to start the rest", async () => {
    const [id] = await sendEvents({ name: "nobody/listens" });
    const row = await storedEvent(id!);
    const event = { id: id!, name: "wild/pair", data: {}, ts: 1 };
    const body = { v: 1, id, acceptedAt: row!.accepted_at, event };
    const { runIdFor } = await import("../../src/fanout/run-id");
    const failing = await runIdFor("wild-pair", id!, row!.accepted_at);
    // The start of wild-pair's run fails, as an object that cannot answer.
    const runs = withFailingMethod(testEnv.RUNS, testEnv.RUNS.idFromName(failing), "start", new Error("object unavailable"));
    const first = await deliver([{ id: "pair", body }], { ...testEnv, RUNS: runs });
    expect(first.retryMessages.map((m) => m.msgId)).toEqual(["pair"]);
    const listed = await api<{ runs: { functionId: string; status: string }[] }>(`/api/v1/events/${id}`);
    expect(listed.body.runs).toEqual([expect.objectContaining({ functionId: "wildcard", status: "completed" })]);
    expect((await storedEvent(id!))!.dispatched_at).toBeNull();

    const second = await deliver([{ id: "pair", body, attempts: 2 }]);
    expect(second.explicitAcks).toEqual(["pair"]);
    const both = await api<{ runs: { functionId: string; status: string }[] }>(`/api/v1/events/${id}`);
    expect(both.body.runs.map((r) => `${r.functionId}:${r.status}`).sort()).toEqual(["wild-pair:completed", "wildcard:completed"]);
  });

  it("dispatches again on request an event whose fan-out gave up, and starts nothing twice for one dispatched already", async () => {
    // Accepted while the events queue refused it, then given up by the sweeper (as after five failed fan-outs).
    const refused = () => Promise.reject(new Error("queue unavailable"));
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${BASE}/e/test-key`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "test/sequential", data: { tag: "redispatch", n: 1 } }),
      }),
      queueDown(refused),
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const { ids } = (await res.json()) as { ids: string[] };
    const id = ids[0]!;
    await inEventShard(id, (await acceptedAtOf(id))!, "UPDATE events SET sweeps = 5 WHERE id = ?", id);
    expect((await api<{ dispatched: boolean; runs: unknown[] }>(`/api/v1/events/${id}`)).body).toMatchObject({
      dispatched: false,
      runs: [],
    });

    const dispatch = () =>
      api<{ id: string; wasDispatched: boolean; enqueued: boolean }>(`/api/v1/events/${id}/dispatch`, { method: "POST" });
    expect(await dispatch()).toEqual({ status: 202, body: { id, wasDispatched: false, enqueued: true } });
    const [run] = await settledRuns(id);
    expect(run).toMatchObject({ status: "completed", output: [0] });
    const sweeps = await storedEvent(id);
    expect(sweeps!.sweeps).toBe(0);
    expect(sweeps!.dispatched_at).not.toBeNull();

    expect(await dispatch()).toMatchObject({ status: 202, body: { wasDispatched: true } });
    await new Promise((r) => setTimeout(r, 500));
    expect(callsOf("redispatch", "handler")).toBe(1);
    expect((await api<{ runs: { id: string }[] }>(`/api/v1/events/${id}`)).body.runs.map((r) => r.id)).toEqual([run!.id]);
    expect(await api(`/api/v1/events/no-such-event/dispatch`, { method: "POST" })).toMatchObject({
      status: 404,
      body: { error: { code: "event_not_found" } },
    });
  });

  it("answers 503 dispatch_failed when the events queue does not take a dispatch, and the call succeeds once it does", async () => {
    const [id] = await sendEvents({ name: "nobody/listens" });
    const refused = () => Promise.reject(new Error("queue unavailable"));
    const dispatch = (e: Env) =>
      worker.fetch(new Request(`${BASE}/api/v1/events/${id}/dispatch`, { method: "POST" }), e, createExecutionContext());
    const down = await dispatch(queueDown(refused));
    expect({ status: down.status, body: await down.json() }).toMatchObject({
      status: 503,
      body: { error: { code: "dispatch_failed", message: expect.stringContaining("call again") } },
    });
    expect((await dispatch(testEnv)).status).toBe(202);
  });

  it("derives one run id from a function, an event and its acceptance, and another for another acceptance or function", async () => {
    const { runIdFor } = await import("../../src/fanout/run-id");
    const a = await runIdFor("f", "e", 1000);
    expect(await runIdFor("f", "e", 1000)).toBe(a);
    expect(await runIdFor("f", "e", 2000)).not.toBe(a);
    expect(await runIdFor("g", "e", 1000)).not.toBe(a);
    void exports;
  });
});
