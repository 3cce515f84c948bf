import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { MAX_SWEEPS, STALE_UNDISPATCHED, type SweeperObject } from "../../src/sweeper/object";
import { api, settledRuns } from "./helpers";

const testEnv = env as unknown as Env;

/** Stores an event as accepted a minute ago and never fanned out (as after a local restart); answers its acceptance time. */
async function storeUndispatched(id: string, tag: string): Promise<number> {
  const acceptedAt = Date.now() - 60_000;
  const event = { id, name: "test/sequential", data: { tag, n: 1 }, ts: acceptedAt };
  await testEnv.DB.prepare("INSERT INTO events (id, name, payload, ts, accepted_at) VALUES (?, ?, ?, ?, ?)")
    .bind(event.id, event.name, JSON.stringify(event), event.ts, acceptedAt)
    .run();
  return acceptedAt;
}

describe("the sweeper", () => {
  it("re-enqueues an accepted event whose queue message was lost, and gives up after five sweeps", async () => {
    const acceptedAt = await storeUndispatched("lost-in-queue", "swept");
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("sweeper"));
    expect(await sweeper.sweep()).toBe(1);
    const [run] = await settledRuns("lost-in-queue");
    expect(run!.status).toBe("completed");
    const { body } = await api<{ dispatched: boolean }>("/api/v1/events/lost-in-queue");
    expect(body.dispatched).toBe(true);
    expect(await sweeper.sweep()).toBe(0);

    // One that can never be fanned out (its stored payload is unusable) is swept five times, then left to the dead letters.
    await testEnv.DB.prepare("INSERT INTO events (id, name, payload, ts, accepted_at) VALUES ('broken', 'x/y', '{}', 0, ?)")
      .bind(acceptedAt)
      .run();
    const counts = [];
    for (let i = 0; i < 6; i++) counts.push(await sweeper.sweep());
    expect(counts).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it("finds stale events through the partial index that leaves out events with no sweeps left", async () => {
    const plan = await testEnv.DB.prepare(`EXPLAIN QUERY PLAN ${STALE_UNDISPATCHED}`).bind(0, 10).all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join("\n")).toContain("USING INDEX events_sweepable");
    // The index's condition, as the migration wrote it, is the sweeper's limit.
    const index = await testEnv.DB.prepare("SELECT sql FROM sqlite_master WHERE name = 'events_sweepable'").first<{ sql: string }>();
    expect(index?.sql).toContain(`sweeps < ${MAX_SWEEPS}`);
  });

  it("keeps an event's sweeps through a queue outage: only a sweep whose messages reached the queue counts", async () => {
    const event = { id: "queue-outage" };
    await storeUndispatched(event.id, "outage");
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("outage-sweeper"));
    const down = { send: () => Promise.reject(new Error("queue down")), sendBatch: () => Promise.reject(new Error("queue down")) };
    await runInDurableObject(sweeper, async (instance: SweeperObject) => {
      const holder = instance as unknown as { env: Env };
      const real = holder.env;
      holder.env = { ...real, EVENTS: down as unknown as Env["EVENTS"] };
      try {
        for (let i = 0; i < 7; i++) await expect(instance.sweep()).rejects.toThrow("queue down");
      } finally {
        holder.env = real;
      }
    });
    const row = await testEnv.DB.prepare("SELECT sweeps FROM events WHERE id = ?").bind(event.id).first<{ sweeps: number }>();
    expect(row!.sweeps).toBe(0);
    expect(await sweeper.sweep()).toBe(1);
    const [run] = await settledRuns("queue-outage");
    expect(run!.status).toBe("completed");
  });
});
