import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../env";
import { ConcurrencySlots } from "./concurrency";

const testEnv = env as unknown as Env;

/** Runs `body` on the SQLite of a fresh flow object; each `slots()` is a new instance over the same storage, as after a restart. */
const withStorage = <T>(body: (slots: () => ConcurrencySlots) => T) =>
  runInDurableObject(testEnv.FLOW.get(testEnv.FLOW.newUniqueId()), (_instance, ctx) => body(() => new ConcurrencySlots(ctx.storage.sql)));

describe("ConcurrencySlots", () => {
  it("takes a free slot at once, queues past the limit, and gives the freed slot to the head of the queue", async () => {
    const found = await withStorage((slots) => {
      const s = slots();
      const a = s.acquire("a", 1, 10, 2, 0, 1000);
      const b = s.acquire("b", 1, 20, 2, 0, 1000);
      const c = s.acquire("c", 1, 30, 2, 0, 1000);
      const d = s.acquire("d", 1, 5, 2, 0, 1000); // ordered ahead of c
      const counts = s.counts();
      const next = s.release("a", 1, 100);
      return { granted: [a, b, c, d].map((x) => x.granted), counts, next, after: s.counts() };
    });
    expect(found).toEqual({
      granted: [true, true, false, false],
      counts: { held: 2, queued: 2 },
      next: [{ runId: "d", ticket: 1 }],
      after: { held: 2, queued: 1 },
    });
  });

  it("keeps slots, queue and limit across a restart, and a late release of an earlier ticket frees nothing", async () => {
    const found = await withStorage((slots) => {
      const first = slots();
      first.acquire("a", 2, 0, 1, 0, 1000);
      first.acquire("b", 1, 0, 1, 0, 1000);
      const restarted = slots();
      const counts = restarted.counts();
      const lateRelease = restarted.release("a", 1, 10);
      const lapsed = restarted.lapsed(1000).map((g) => g.runId);
      const next = restarted.release("a", 2, 20);
      // Before its flush, a release is in memory only: an instance started then finds the slot still held, for its lease to return.
      const unflushed = slots()
        .lapsed(1000)
        .map((g) => g.runId);
      restarted.flushReleases();
      return { counts, lateRelease, lapsed, next, unflushed, leaseAt: slots().nextLeaseAt() };
    });
    expect(found).toEqual({
      counts: { held: 1, queued: 1 },
      lateRelease: [],
      lapsed: ["a"],
      next: [{ runId: "b", ticket: 1 }],
      unflushed: ["a"],
      leaseAt: 20 + 5000, // a grant waits GRANT_RETRY_MS for its run to take it
    });
  });

  it("takes slots for a delivery's runs in their order while free, never passing a run already queued", async () => {
    const found = await withStorage((slots) => {
      const s = slots();
      const first = s.reserve(
        [
          { runId: "late", ord: 30 },
          { runId: "early", ord: 10 },
          { runId: "middle", ord: 20 },
        ],
        2,
        0,
        1000,
      );
      const again = s.reserve([{ runId: "early", ord: 10 }], 2, 0, 1000);
      s.acquire("late", 1, 30, 2, 0, 1000); // queued behind the two
      // The limit grows to 3: a slot is free, but "late" waits for it first.
      const behindQueue = s.reserve([{ runId: "new", ord: 0 }], 3, 20, 1000);
      return { first, again, behindQueue, counts: s.counts() };
    });
    expect(found).toEqual({ first: ["early", "middle"], again: ["early"], behindQueue: [], counts: { held: 2, queued: 1 } });
  });
});
