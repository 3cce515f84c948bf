import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { type Acceptance, acceptanceKey, EVENT_SHARDS, eventPlace, eventShardName, idShardName } from "../../src/events/keys";
import { claimAcceptances, EVENT_PAGE_SHARD_CALLS, eventsSince, listEvents } from "../../src/events/store";
import { api, putEvent } from "./helpers";

const testEnv = env as unknown as Env;
const HOUR = 3_600_000;
const idStub = (id: string) => testEnv.EVENT_STORE.get(testEnv.EVENT_STORE.idFromName(idShardName(id)));

describe("the id index", () => {
  const dedupe = { windowMs: 1000, keepMs: 5000 };
  const claim = async (...acceptances: Acceptance[]) => {
    const fresh = await claimAcceptances(testEnv, acceptances, dedupe);
    return acceptances.map((a) => fresh.has(acceptanceKey(...a)));
  };

  it("takes a new id, the same acceptance again, and another only once the window has passed", async () => {
    expect(await claim(["claim-a", 100])).toEqual([true]);
    expect(await claim(["claim-a", 100])).toEqual([true]); // a redelivery
    expect(await claim(["claim-a", 1099])).toEqual([false]); // within the window
    expect(await claim(["claim-a", 1101])).toEqual([true]); // past it: a new event
    expect(await claim(["claim-a", 100])).toEqual([false]); // the older acceptance is now a duplicate
    expect(await idStub("claim-a").acceptance("claim-a")).toBe(1101);
    // One id twice in one claim: the first acceptance wins.
    expect(await claim(["claim-b", 10], ["claim-b", 20])).toEqual([true, false]);
  });

  it("holds for ids in every shard, claimed at once from several writers", async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `many-${i}`);
    const writers = await Promise.all([1, 2, 3].map((w) => claim(...ids.map((id): Acceptance => [id, 5000 + w]))));
    // Each id is taken by exactly one writer's acceptance.
    for (let i = 0; i < ids.length; i++) expect(writers.filter((answers) => answers[i]).length).toBe(1);
    expect(new Set(ids.map(idShardName)).size).toBeGreaterThan(50);
  });

  it("deletes ids past their keep by alarm, and its storage once none is left", async () => {
    const id = "kept-briefly";
    const now = Date.now();
    await claimAcceptances(testEnv, [[id, now - 10_000]], { windowMs: 1000, keepMs: 5000 });
    await claimAcceptances(testEnv, [["kept-longer", now]], { windowMs: 1000, keepMs: 60_000 });
    const stub = idStub(id);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).not.toBeNull();
    await runInDurableObject(stub, (_i, state) => state.storage.setAlarm(Date.now() - 1));
    await runDurableObjectAlarm(stub);
    expect(await stub.acceptance(id)).toBeNull();
    const sameShard = idShardName("kept-longer") === idShardName(id);
    if (sameShard) expect(await stub.acceptance("kept-longer")).toBe(now);
    // A shard whose last id went holds nothing, and no alarm.
    const lone = "alone-in-its-shard";
    await claimAcceptances(testEnv, [[lone, now - 10_000]], { windowMs: 1000, keepMs: 5000 });
    const loneStub = idStub(lone);
    const others = await runInDurableObject(
      loneStub,
      (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM ids WHERE id != ?", lone).one().n,
    );
    if (others === 0) {
      await runInDurableObject(loneStub, (_i, state) => state.storage.setAlarm(Date.now() - 1));
      await runDurableObjectAlarm(loneStub);
      expect(await runInDurableObject(loneStub, (_i, state) => state.storage.sql.exec("SELECT * FROM ids").toArray())).toEqual([]);
      expect(await runInDurableObject(loneStub, (_i, state) => state.storage.getAlarm())).toBeNull();
    }
  });
});

