import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { RECONCILE_LIMIT } from "../../src/sweeper/listing";
import { MAX_SWEEPS, STALE_UNDISPATCHED, type SweeperObject } from "../../src/sweeper/object";
import { api, sendEvents, settledRuns, waitFor } from "./helpers";

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

  it("has a run listed as running whose index message was lost send its newer row, so the listing converges", async () => {
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "stale-listing", n: 1 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    const row = () =>
      testEnv.DB.prepare("SELECT status, version FROM runs WHERE id = ?").bind(run!.id).first<{ status: string; version: number }>();
    const listed = await row();
    expect(listed!.status).toBe("completed");
    // As if the row that said it ended was lost with a local restart: the listing still has its first row.
    await testEnv.DB.prepare("UPDATE runs SET status = 'running', ended_at = NULL, version = version - 1 WHERE id = ?").bind(run!.id).run();
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("listing-walk"));
    // Rows are checked once they have been listed as running for a minute.
    expect(await sweeper.reconcile(Date.now())).toBe(0);
    expect(await sweeper.reconcile(Date.now() + 2 * 60_000)).toBe(1);
    await waitFor(async () => ((await row())?.status === "completed" ? true : undefined), "the listing row sent again");
    expect(await row()).toEqual(listed);
    expect(await sweeper.reconcile(Date.now() + 2 * 60_000)).toBe(0);
  });

  it("walks the runs listed as running a page at a time, so rows that stay running cannot hide the rest", async () => {
    // A full page of rows listed as running since long ago, for runs whose objects have nothing newer.
    const ghost = testEnv.DB.prepare(
      "INSERT INTO runs (id, function_id, event_id, status, started_at, version) VALUES (?, 'sequential', 'ghost', 'running', ?, 1)",
    );
    await testEnv.DB.batch(
      Array.from({ length: RECONCILE_LIMIT }, (_, i) => ghost.bind(`ghost-run-${String(i).padStart(3, "0")}`, 1000 + i)),
    );
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "stale-walk", n: 1 } });
    const [run] = await settledRuns(id!);
    await testEnv.DB.prepare("UPDATE runs SET status = 'running', ended_at = NULL, version = version - 1 WHERE id = ?").bind(run!.id).run();
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("listing-pages"));
    const later = Date.now() + 2 * 60_000;
    expect(await sweeper.reconcile(later)).toBe(0); // the page of ghosts
    expect(await sweeper.reconcile(later)).toBe(1); // the next page, past them
    await waitFor(
      async () =>
        (await testEnv.DB.prepare("SELECT status FROM runs WHERE id = ?").bind(run!.id).first<{ status: string }>())?.status === "completed"
          ? true
          : undefined,
      "the listing row sent again",
    );
  });
});
