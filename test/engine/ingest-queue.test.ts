import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { callsOf } from "../engine-fixture/functions";
import worker from "../engine-fixture/index";
import { acceptedAtOf, api, eventStoreWith, onBind, sendEvents, settledRuns, waitFor } from "./helpers";
import { recording, sendByQueue, shards } from "./queue-path";

/* Ingest's queue path: a request that came through Cloudflare's edge (it carries `cf-ray`) is answered once the events queue has it. */

const testEnv = env as unknown as Env;

const runsOf = async (id: string) => (await api<{ runs: { id: string }[] }>(`/api/v1/events/${id}`)).body.runs;

describe("ingest's queue path", () => {
  it("answers without writing D1 or the event store, then stores the event and runs it", async () => {
    const statements: string[] = [];
    const calls: string[] = [];
    const watched = {
      ...testEnv,
      DB: onBind(testEnv.DB, (sql) => void statements.push(sql)),
      EVENT_STORE: eventStoreWith((method) => void calls.push(method)),
    } as Env;
    const [id] = await sendByQueue({ name: "test/sequential", data: { tag: "queue-path-1", n: 2 } }, watched);
    expect(statements.filter((sql) => /\b(INSERT|UPDATE|DELETE)\b/i.test(sql))).toEqual([]);
    expect(calls).toEqual([]);
    const [run] = await settledRuns(id!);
    expect(run).toMatchObject({ status: "completed", output: [0, 2] });
    expect(await acceptedAtOf(id!)).toBeGreaterThan(0);
    expect((await api<{ event: { data: unknown } }>(`/api/v1/events/${id}`)).body.event.data).toEqual({ tag: "queue-path-1", n: 2 });
  });

  it("starts one run for an id sent twice in one request and again in another", async () => {
    const event = { name: "test/sequential", id: "queue-dup-1", data: { tag: "queue-dup-1", n: 1 } };
    expect(await sendByQueue([event, event])).toEqual(["queue-dup-1", "queue-dup-1"]);
    await settledRuns("queue-dup-1");
    const acceptance = await acceptedAtOf("queue-dup-1");
    await sendByQueue({ ...event, data: { tag: "queue-dup-1", n: 5 } });
    await new Promise((r) => setTimeout(r, 500));
    expect(await runsOf("queue-dup-1")).toHaveLength(1);
    expect(await acceptedAtOf("queue-dup-1")).toBe(acceptance);
    expect(callsOf("queue-dup-1", "handler")).toBe(1);
  });

  it("deduplicates across the two paths, in either order", async () => {
    const first = { name: "test/sequential", id: "cross-path-1", data: { tag: "cross-path-1", n: 1 } };
    await sendEvents(first);
    await sendByQueue(first);
    const second = { name: "test/sequential", id: "cross-path-2", data: { tag: "cross-path-2", n: 1 } };
    await sendByQueue(second);
    await settledRuns("cross-path-2");
    await sendEvents(second);
    await settledRuns("cross-path-1");
    await new Promise((r) => setTimeout(r, 500));
    expect(await runsOf("cross-path-1")).toHaveLength(1);
    expect(await runsOf("cross-path-2")).toHaveLength(1);
    expect(callsOf("cross-path-1", "handler") + callsOf("cross-path-2", "handler")).toBe(2);
  });

  it("fans a redelivered message out once, and acknowledges a duplicate without a run", async () => {
    const acceptedAt = Date.now();
    const event = { id: "queue-redelivered", name: "test/sequential", data: { tag: "queue-redelivered", n: 1 }, ts: acceptedAt };
    const message = { v: 1, id: event.id, acceptedAt, event, stored: false };
    for (const attempts of [1, 2]) {
      const batch = createMessageBatch("stepflare-events", [{ id: `m${attempts}`, timestamp: new Date(), attempts, body: message }]);
      const ctx = createExecutionContext();
      await worker.queue(batch, testEnv, ctx);
      expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`m${attempts}`]);
    }
    const later = { ...message, acceptedAt: acceptedAt + 1000, event: { ...event, data: { tag: "queue-redelivered", n: 3 } } };
    const batch = createMessageBatch("stepflare-events", [{ id: "m3", timestamp: new Date(), attempts: 1, body: later }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m3"]);
    const [run] = await settledRuns(event.id);
    expect(run).toMatchObject({ status: "completed", output: [0] });
    expect(await runsOf(event.id)).toHaveLength(1);
    expect(callsOf("queue-redelivered", "handler")).toBe(1);
    expect(await acceptedAtOf(event.id)).toBe(acceptedAt);
  });

  it("resumes a wait with a payment sent at once after the order", async () => {
    const [created] = await sendByQueue({ name: "test/order.created", data: { tag: "queue-order", orderId: "qo-1" } });
    await sendByQueue({ name: "test/order.paid", data: { orderId: "qo-1", amount: 7 } });
    const [run] = await settledRuns(created!);
    expect(run).toMatchObject({ status: "completed", output: { paid: { orderId: "qo-1", amount: 7 } } });
  });

  it("packs a request's events ten to a message, and runs every one", async () => {
    const sent: unknown[] = [];
    // Both shards of the events queue: each message goes to one of them.
    const counting = { ...testEnv, EVENTS: recording(shards()[0], sent), EVENTS_1: recording(shards()[1], sent) } as unknown as Env;
    const ids = await sendByQueue(
      Array.from({ length: 25 }, (_, i) => ({ name: "test/sequential", id: `packed-${i}`, data: { tag: `packed-${i}`, n: 1 } })),
      counting,
    );
    expect(sent.map((b) => (b as { events?: unknown[] }).events?.length ?? 1).sort((a, b) => b - a)).toEqual([10, 10, 5]);
    for (const id of ids) expect(await settledRuns(id)).toMatchObject([{ status: "completed", output: [0] }]);
  });

  it("retries a packed message whole when one of its events fails, and starts no run twice", async () => {
    const [order] = await sendByQueue({ name: "test/order.created", data: { tag: "pack-order", orderId: "pack-o" } });
    await waitFor(
      async () => (await testEnv.DB.prepare("SELECT 1 AS x FROM waits WHERE match_value = ?").bind('"pack-o"').first()) ?? undefined,
      "the order's wait to be registered",
    );
    const acceptedAt = Date.now();
    const body = {
      v: 1,
      acceptedAt,
      stored: false,
      events: [
        { id: "pack-a", name: "test/sequential", data: { tag: "pack-a", n: 1 }, ts: acceptedAt },
        { id: "pack-b", name: "test/order.paid", data: { orderId: "pack-o", amount: 3 }, ts: acceptedAt },
      ],
    };
    // Offering pay-b to the waiting run fails once: D1 refuses the waits lookup for its order.
    const failing = {
      ...testEnv,
      DB: onBind(testEnv.DB, (sql, values) =>
        sql.includes("FROM waits WHERE name = ?1 AND match_path") && values[2] === '"pack-o"'
          ? testEnv.DB.prepare("SELECT * FROM no_such_table")
          : undefined,
      ),
    } as Env;
    for (const [target, settled] of [
      [failing, "retried"],
      [testEnv, "acked"],
    ] as const) {
      const batch = createMessageBatch("stepflare-events", [{ id: "m-pack", timestamp: new Date(), attempts: 1, body }]);
      const ctx = createExecutionContext();
      await worker.queue(batch, target, ctx);
      const result = await getQueueResult(batch, ctx);
      expect(settled === "retried" ? result.retryMessages.map((m) => m.msgId) : result.explicitAcks).toEqual(["m-pack"]);
    }
    expect(await settledRuns("pack-a")).toMatchObject([{ status: "completed", output: [0] }]);
    expect(callsOf("pack-a", "handler")).toBe(1);
    expect(await settledRuns(order!)).toMatchObject([{ status: "completed", output: { paid: { orderId: "pack-o", amount: 3 } } }]);
  });
});
