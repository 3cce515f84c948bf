import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src";
import { LISTING_SHARDS, placeOf, shardName } from "../../src/listing/keys";
import { listedRunning, PAGE_SHARD_CALLS } from "../../src/listing/store";
import { ulid } from "../../src/shared/ulid";
import { api, putListing } from "./helpers";

const testEnv = env as unknown as Env;
const HOUR = 3_600_000;

type Page = { runs: { id: string; functionId: string; status: string }[]; nextCursor: string | null };

/** Every run the listing API answers for `query`, page after page, and how many pages it took. */
async function pageThrough(query: string): Promise<{ ids: string[]; pages: number; shortPages: number; limit: number }> {
  const limit = Number(/limit=(\d+)/.exec(query)?.[1] ?? 50);
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let shortPages = 0;
  do {
    const { status, body }: { status: number; body: Page } = await api<Page>(`/api/v1/runs?${query}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(status).toBe(200);
    expect(body.runs.length).toBeLessThanOrEqual(limit);
    if (body.nextCursor && body.runs.length < limit) shortPages++;
    ids.push(...body.runs.map((r) => r.id));
    cursor = body.nextCursor;
    pages++;
  } while (cursor);
  return { ids, pages, shortPages, limit };
}

describe("the run listing across its shards", () => {
  // 480 runs created over 12 hours, 40 an hour: their rows spread over every shard of every hour.
  const base = Date.parse("2026-03-01T12:00:00Z");
  const rows = Array.from({ length: 480 }, (_, i) => {
    const createdAt = base - Math.floor(i / 40) * HOUR - (i % 40) * 60_000;
    return {
      id: ulid(createdAt),
      functionId: i % 3 === 0 ? "shard-a" : "shard-b",
      eventId: `shard-ev-${i}`,
      status: i % 4 === 0 ? "failed" : "completed",
      startedAt: createdAt,
      endedAt: createdAt + 10,
      version: 2,
    };
  });
  const newestFirst = (keep: (r: (typeof rows)[number]) => boolean) =>
    rows
      .filter(keep)
      .map((r) => r.id)
      .sort()
      .reverse();

  it("spreads rows over the hour's shards and notes each shard in the directory", async () => {
    await putListing(rows);
    const places = new Set(rows.map((r) => shardName(placeOf(r.id))));
    expect(places.size).toBeGreaterThan(12 * (LISTING_SHARDS - 4));
    const noted = await testEnv.DB.prepare("SELECT count(*) AS n FROM listing_shards").first<{ n: number }>();
    expect(noted!.n).toBeGreaterThanOrEqual(places.size);
  });

  it("answers every run once, newest first, whatever the page size and filters", async () => {
    const all = newestFirst((r) => r.functionId.startsWith("shard-"));
    for (const [query, keep] of [
      ["functionId=shard-a&limit=7", (r: (typeof rows)[number]) => r.functionId === "shard-a"],
      ["functionId=shard-b&status=failed&limit=13", (r: (typeof rows)[number]) => r.functionId === "shard-b" && r.status === "failed"],
      [
        `since=${base - 5 * HOUR}&until=${base - 2 * HOUR + 1}&limit=50&status=completed`,
        (r: (typeof rows)[number]) => r.startedAt >= base - 5 * HOUR && r.startedAt < base - 2 * HOUR + 1 && r.status === "completed",
      ],
    ] as const) {
      const { ids } = await pageThrough(query);
      expect(ids, query).toEqual(newestFirst(keep));
    }
    const both = [...(await pageThrough("functionId=shard-a&limit=100")).ids, ...(await pageThrough("functionId=shard-b&limit=100")).ids];
    expect(both.sort().reverse()).toEqual(all);
  });

  it("walks the runs not ended in id order, past shard-capped pages, each once", async () => {
    const going = rows.map((r, i) => ({ ...r, id: ulid(r.startedAt + 1), status: i % 5 === 0 ? "sleeping" : "completed", endedAt: null }));
    await putListing(going);
    const expected = going
      .filter((r) => r.status === "sleeping")
      .map((r) => r.id)
      .sort();
    const seen: string[] = [];
    let cursor = { startedAt: 0, id: "" };
    for (let i = 0; i < 50; i++) {
      const { rows: page, next } = await listedRunning(testEnv, base + HOUR, cursor, 10, 32);
      seen.push(...page.map((r) => r.id));
      if (!next) break;
      cursor = next;
    }
    expect(seen).toEqual(expected);
  });

  it("answers a short page with a cursor when one page would ask more than its share of shards, and misses nothing", async () => {
    // Twelve hours of 16 shards each are more than one page asks (PAGE_SHARD_CALLS): the page stops at an hour's edge.
    expect(12 * LISTING_SHARDS).toBeGreaterThan(PAGE_SHARD_CALLS);
    const { ids, pages, shortPages } = await pageThrough("functionId=shard-a&status=failed&limit=100");
    expect(ids).toEqual(newestFirst((r) => r.functionId === "shard-a" && r.status === "failed"));
    expect(pages).toBe(2);
    expect(shortPages).toBe(1);
  });
});
