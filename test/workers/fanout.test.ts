import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import worker from "../worker/index";
import { api, sendEvents, settledRuns } from "./helpers";

const testEnv = env as unknown as Env;

async function deliver(messages: { id: string; body: unknown; attempts?: number }[]) {
  const batch = createMessageBatch(
    "stepflare-events",
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, testEnv, ctx);
  return getQueueResult(batch, ctx);
}

describe("events consumer", () => {
  it("makes no second run when a message is delivered twice, and acknowledges each message", async () => {
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "redeliver", n: 1 } });
    const [first] = await settledRuns(id!);
    const row = await testEnv.DB.prepare("SELECT payload, accepted_at FROM events WHERE id = ?")
      .bind(id)
      .first<{ payload: string; accepted_at: number }>();
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

  it("retries a malformed message and a message for an unknown event, and acknowledges its good siblings", async () => {
    const [id] = await sendEvents({ name: "nobody/listens" });
    const row = await testEnv.DB.prepare("SELECT accepted_at FROM events WHERE id = ?").bind(id).first<{ accepted_at: number }>();
    const result = await deliver([
      { id: "good", body: { v: 1, id, acceptedAt: row!.accepted_at } },
      { id: "garbage", body: { hello: "world" } },
      { id: "unknown", body: { v: 1, id: "no-such-event", acceptedAt: 1 } },
    ]);
    expect(result.explicitAcks).toEqual(["good"]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["garbage", "unknown"]);
  });

  it("gives the same run ids to a redelivery and new ones to a new acceptance of the id after the window", async () => {
    const { runIdFor } = await import("../../src/fanout/run-id");
    const a = await runIdFor("f", "e", 1000);
    expect(await runIdFor("f", "e", 1000)).toBe(a);
    expect(await runIdFor("f", "e", 2000)).not.toBe(a);
    expect(await runIdFor("g", "e", 1000)).not.toBe(a);
    void exports;
  });
});
