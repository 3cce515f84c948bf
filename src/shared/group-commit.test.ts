import { describe, expect, it } from "vitest";
import { GroupCommit, type Written } from "./group-commit";

/** A write whose calls are recorded and settled by hand. */
function manualWrite() {
  const calls: { items: string[]; release: () => void; finish: (fail?: Error) => void }[] = [];
  const write = (items: string[], release: () => void) =>
    new Promise<Written<string>>((resolve, reject) =>
      calls.push({ items, release, finish: (fail) => (fail ? reject(fail) : resolve({ results: items.map((i) => `${i}!`) })) }),
    );
  return { calls, write };
}

/** Long enough for every poller (1 ms) to look again. */
const settle = () => new Promise((r) => setTimeout(r, 15));

describe("GroupCommit", () => {
  it("writes a lone item at once, and everything that arrives meanwhile in the next write", async () => {
    const { calls, write } = manualWrite();
    const gc = new GroupCommit(write, 1000);
    const a = gc.submit("a", 1);
    expect(calls.map((c) => c.items)).toEqual([["a"]]); // no wait at all with nothing in flight
    const rest = ["b", "c", "d"].map((x) => gc.submit(x, 1));
    await settle();
    expect(calls).toHaveLength(1); // one write in flight: the others wait, together
    calls[0]!.finish();
    expect(await a).toBe("a!");
    await settle();
    expect(calls.map((c) => c.items)).toEqual([["a"], ["b", "c", "d"]]);
    calls[1]!.finish();
    expect(await Promise.all(rest)).toEqual(["b!", "c!", "d!"]);
  });

  it("starts a new group where the next item would pass maxBytes, exactly at the boundary", async () => {
    const { calls, write } = manualWrite();
    const gc = new GroupCommit(write, 10);
    const first = gc.submit("first", 1);
    const waiting = [gc.submit("a", 4), gc.submit("b", 6), gc.submit("c", 1), gc.submit("big", 50)];
    calls[0]!.finish();
    await first;
    for (let i = 1; i <= 3; i++) {
      await settle();
      calls[i]!.finish();
    }
    await Promise.all(waiting);
    expect(calls.map((c) => c.items)).toEqual([["first"], ["a", "b"], ["c"], ["big"]]);
  });

  it("lets the next group start once the write releases, before it finishes", async () => {
    const { calls, write } = manualWrite();
    const gc = new GroupCommit(write, 1000);
    const a = gc.submit("a", 1);
    const b = gc.submit("b", 1);
    await settle();
    expect(calls).toHaveLength(1);
    calls[0]!.release();
    await settle();
    expect(calls.map((c) => c.items)).toEqual([["a"], ["b"]]);
    calls[1]!.finish();
    calls[0]!.finish();
    expect([await a, await b]).toEqual(["a!", "b!"]);
  });

  it("rejects every member of a failed write, and the next group still writes", async () => {
    const { calls, write } = manualWrite();
    const gc = new GroupCommit(write, 1000);
    const owner = gc.submit("owner", 1);
    const failed = [owner, gc.submit("a", 1), gc.submit("b", 1)].map((p) => p.catch((e: Error) => e.message));
    calls[0]!.finish();
    await settle();
    const next = gc.submit("c", 1);
    calls[1]!.finish(new Error("D1 down"));
    expect(await Promise.all(failed)).toEqual(["owner!", "D1 down", "D1 down"]);
    await settle();
    calls[2]!.finish();
    expect(await next).toBe("c!");
  });

  it("waits for a write that never settles only handoffTimeoutMs, and its members give up after memberTimeoutMs", async () => {
    const { calls, write } = manualWrite();
    const gc = new GroupCommit(write, 1000, 1, 50, 120);
    void gc.submit("stuck", 1);
    const started = Date.now();
    const next = gc.submit("next", 1);
    const joined = gc.submit("joined", 1).catch((e: Error) => e.message);
    while (calls.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(calls[1]!.items).toEqual(["next", "joined"]);
    calls[1]!.finish();
    expect(await next).toBe("next!");
    expect(await joined).toBe("joined!");
    // A member of a group whose write never settles:
    const { calls: calls2, write: write2 } = manualWrite();
    const gc2 = new GroupCommit(write2, 1000, 1, 10_000, 60);
    void gc2.submit("stuck", 1);
    const blocked = [gc2.submit("x", 1), gc2.submit("y", 1)].map((p) => p.catch((e: Error) => e.message));
    expect(await blocked[1]).toMatch(/not settled within 60 ms/);
    expect(calls2).toHaveLength(1);
  });

  it("keeps up to maxInFlight writes going before it groups", async () => {
    const { calls, write } = manualWrite();
    const gc = new GroupCommit(write, 1000, 2);
    const a = gc.submit("a", 1);
    const b = gc.submit("b", 1);
    const rest = ["c", "d"].map((x) => gc.submit(x, 1));
    await settle();
    expect(calls.map((c) => c.items)).toEqual([["a"], ["b"]]);
    calls[0]!.finish();
    await settle();
    expect(calls.map((c) => c.items)).toEqual([["a"], ["b"], ["c", "d"]]);
    calls[1]!.finish();
    calls[2]!.finish();
    expect(await Promise.all([a, b, ...rest])).toEqual(["a!", "b!", "c!", "d!"]);
  });

  it("hands each group's write to its owner's keepAlive", async () => {
    const { calls, write } = manualWrite();
    const gc = new GroupCommit(write, 1000);
    const kept: string[] = [];
    const a = gc.submit("a", 1, () => kept.push("a"));
    const b = gc.submit("b", 1, () => kept.push("b")); // owner of the second group
    const c = gc.submit("c", 1, () => kept.push("c")); // joins b's group
    expect(kept).toEqual(["a", "b"]);
    calls[0]!.finish();
    await settle();
    calls[1]!.finish();
    expect(await Promise.all([a, b, c])).toEqual(["a!", "b!", "c!"]);
  });

  it("answers every member once the write has its results, while its after work goes on under the owner's keepAlive", async () => {
    let finishAfter = () => {};
    const after = new Promise<void>((r) => {
      finishAfter = r;
    });
    const writes: string[][] = [];
    const gc = new GroupCommit<string, string>(async (items) => {
      writes.push(items);
      return { results: items.map((i) => `${i}!`), after };
    }, 1000);
    let kept: Promise<unknown> | undefined;
    let keptSettled = false;
    const a = await gc.submit("a", 1, (p) => {
      kept = p;
      void p.then(() => (keptSettled = true));
    });
    expect(a).toBe("a!");
    await settle();
    expect(keptSettled).toBe(false); // the owner's keepAlive still holds the after work
    finishAfter();
    await kept;
    expect(keptSettled).toBe(true);
    expect(writes).toEqual([["a"]]);
  });
});
