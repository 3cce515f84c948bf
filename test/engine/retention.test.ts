import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { eventPlace } from "../../src/events/keys";
import { placeOf } from "../../src/listing/keys";
import { listedRun } from "../../src/listing/store";
import { ulid } from "../../src/shared/ulid";
import { api, inEventShard, inListing, putEvent, putListing, sendEvents, settledRuns } from "./helpers";

const testEnv = env as unknown as Env;
const DAY = 24 * 60 * 60 * 1000;
const stubOf = (runId: string) => testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
const sql = <T extends Record<string, SqlStorageValue>>(runId: string, query: string) =>
  runInDurableObject(stubOf(runId), (_instance, ctx) =>
    ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'timers'").toArray().length === 0
      ? []
      : ctx.storage.sql.exec<T>(query).toArray(),
  );
const listed = (runId: string) => inListing<{ status: string }>(runId, "SELECT status FROM runs WHERE id = ?", runId);

/** Moves the run's expiry to now, as if the clock had moved past it, in a fresh instance, and fires its alarm. */
async function expireNow(runId: string): Promise<void> {
  await runInDurableObject(stubOf(runId), (_instance, ctx) => {
    ctx.storage.sql.exec("UPDATE timers SET due_at = ? WHERE kind = 'expire'", Date.now() - 1);
  });
  await abortAllDurableObjects();
  await runDurableObjectAlarm(stubOf(runId));
}

describe("retention of runs", () => {
  it("sets a completed run's expiry at its end plus 7 days, then deletes its object's storage and its listing row", async () => {
    const [eventId] = await sendEvents({ name: "test/sequential", data: { tag: "kept-a-week", n: 1 } });
    const [run] = await settledRuns(eventId!);
    expect(run!.status).toBe("completed");
    const [timer] = await sql<{ due_at: number }>(run!.id, "SELECT due_at FROM timers WHERE kind = 'expire'");
    expect(timer!.due_at).toBe(Date.parse(run!.endedAt!) + 7 * DAY);
    expect(await listed(run!.id)).toEqual({ status: "completed" });

    await expireNow(run!.id);
    expect(await listed(run!.id)).toBeNull();
    const tables = await runInDurableObject(stubOf(run!.id), (_i, ctx) =>
      ctx.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray(),
    );
    // Only the tombstone is left, so the API can say the run expired.
    expect(tables.map((t) => t.name).filter((n) => !String(n).startsWith("_cf"))).toEqual([]);
    expect(await api(`/api/v1/runs/${run!.id}`)).toMatchObject({ status: 404, body: { error: { code: "run_expired" } } });
    // Its alarm, one more retention period later, drops the tombstone too: nothing is left.
    const alarm = await runInDurableObject(stubOf(run!.id), (_i, ctx) => ctx.storage.getAlarm());
    expect(alarm! - Date.now()).toBeGreaterThan(7 * DAY - 60_000);
    await runInDurableObject(stubOf(run!.id), (_i, ctx) => ctx.storage.setAlarm(Date.now() - 1));
    await runDurableObjectAlarm(stubOf(run!.id));
    expect(await api(`/api/v1/runs/${run!.id}`)).toMatchObject({ status: 404, body: { error: { code: "run_not_found" } } });
    expect(await runInDurableObject(stubOf(run!.id), (_i, ctx) => ctx.storage.get("expired-at"))).toBeUndefined();
  });

  it("postpones the expiry of a run whose follow-up is not done, and keeps it", async () => {
    const [eventId] = await sendEvents({ name: "test/sequential", data: { tag: "follow-up-pending", n: 1 } });
    const [run] = await settledRuns(eventId!);
    await runInDurableObject(stubOf(run!.id), (_instance, ctx) => {
      ctx.storage.sql.exec("INSERT INTO timers (kind, ref, due_at) VALUES ('listing-sync', 'run', ?)", Date.now() + DAY);
    });
    const before = Date.now();
    await expireNow(run!.id);
    const [timer] = await sql<{ due_at: number }>(run!.id, "SELECT due_at FROM timers WHERE kind = 'expire'");
    expect(timer!.due_at).toBeGreaterThanOrEqual(before + 60_000);
    expect((await api<{ status: string }>(`/api/v1/runs/${run!.id}`)).body.status).toBe("completed");
    expect(await listed(run!.id)).toEqual({ status: "completed" });
  });
});

