import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { callsOf } from "../engine-fixture/functions";
import worker from "../engine-fixture/index";
import { api, eventStoreFailing, eventStoreWith, onBind, settledRuns, storedEvent } from "./helpers";
import { recording, sendByQueue, shards } from "./queue-path";

/* Ingest's queue path for events over 64 KiB: their bodies go to R2 (EVENT_BODIES) before the answer, and to the event store after. */

const testEnv = env as unknown as Env;
const bucket = testEnv.EVENT_BODIES!;
const pad = "x".repeat(70 * 1024);

type Sent = { id: string; acceptedAt: number; bodyKey?: string; event?: unknown; stored?: false };

const storedAt = async (id: string) => (await storedEvent(id))?.accepted_at;
const runsOf = async (id: string) => (await api<{ runs: { id: string }[] }>(`/api/v1/events/${id}`)).body.runs;

/** Delivers one message to the events consumer with these bindings; answers whether it was acked or retried. */
async function deliver(body: unknown, target: Env = testEnv, msgId = `m-${Math.random()}`): Promise<"acked" | "retried"> {
  const batch = createMessageBatch("stepflare-events", [{ id: msgId, timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, target, ctx);
  const result = await getQueueResult(batch, ctx);
  if (result.explicitAcks.includes(msgId)) return "acked";
  if (result.retryMessages.some((m) => m.msgId === msgId)) return "retried";
  throw new Error(`message ${msgId} was neither acked nor retried`);
}

/** A large event's message as ingest sends it, with its body put in R2. */
async function inR2(id: string, tag: string, acceptedAt = Date.now()) {
  const bodyKey = `events/${acceptedAt}/${id}`;
  await bucket.put(bodyKey, JSON.stringify({ id, name: "test/sequential", data: { tag, n: 1, pad }, ts: acceptedAt }));
  return { v: 1, id, acceptedAt, bodyKey, stored: false as const };
}

describe("large events on the queue path", () => {
  it("puts the body in R2 before the message, writes no D1 nor the event store before the answer, and deletes the object once stored", async () => {
    const statements: string[] = [];
    const calls: string[] = [];
    const sent: unknown[] = [];
    // At each send, the object the message names must already be in R2.
    const heldAtSend = async (body: unknown) => {
      const key = (body as Sent).bodyKey;
      if (key && !(await bucket.head(key))) throw new Error(`message names ${key}, which R2 does not hold`);
    };
    const watched = {
      ...testEnv,
      DB: onBind(testEnv.DB, (sql) => void statements.push(sql)),
      EVENT_STORE: eventStoreWith((method) => void calls.push(method)),
      EVENTS: recording(shards()[0], sent, heldAtSend),
      EVENTS_1: recording(shards()[1], sent, heldAtSend),
    } as unknown as Env;
    const [id] = await sendByQueue({ name: "test/sequential", data: { tag: "r2-large", n: 1, pad } }, watched);
    expect(statements.filter((sql) => /\b(INSERT|UPDATE|DELETE)\b/i.test(sql))).toEqual([]);
    expect(calls).toEqual([]);
    const [message] = sent as Sent[];
    expect(message).toMatchObject({ id, stored: false, bodyKey: expect.stringMatching(/^events\/\d+\//) });
    expect(message!.event).toBeUndefined();

    expect(await settledRuns(id!)).toMatchObject([{ status: "completed", output: [0] }]);
    expect(await storedAt(id!)).toBe(message!.acceptedAt);
    expect((await api<{ event: { data: { pad: string } } }>(`/api/v1/events/${id}`)).body.event.data.pad).toHaveLength(pad.length);
    expect(await bucket.head(message!.bodyKey!)).toBeNull();
  });

  it("keeps the object when storing fails, and runs the event once on the redelivery", async () => {
    const message = await inR2("r2-store-fails", "r2-store-fails");
    const failing = { ...testEnv, EVENT_STORE: eventStoreFailing("store", new Error("shard unavailable")) } as Env;
    expect(await deliver(message, failing)).toBe("retried");
    expect(await bucket.head(message.bodyKey)).not.toBeNull();
    expect(await storedAt(message.id)).toBeUndefined();
    expect(await deliver(message)).toBe("acked");
    expect(await bucket.head(message.bodyKey)).toBeNull();
    expect(await settledRuns(message.id)).toMatchObject([{ status: "completed", output: [0] }]);
  });

  it("fans out from the event store on a redelivery after the object is deleted, and starts no run twice", async () => {
    const message = await inR2("r2-redelivered", "r2-redelivered");
    // Stored and its object deleted, then the fan-out fails: marking the event dispatched is refused.
    const failing = { ...testEnv, EVENT_STORE: eventStoreFailing("markDispatched", new Error("shard unavailable")) } as Env;
    expect(await deliver(message, failing)).toBe("retried");
    expect(await bucket.head(message.bodyKey)).toBeNull();
    expect(await storedAt(message.id)).toBe(message.acceptedAt);
    expect(await deliver(message)).toBe("acked");
    expect(await deliver(message)).toBe("acked");
    expect(await settledRuns(message.id)).toMatchObject([{ status: "completed", output: [0] }]);
    expect(await runsOf(message.id)).toHaveLength(1);
    expect(callsOf("r2-redelivered", "handler")).toBe(1);
  });

  it("acknowledges a duplicate id without a run, deletes its object, and acknowledges its redelivery", async () => {
    const first = await inR2("r2-duplicate", "r2-duplicate");
    expect(await deliver(first)).toBe("acked");
    await settledRuns(first.id);
    const again = await inR2("r2-duplicate", "r2-duplicate-again", first.acceptedAt + 1000);
    expect(await deliver(again)).toBe("acked");
    expect(await bucket.head(again.bodyKey)).toBeNull();
    expect(await deliver(again)).toBe("acked");
    await new Promise((r) => setTimeout(r, 300));
    expect(await runsOf(first.id)).toHaveLength(1);
    expect(callsOf("r2-duplicate-again", "handler")).toBe(0);
    expect(await storedAt(first.id)).toBe(first.acceptedAt);
  });

  it("retries, toward the dead letters, a message whose object is gone and whose event was never stored", async () => {
    const message = { v: 1, id: "r2-lost", acceptedAt: Date.now(), bodyKey: "events/0/never-put", stored: false };
    expect(await deliver(message)).toBe("retried");
  });

  it("without the EVENT_BODIES binding, stores a large event before the answer and sends it by reference", async () => {
    const sent: unknown[] = [];
    const noBucket = {
      ...testEnv,
      EVENT_BODIES: undefined,
      EVENTS: recording(shards()[0], sent),
      EVENTS_1: recording(shards()[1], sent),
    } as unknown as Env;
    const [id] = await sendByQueue({ name: "test/sequential", id: "r2-none", data: { tag: "r2-none", n: 1, pad } }, noBucket);
    expect(await storedAt(id!)).toBeGreaterThan(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]).not.toHaveProperty("bodyKey");
    expect(sent[0]).not.toHaveProperty("event");
    expect(await settledRuns(id!)).toMatchObject([{ status: "completed", output: [0] }]);
  });
});