describe("the events across their shards", () => {
  // 300 events accepted over 10 hours, two names: they spread over every shard of every hour.
  const base = Date.parse("2025-03-01T12:00:00Z");
  const events = Array.from({ length: 300 }, (_, i) => ({
    id: `store-ev-${String(i).padStart(3, "0")}`,
    name: i % 3 === 0 ? "store/one" : "store/two",
    // Pairs share a time, so ties are broken by id.
    acceptedAt: base - Math.floor(i / 30) * HOUR - Math.floor((i % 30) / 2) * 60_000,
  }));
  const newestFirst = (keep: (e: (typeof events)[number]) => boolean) =>
    events
      .filter(keep)
      .sort((a, b) => b.acceptedAt - a.acceptedAt || (a.id < b.id ? 1 : -1))
      .map((e) => e.id);

  type Page = { events: { id: string }[]; nextCursor: string | null };
  async function pageThrough(query: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const { status, body }: { status: number; body: Page } = await api<Page>(
        `/api/v1/events?${query}${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(status).toBe(200);
      ids.push(...body.events.map((e) => e.id));
      cursor = body.nextCursor;
    } while (cursor);
    return ids;
  }

  it("spreads events over each hour's shards and notes each in the directory", async () => {
    await Promise.all(events.map((e) => putEvent(e)));
    const places = new Set(events.map((e) => eventShardName(eventPlace(e.id, e.acceptedAt))));
    expect(places.size).toBeGreaterThan(10 * (EVENT_SHARDS - 4));
    const noted = await testEnv.DB.prepare("SELECT count(*) AS n FROM event_shards").first<{ n: number }>();
    expect(noted!.n).toBeGreaterThanOrEqual(places.size);
  });

  it("lists them newest first as one table would, by name and time, on every page size, without gaps or repeats", async () => {
    const window = `since=${base - 10 * HOUR}&until=${base + 1}`;
    for (const limit of [1, 7, 50, 100]) {
      expect(await pageThrough(`${window}&limit=${limit}`)).toEqual(newestFirst(() => true));
    }
    expect(await pageThrough(`name=store/one&${window}&limit=9`)).toEqual(newestFirst((e) => e.name === "store/one"));
    const since = base - 4 * HOUR - 30 * 60_000;
    const until = base - HOUR - 5 * 60_000;
    expect(await pageThrough(`since=${since}&until=${until}&limit=11`)).toEqual(
      newestFirst((e) => e.acceptedAt >= since && e.acceptedAt < until),
    );
  });

  it("pages through events whose ids are any text, emoji and accents included", async () => {
    const at = Date.parse("2024-01-01T00:00:00Z");
    const ids = ["wide-\u{1F680}-1", "wide-é-2", "wide-中-3"];
    await Promise.all(ids.map((id, i) => putEvent({ id, name: "store/wide", acceptedAt: at + i })));
    expect(await pageThrough(`name=store/wide&since=${at}&until=${at + 10}&limit=1`)).toEqual([...ids].reverse());
  });

  it("answers a short page with a cursor when a page would ask more than its shards, and skips nothing", async () => {
    const everything = await listEvents(testEnv, { since: base - 10 * HOUR, until: base + 1, after: undefined, limit: 300 });
    const shardsAsked = new Set(events.map((e) => eventShardName(eventPlace(e.id, e.acceptedAt)))).size;
    expect(shardsAsked).toBeGreaterThan(EVENT_PAGE_SHARD_CALLS);
    expect(everything.rows.length).toBeLessThan(300);
    expect(everything.next).not.toBeNull();
    const rest = await listEvents(testEnv, { since: base - 10 * HOUR, until: base + 1, after: everything.next!, limit: 300 });
    expect([...everything.rows, ...rest.rows].map((r) => r.id)).toEqual(newestFirst(() => true));
  });

  it("gives a wait's look-back the events of its name since a time, oldest first, across hours, up to its limit", async () => {
    const since = base - 3 * HOUR - 10 * 60_000;
    const oldestFirst = newestFirst((e) => e.name === "store/two" && e.acceptedAt >= since).reverse();
    const payloads = await eventsSince(testEnv, "store/two", since, 1000);
    expect(payloads.map((p) => (JSON.parse(p) as { id: string }).id)).toEqual(oldestFirst);
    const first5 = await eventsSince(testEnv, "store/two", since, 5);
    expect(first5.map((p) => (JSON.parse(p) as { id: string }).id)).toEqual(oldestFirst.slice(0, 5));
  });
});
