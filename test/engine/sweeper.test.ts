import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { eventPlace, eventShardName } from "../../src/events/keys";
import { MAX_SWEEPS, STALE_EVENTS } from "../../src/events/object";
import { ulid } from "../../src/shared/ulid";
import { RECONCILE_LIMIT } from "../../src/sweeper/listing";
import type { SweeperObject } from "../../src/sweeper/object";
import { down } from "../engine-fixture/functions";
import { api, inEventShard, inListing, putEvent, putListing, sendEvents, settledRuns, storedEvent, waitFor } from "./helpers";

const testEnv = env as unknown as Env;

/** Stores an event as accepted a minute ago and never fanned out (as after a local restart); answers its acceptance time. */
async function storeUndispatched(id: string, tag: string): Promise<number> {
  const acceptedAt = Date.now() - 60_000;
  await putEvent({ id, name: "test/sequential", data: { tag, n: 1 }, acceptedAt });
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
    await putEvent({ id: "broken", name: "x/y", payload: "{}", acceptedAt });
    const counts = [];
    for (let i = 0; i < 6; i++) counts.push(await sweeper.sweep());
    expect(counts).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it("keeps sweeping page after page while behind, each stale event once, ties in acceptance time included", async () => {
    const acceptedAt = Date.now() - 60_000;
    const ids = Array.from({ length: 25 }, (_, i) => `backlog-${String(i).padStart(2, "0")}`);
    // Pairs of events share an acceptance time, so a page can end between two of them; they fall in several shards.
    await Promise.all(ids.map((id, i) => putEvent({ id, name: "test/nobody-listens", acceptedAt: acceptedAt + Math.floor(i / 2) })));
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("backlog"));
    // Pages of 10: one call drains all 25 (10, 10, then a short page of 5), none of them twice.
    expect(await sweeper.sweep(Date.now(), 10)).toBe(25);
    const rows = await Promise.all(ids.map(async (id) => ({ id, sweeps: (await storedEvent(id))?.sweeps })));
    expect(rows).toEqual(ids.map((id) => ({ id, sweeps: 1 })));
    expect(new Set(ids.map((id, i) => eventShardName(eventPlace(id, acceptedAt + Math.floor(i / 2))))).size).toBeGreaterThan(1);
    await waitFor(async () => {
      const left = await Promise.all(ids.map(async (id) => (await storedEvent(id))?.dispatched_at));
      return left.every((t) => typeof t === "number") ? true : undefined;
    }, "the swept backlog fanned out");
  });

  it("finds stale events through the partial index that leaves out events with no sweeps left", async () => {
    const acceptedAt = Date.now() - 60_000;
    await putEvent({ id: "planned", name: "x/plan", acceptedAt, dispatchedAt: acceptedAt });
    const plan = await inEventShard<{ detail: string }>("planned", acceptedAt, `EXPLAIN QUERY PLAN ${STALE_EVENTS}`, 0, -1, "", 10);
    expect(plan?.detail).toContain("USING INDEX events_sweepable");
    // The index's condition, as the shard's schema writes it, is the sweeper's limit.
    const index = await inEventShard<{ sql: string }>(
      "planned",
      acceptedAt,
      "SELECT sql FROM sqlite_master WHERE name = 'events_sweepable'",
    );
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
      holder.env = { ...real, EVENTS: down as unknown as Env["EVENTS"], EVENTS_1: down } as Env;
      try {
        for (let i = 0; i < 7; i++) await expect(instance.sweep()).rejects.toThrow("queue down");
      } finally {
        holder.env = real;
      }
    });
    expect((await storedEvent(event.id))!.sweeps).toBe(0);
    expect(await sweeper.sweep()).toBe(1);
    const [run] = await settledRuns("queue-outage");
    expect(run!.status).toBe("completed");
  });

  it("has a run listed as running whose listing message was lost send its newer row, so the listing converges", async () => {
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "stale-listing", n: 1 } });
    const [run] = await settledRuns(id!);
    expect(run!.status).toBe("completed");
    const row = () => inListing<{ status: string; version: number }>(run!.id, "SELECT status, version FROM runs WHERE id = ?", run!.id);
    const listed = await row();
    expect(listed!.status).toBe("completed");
    // As if the row that said it ended was lost with a local restart: the listing still has its first row.
    await inListing(run!.id, "UPDATE runs SET status = 'running', ended_at = NULL, version = version - 1 WHERE id = ?", run!.id);
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("listing-walk"));
    // Rows are checked once they have been listed as running for a minute.
    expect(await sweeper.reconcile(Date.now())).toEqual({ resent: 0, missing: 0 });
    expect(await sweeper.reconcile(Date.now() + 2 * 60_000)).toEqual({ resent: 1, missing: 0 });
    await waitFor(async () => ((await row())?.status === "completed" ? true : undefined), "the listing row sent again");
    expect(await row()).toEqual(listed);
    expect(await sweeper.reconcile(Date.now() + 2 * 60_000)).toEqual({ resent: 0, missing: 0 });
  });

  it("has a run listed as sleeping whose later listing messages were lost send its newer row: the walk covers every status not ended", async () => {
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "stale-sleeping", n: 1 } });
    const [run] = await settledRuns(id!);
    const row = () => inListing<{ status: string; version: number }>(run!.id, "SELECT status, version FROM runs WHERE id = ?", run!.id);
    const listed = await row();
    expect(listed!.status).toBe("completed");
    // As if the run slept, and every row after the one that said so was lost with a local restart (chaos run, 26 such runs).
    await inListing(run!.id, "UPDATE runs SET status = 'sleeping', ended_at = NULL, version = version - 1 WHERE id = ?", run!.id);
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("listing-walk-sleeping"));
    expect(await sweeper.reconcile(Date.now() + 2 * 60_000)).toEqual({ resent: 1, missing: 0 });
    await waitFor(async () => ((await row())?.status === "completed" ? true : undefined), "the listing row sent again");
    expect(await row()).toEqual(listed);
  });

  it("marks a run listed as running whose object holds no run failed, run_missing, and stops checking it", async () => {
    // As if the object's storage was lost while D1 kept its row: the row says running, the object has nothing.
    const startedAt = Date.now();
    const runId = ulid(startedAt);
    await putListing([{ id: runId, functionId: "sequential", eventId: "gone", status: "running", startedAt, version: 1 }]);
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("listing-missing"));
    const listed = () => inListing(runId, "SELECT status, ended_at, error_code, version FROM runs WHERE id = ?", runId);
    // Under a minute old, the row is not checked: its start may still be in flight.
    const early = await sweeper.reconcile(startedAt + 30_000);
    expect(await listed()).toEqual({ status: "running", ended_at: null, error_code: null, version: 1 });
    const later = startedAt + 2 * 60_000;
    const checked = await sweeper.reconcile(later);
    expect(await listed()).toEqual({ status: "failed", ended_at: later, error_code: "run_missing", version: 1 });
    expect([early, checked]).toEqual([
      { resent: 0, missing: 0 },
      { resent: 0, missing: 1 },
    ]);
    const { body } = await api<{ runs: { id: string; status: string; errorCode?: string }[] }>("/api/v1/runs?status=failed&limit=100");
    expect(body.runs.find((r) => r.id === runId)).toMatchObject({ status: "failed", errorCode: "run_missing" });
    expect((await api(`/api/v1/runs/${runId}`)).status).toBe(404);
    // The next pass does not ask its object again, and the object asked stored nothing.
    expect(await sweeper.reconcile(later)).toEqual({ resent: 0, missing: 0 });
    const tables = await runInDurableObject(testEnv.RUNS.get(testEnv.RUNS.idFromName(runId)), (_instance, ctx) =>
      ctx.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray(),
    );
    expect(tables).toEqual([]);
  });

  it("leaves a debounced run held by its flow object alone: it has no object to ask yet", async () => {
    const startedAt = Date.now();
    const runId = ulid(startedAt);
    await putListing([{ id: runId, functionId: "debounced", eventId: "held", status: "queued", startedAt, version: -1 }]);
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("listing-held"));
    expect(await sweeper.reconcile(startedAt + 10 * 60_000)).toEqual({ resent: 0, missing: 0 });
    expect(await inListing(runId, "SELECT status, version FROM runs WHERE id = ?", runId)).toEqual({
      status: "queued",
      version: -1,
    });
  });

  it("lists a replayed run as running from the replay itself, so the walk catches it when the object's listing messages are lost", async () => {
    const tag = "replay-lost-listing";
    down.add(tag);
    const [id] = await sendEvents({ name: "test/replayable", data: { tag } });
    const [failed] = await settledRuns(id!);
    expect(failed!.status).toBe("failed");
    const row = () =>
      inListing<{ status: string; error_code: string | null; version: number }>(
        failed!.id,
        "SELECT status, error_code, version FROM runs WHERE id = ?",
        failed!.id,
      );
    const before = await waitFor(async () => {
      const r = await row();
      return r?.status === "failed" ? r : undefined;
    }, "the listing to show the run failed");
    // Every listing message the object sends from here on is lost, as a local restart loses what the queue holds.
    const stub = testEnv.RUNS.get(testEnv.RUNS.idFromName(failed!.id));
    const holder = await runInDurableObject(stub, (instance) => instance as unknown as { env: Env });
    const real = holder.env;
    const losing = new Proxy(real.LISTING, { get: (q, p) => (p === "send" ? () => Promise.resolve() : Reflect.get(q, p, q)) });
    holder.env = { ...real, LISTING: losing, LISTING_1: losing } as Env;
    try {
      down.delete(tag);
      expect((await api(`/api/v1/runs/${failed!.id}/replay`, { method: "POST" })).status).toBe(200);
      await waitFor(
        async () => ((await api<{ status: string }>(`/api/v1/runs/${failed!.id}`)).body.status === "completed" ? true : undefined),
        "the replayed run to complete",
      );
    } finally {
      holder.env = real;
    }
    // The listing no longer shows the failure that was replayed: it shows the run running, and the walk covers it.
    const listed = await row();
    expect(listed).toMatchObject({ status: "running", error_code: null });
    expect(listed!.version).toBeGreaterThan(before.version);
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("listing-replayed"));
    expect(await sweeper.reconcile(Date.now() + 2 * 60_000)).toEqual({ resent: 1, missing: 0 });
    await waitFor(async () => ((await row())?.status === "completed" ? true : undefined), "the listing row sent again");
  });

  it("walks the runs listed as running a page at a time, so rows that stay running cannot hide the rest", async () => {
    // A full page of rows listed as running since long ago, for runs whose objects have nothing newer.
    const ghosts = Array.from({ length: RECONCILE_LIMIT }, (_, i) => ulid(1000 + i));
    const versions = await Promise.all(
      ghosts.map(async (runId) => {
        const event = { id: `event-of-${runId}`, name: "test/sequential", data: { tag: runId, n: 1 }, ts: Date.now() };
        return (await testEnv.RUNS.get(testEnv.RUNS.idFromName(runId)).start({ runId, functionId: "sequential", event })).version;
      }),
    );
    await putListing(
      ghosts.map((id, i) => ({
        id,
        functionId: "sequential",
        eventId: "ghost",
        status: "running",
        startedAt: 1000 + i,
        version: versions[i]!,
      })),
    );
    const [id] = await sendEvents({ name: "test/sequential", data: { tag: "stale-walk", n: 1 } });
    const [run] = await settledRuns(id!);
    await inListing(run!.id, "UPDATE runs SET status = 'running', ended_at = NULL, version = version - 1 WHERE id = ?", run!.id);
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("listing-pages"));
    const later = Date.now() + 2 * 60_000;
    expect(await sweeper.reconcile(later)).toEqual({ resent: 0, missing: 0 }); // the page of ghosts
    expect(await sweeper.reconcile(later)).toEqual({ resent: 1, missing: 0 }); // the next page, past them
    await waitFor(
      async () =>
        (await inListing<{ status: string }>(run!.id, "SELECT status FROM runs WHERE id = ?", run!.id))?.status === "completed"
          ? true
          : undefined,
      "the listing row sent again",
    );
  });
});
