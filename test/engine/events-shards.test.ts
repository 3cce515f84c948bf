import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { listedRun } from "../../src/listing/store";
import { queueNamesSchema, shardedBase } from "../../src/queues";
import { sendListing, sendSteps, shardOf } from "../../src/shared/queue-shards";
import { ulid } from "../../src/shared/ulid";
import type { SweeperObject } from "../../src/sweeper/object";
import { callsOf } from "../engine-fixture/functions";
import worker from "../engine-fixture/index";
import { api, BASE, putEvent, sendEvents, settledRuns, waitFor } from "./helpers";
import { recording, sendByQueue, shards } from "./queue-path";

/* The events queue in two shards (test/engine-fixture/wrangler.toml binds EVENTS and EVENTS_1), consumed by the same code. */

const testEnv = env as unknown as Env;
const HOUR = 3_600_000;
const runsOf = async (id: string) => (await api<{ runs: { id: string }[] }>(`/api/v1/events/${id}`)).body.runs;

describe("events queue shards", () => {
  it("sends single-event requests across both shards, and every event runs", async () => {
    const sent: [unknown[], unknown[]] = [[], []];
    const [events, events1] = shards();
    const sharded = { ...testEnv, EVENTS: recording(events, sent[0]), EVENTS_1: recording(events1, sent[1]) } as unknown as Env;
    const ids = Array.from({ length: 12 }, (_, i) => `sharded-${i}`);
    for (const id of ids) await sendByQueue({ name: "test/sequential", id, data: { tag: id, n: 1 } }, sharded);
    const onShard = (n: number) => sent[n]!.map((m) => (m as { id: string }).id).sort();
    expect(onShard(0)).toEqual(ids.filter((id) => shardOf(id, 2) === 0).sort());
    expect(onShard(1)).toEqual(ids.filter((id) => shardOf(id, 2) === 1).sort());
    expect(onShard(0).length).toBeGreaterThan(0);
    expect(onShard(1).length).toBeGreaterThan(0);
    for (const id of ids) expect(await settledRuns(id)).toMatchObject([{ status: "completed", output: [0] }]);
  });

  it("accepts an id sent to both shards once, at the same time or one after the other", async () => {
    const [events, events1] = shards();
    const acceptedAt = Date.now();
    const message = (id: string, tag: string, at: number) => ({
      v: 1,
      id,
      acceptedAt: at,
      event: { id, name: "test/sequential", data: { tag, n: 1 }, ts: at },
      stored: false,
    });
    await Promise.all([
      events.send(message("sharded-twice", "twice-a", acceptedAt)),
      events1.send(message("sharded-twice", "twice-b", acceptedAt + 1)),
    ]);
    expect(await settledRuns("sharded-twice")).toMatchObject([{ status: "completed", output: [0] }]);
    // Delivered by each shard's name, shard 1 first and run to the end, then shard 0, later, within the dedupe window.
    for (const [queue, tag, at] of [
      ["stepflare-events-1", "after-1", acceptedAt],
      ["stepflare-events", "after-0", acceptedAt + 1000],
    ] as const) {
      const batch = createMessageBatch(queue, [{ id: tag, timestamp: new Date(), attempts: 1, body: message("sharded-after", tag, at) }]);
      const ctx = createExecutionContext();
      await worker.queue(batch, testEnv, ctx);
      expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([tag]);
      expect(await settledRuns("sharded-after")).toMatchObject([{ status: "completed", output: [0] }]);
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const id of ["sharded-twice", "sharded-after"]) expect(await runsOf(id)).toHaveLength(1);
    expect(callsOf("twice-a", "handler") + callsOf("twice-b", "handler")).toBe(1);
    expect([callsOf("after-1", "handler"), callsOf("after-0", "handler")]).toEqual([1, 0]);
  });

  it("sends to the shard of each event's id from the store path, a sweep and a dispatch too", async () => {
    const sent: [unknown[], unknown[]] = [[], []];
    const [events, events1] = shards();
    const sharded = { ...testEnv, EVENTS: recording(events, sent[0]), EVENTS_1: recording(events1, sent[1]) } as unknown as Env;
    const onShard = () => [0, 1].map((n) => sent[n]!.map((m) => (m as { id: string }).id).sort());
    const expected = (ids: string[]) => [0, 1].map((n) => ids.filter((id) => shardOf(id, 2) === n).sort());
    const ids = Array.from({ length: 8 }, (_, i) => `store-sharded-${i}`);
    // The store path: a request without cf-ray, as in local dev.
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${BASE}/e/test-key`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(ids.map((id) => ({ name: "nobody/listens", id }))),
      }),
      sharded,
      ctx,
    );
    expect(res.status).toBe(200);
    await waitOnExecutionContext(ctx);
    expect(onShard()).toEqual(expected(ids));
    expect(expected(ids).every((shard) => shard.length > 0)).toBe(true);
    // A dispatch of each.
    sent[0].length = 0;
    sent[1].length = 0;
    for (const id of ids) {
      const dispatched = await worker.fetch(
        new Request(`${BASE}/api/v1/events/${id}/dispatch`, { method: "POST" }),
        sharded,
        createExecutionContext(),
      );
      expect(dispatched.status).toBe(202);
    }
    expect(onShard()).toEqual(expected(ids));
    // A sweep of events stored a minute ago and never sent.
    sent[0].length = 0;
    sent[1].length = 0;
    const lost = Array.from({ length: 8 }, (_, i) => `sweep-sharded-${i}`);
    await Promise.all(lost.map((id) => putEvent({ id, name: "nobody/listens", acceptedAt: Date.now() - 60_000 })));
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("sharded-sweep"));
    await runInDurableObject(sweeper, async (instance: SweeperObject) => {
      const holder = instance as unknown as { env: Env };
      const real = holder.env;
      holder.env = sharded;
      try {
        expect(await instance.sweep()).toBe(lost.length);
      } finally {
        holder.env = real;
      }
    });
    expect(onShard()).toEqual(expected(lost));
  });

  it("names shards <queue>-1, <queue>-2, ... of the events, steps and listing queues, and nothing else", () => {
    const names = queueNamesSchema.parse({});
    for (const base of ["stepflare-events", "stepflare-steps", "stepflare-listing"]) {
      expect([base, `${base}-1`, `${base}-12`].map((q) => shardedBase(names, q))).toEqual([base, base, base]);
    }
    const others = ["stepflare-events-dlq", "stepflare-events-0", "stepflare-events-", "stepflare-steps-dlq", "stepflare-failures-1"];
    expect(others.map((q) => shardedBase(names, q))).toEqual(others);
  });

  it("sends steps and listing rows to the shard of their run: one alone with send, more in batches", async () => {
    const sent: [unknown[], unknown[]] = [[], []];
    const bound = testEnv as unknown as Record<string, Queue<unknown>>;
    const sharded = {
      ...testEnv,
      STEPS: recording(bound.STEPS!, sent[0]),
      STEPS_1: recording(bound.STEPS_1!, sent[1]),
      LISTING: recording(bound.LISTING!, sent[0]),
      LISTING_1: recording(bound.LISTING_1!, sent[1]),
    } as unknown as Env;
    const runIds = Array.from({ length: 12 }, (_, i) => ulid(Date.now() - 10 * HOUR - i));
    // Steps of runs that do not exist: their consumer refuses each claim, and they are left alone.
    await sendSteps(
      sharded,
      runIds.map((runId) => ({ v: 1 as const, runId, planSeq: 0, gen: 0, steps: [{ key: "none", attempt: 1 }] })),
    );
    const onShard = (n: number) => sent[n]!.map((m) => (m as { runId?: string; id?: string }).runId ?? (m as { id: string }).id).sort();
    const expected = (n: number) => runIds.filter((id) => shardOf(id, 2) === n).sort();
    expect([onShard(0), onShard(1)]).toEqual([expected(0), expected(1)]);
    sent[0].length = 0;
    sent[1].length = 0;
    const rows = runIds.map((id) => ({
      v: 1 as const,
      id,
      functionId: "sharded-listing",
      eventId: `ev-${id}`,
      status: "completed" as const,
      startedAt: Date.now() - 10 * HOUR,
      endedAt: Date.now() - 10 * HOUR,
      errorCode: null,
      version: 2,
    }));
    await sendListing(sharded, rows);
    expect([onShard(0), onShard(1)]).toEqual([expected(0), expected(1)]);
    // Both listing shards are consumed as the listing queue: every row is listed.
    for (const id of runIds) await waitFor(async () => (await listedRun(testEnv, id)) ?? undefined, `the row of ${id}`);
  });

  it("consumes a shard of the steps queue as the steps queue", async () => {
    const [id] = await sendEvents({ name: "test/parallel", data: { tag: "steps-shard", n: 4 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    // A stale message for that run's step, on the second shard: the steps consumer takes it and refuses the claim.
    const batch = createMessageBatch("stepflare-steps-1", [
      {
        id: "stale-step",
        timestamp: new Date(),
        attempts: 1,
        body: { v: 1, runId: run!.id, planSeq: 0, gen: 0, steps: [{ key: "p0", attempt: 1 }] },
      },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["stale-step"]);
  });
});