describe("retention in D1, the listing and the event store", () => {
  it("deletes exactly the rows past their period, and nothing else", async () => {
    const now = Date.now();
    const p = { completed: 7 * DAY, failed: 30 * DAY, cancelled: 7 * DAY, events: 7 * DAY, deadLetters: 30 * DAY };
    const event = (id: string, acceptedAt: number, dispatched: boolean) =>
      putEvent({ id, name: "x/retention", acceptedAt, ...(dispatched ? { dispatchedAt: acceptedAt } : {}), sweeps: 5 });
    const letter = (id: string, failedAt: number) =>
      testEnv.DB.prepare("INSERT INTO dead_letters (id, source, failed_at) VALUES (?, 'run', ?)").bind(id, failedAt);
    const wait = (runId: string, expiresAt: number) =>
      testEnv.DB.prepare(
        "INSERT INTO waits (run_id, step_key, name, match_path, match_value, expires_at) VALUES (?, 'w', 'x/retention', '', '', ?)",
      ).bind(runId, expiresAt);
    // Listing rows, each in the shard of the hour its run was created in, a second before it ended.
    const runs: [name: string, status: string, endedAt: number | null][] = [
      ["completed-past", "completed", now - p.completed - 1],
      ["completed-at", "completed", now - p.completed],
      ["skipped-past", "skipped", now - p.completed - 1],
      ["failed-mid", "failed", now - p.completed - 1],
      ["failed-past", "failed", now - p.failed - 1],
      ["cancelled-past", "cancelled", now - p.cancelled - 1],
      ["sleeping", "sleeping", null],
    ];
    const createdAt = (name: string, endedAt: number | null) => (endedAt ?? now - p.failed - DAY) - 1000 - name.length;
    const runIds = new Map(runs.map(([name, , endedAt]) => [name, ulid(createdAt(name, endedAt))]));
    await putListing(
      runs.map(([name, status, endedAt]) => ({
        id: runIds.get(name)!,
        functionId: "retention",
        eventId: "e",
        status,
        startedAt: createdAt(name, endedAt),
        endedAt,
        version: 2,
      })),
    );
    const events: [id: string, acceptedAt: number, dispatched: boolean][] = [
      ["ret-ev-past", now - p.events - 1, true],
      ["ret-ev-at", now - p.events, true],
      // Never dispatched: kept as long as the dead letters that could replay it.
      ["ret-ev-undispatched", now - p.events - 1, false],
      ["ret-ev-undispatched-old", now - p.deadLetters - 1, false],
    ];
    await Promise.all(events.map(([id, at, dispatched]) => event(id, at, dispatched)));
    await testEnv.DB.batch([
      letter("ret-dl-past", now - p.deadLetters - 1),
      letter("ret-dl-at", now - p.deadLetters),
      wait("ret-wait-past", now - 1),
      wait("ret-wait-future", now + 1),
    ]);
    const sweeper = testEnv.SWEEPER.get(testEnv.SWEEPER.idFromName("retention"));
    const deleted = await sweeper.retain(now);
    expect(deleted).toMatchObject({ runs: 4, events: 2, deadLetters: 1 });
    const ids = async (table: string, column: string, prefix: string) =>
      (
        await testEnv.DB.prepare(`SELECT ${column} AS id FROM ${table} WHERE ${column} LIKE ? ORDER BY 1`)
          .bind(`${prefix}%`)
          .all<{ id: string }>()
      ).results.map((r) => r.id);
    const kept = [];
    for (const [name, id] of runIds) if (await listedRun(testEnv, id)) kept.push(name);
    expect(kept.sort()).toEqual(["completed-at", "failed-mid", "sleeping"]);
    // The shard of the oldest failed run held only it: emptied, it left the directory. The sleeping run's stays.
    const noted = async (name: string) => {
      const { bucket, shard } = placeOf(runIds.get(name)!);
      return (await testEnv.DB.prepare("SELECT 1 FROM listing_shards WHERE bucket = ? AND shard = ?").bind(bucket, shard).first()) !== null;
    };
    expect([await noted("failed-past"), await noted("sleeping")]).toEqual([false, true]);
    const heldEvents = [];
    for (const [id, acceptedAt] of events)
      if (await inEventShard(id, acceptedAt, "SELECT 1 FROM events WHERE id = ?", id)) heldEvents.push(id);
    expect(heldEvents).toEqual(["ret-ev-at", "ret-ev-undispatched"]);
    // The event shard that held only the oldest undispatched event was emptied and left its directory.
    const old = eventPlace("ret-ev-undispatched-old", now - p.deadLetters - 1);
    expect(
      await testEnv.DB.prepare("SELECT 1 FROM event_shards WHERE bucket = ? AND shard = ?").bind(old.bucket, old.shard).first(),
    ).toBeNull();
    expect(await ids("dead_letters", "id", "ret-")).toEqual(["ret-dl-at"]);
    expect(await ids("waits", "run_id", "ret-")).toEqual(["ret-wait-future"]);
  });
});
