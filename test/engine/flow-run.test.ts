import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, RunDetail } from "../../src";
import { runDetail } from "../../src/api/answers";
import { flowObjectName } from "../../src/flow/object";
import { times } from "../engine-fixture/functions";
import { api, inListing, sendEvents, settledRuns, waitFor } from "./helpers";

const testEnv = env as unknown as Env;
const stamp = Date.now().toString(36);
const tagOf = (what: string) => `${what}-${stamp}`;

/** When the step named `name` of the runs tagged `tag` started and ended (each once). */
function span(tag: string, name: string): { start: number; end: number } {
  const start = times.get(`${tag}:start:${name}`);
  const end = times.get(`${tag}:end:${name}`);
  if (start?.length !== 1 || end?.length !== 1)
    throw new Error(`${tag} ${name}: started ${start?.length ?? 0}, ended ${end?.length ?? 0} times`);
  return { start: start[0]!, end: end[0]! };
}

/** The most spans open at one moment. */
function mostAtOnce(spans: { start: number; end: number }[]): number {
  const marks = spans.flatMap((s) => [
    [s.start, 1],
    [s.end, -1],
  ]);
  // An end and a start at the same millisecond: the end first.
  marks.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let most = 0;
  for (const [, d] of marks) most = Math.max(most, (open += d!));
  return most;
}

const runIdOf = (eventId: string) =>
  waitFor(async () => (await api<{ runs?: { id: string }[] }>(`/api/v1/events/${eventId}`)).body.runs?.[0]?.id, "the run");
const detailOf = async (runId: string) => (await api<RunDetail>(`/api/v1/runs/${runId}`)).body;
const statusIs = (runId: string, status: string) =>
  waitFor(async () => ((await detailOf(runId)).status === status ? true : undefined), `run ${runId} to be ${status}`);
const events = (name: string, list: Record<string, unknown>[]) => sendEvents(list.map((data) => ({ name, data })));
/** The limit `concurrency: { key: "event.data.key" }` of `functionId` for one key value: its object's name and the object. */
const keyedLimit = (functionId: string, key: string) => {
  const name = flowObjectName("concurrency", functionId, `event.data.key\u0001${key}`);
  return { name, limit: testEnv.FLOW.get(testEnv.FLOW.idFromName(name)) };
};

describe("concurrency", () => {
  it("runs 10 runs of `concurrency: 2` never more than 2 at once, and completes all 10", async () => {
    const tag = tagOf("two");
    const ids = await events(
      "test/flow-two",
      Array.from({ length: 10 }, (_, i) => ({ tag, name: String(i), ms: 120 })),
    );
    const runs = (await Promise.all(ids.map((id) => settledRuns(id, 1, 20_000)))).flat();
    expect(runs.map((r) => r.status)).toEqual(Array(10).fill("completed"));
    const spans = ids.map((_, i) => span(tag, String(i)));
    expect(mostAtOnce(spans)).toBe(2);
    // Their slots came back: the limit's object holds none and queues none.
    const limit = testEnv.FLOW.get(testEnv.FLOW.idFromName(flowObjectName("concurrency", "flow-two-at-once", "")));
    await waitFor(async () => ((await limit.slotCounts()).held === 0 ? true : undefined), "the slots to be released");
    expect(await limit.slotCounts()).toEqual({ held: 0, queued: 0 });
  });

  it("gives each key its own limit: two keys run side by side, each one at a time", async () => {
    const tag = tagOf("keyed");
    const ids = await events("test/flow-keyed", [
      { tag, key: "a", name: "a1", ms: 300 },
      { tag, key: "b", name: "b1", ms: 300 },
      { tag, key: "a", name: "a2", ms: 300 },
      { tag, key: "b", name: "b2", ms: 300 },
    ]);
    await Promise.all(ids.map((id) => settledRuns(id)));
    const [a1, b1, a2, b2] = ["a1", "b1", "a2", "b2"].map((n) => span(tag, n));
    expect(mostAtOnce([a1!, a2!])).toBe(1);
    expect(mostAtOnce([b1!, b2!])).toBe(1);
    expect(mostAtOnce([a1!, b1!, a2!, b2!])).toBe(2);
  });

  it('shares a `scope: "env"` limit between two functions using the same key value', async () => {
    const tag = tagOf("shared");
    const account = `acct-${stamp}`;
    const ids = [
      ...(await events("test/flow-shared-a", [
        { tag, account, name: "a1", ms: 200 },
        { tag, account, name: "a2", ms: 200 },
      ])),
      ...(await events("test/flow-shared-b", [
        { tag, account, name: "b1", ms: 200 },
        { tag, account: `other-${stamp}`, name: "other", ms: 200 },
      ])),
    ];
    await Promise.all(ids.map((id) => settledRuns(id)));
    expect(mostAtOnce(["a1", "a2", "b1"].map((n) => span(tag, n)))).toBe(1);
    // Another account's run waits on nobody.
    expect(span(tag, "other").start).toBeLessThan(Math.max(...["a1", "a2", "b1"].map((n) => span(tag, n).start)));
  });

  it("holds a slot only while the run executes: a sleeping run lets the next one run", async () => {
    const tag = tagOf("naps");
    const [first] = await events("test/flow-naps", [{ tag, name: "first", nap: 1500 }]);
    const firstRun = await runIdOf(first!);
    await statusIs(firstRun, "sleeping");
    const [second] = await events("test/flow-naps", [{ tag, name: "second", nap: 0 }]);
    const runs = await settledRuns(second!);
    expect(runs[0]?.status).toBe("completed");
    // The second ran entirely while the first slept.
    expect((await detailOf(firstRun)).status).not.toBe("completed");
    const [done] = await settledRuns(first!);
    expect(done?.status).toBe("completed");
    expect(times.get(`${tag}:after:second`)![0]!).toBeLessThan(times.get(`${tag}:after:first`)![0]!);
  });

  it("orders a queue by priority: a later run with a higher priority goes first", async () => {
    const tag = tagOf("priority");
    // Longer than a run beyond the limit waits in its ask (1 s), so that "low" is listed queued.
    const [blocker] = await events("test/flow-priority", [{ tag, name: "blocker", ms: 2500, p: 0 }]);
    await waitFor(async () => (times.get(`${tag}:start:blocker`) ? true : undefined), "the blocker to start");
    const [low] = await events("test/flow-priority", [{ tag, name: "low", ms: 50, p: 0 }]);
    const lowRun = await runIdOf(low!);
    await statusIs(lowRun, "queued");
    const [high] = await events("test/flow-priority", [{ tag, name: "high", ms: 50, p: 300 }]);
    await Promise.all([blocker, low, high].map((id) => settledRuns(id!)));
    expect(span(tag, "high").start).toBeLessThan(span(tag, "low").start);
  });
});

describe("a queued run", () => {
  it("shows why it waits, is cancelled by timeouts.start, and gives its place back when cancelled", async () => {
    const tag = tagOf("queued");
    const [blocker] = await events("test/flow-starts-soon", [{ tag, name: "blocker", ms: 2500 }]);
    await waitFor(async () => (times.get(`${tag}:start:blocker`) ? true : undefined), "the blocker to start");
    const [late, cancelled] = await events("test/flow-starts-soon", [
      { tag, name: "late", ms: 10 },
      { tag, name: "cancelled", ms: 10 },
    ]);
    const [lateRun, cancelledRun] = [await runIdOf(late!), await runIdOf(cancelled!)];
    await statusIs(cancelledRun, "queued");
    const detail = runDetail.parse(await detailOf(cancelledRun));
    expect(detail.queued).toMatchObject({ reason: "concurrency" });
    expect(detail.steps).toEqual([]);
    // Listed as queued too.
    const listed = await inListing<{ status: string }>(cancelledRun, "SELECT status FROM runs WHERE id = ?", cancelledRun);
    expect(listed?.status).toBe("queued");

    expect((await api(`/api/v1/runs/${cancelledRun}/cancel`, { method: "POST" })).body).toEqual({
      id: cancelledRun,
      status: "cancelled",
      cancelled: true,
    });
    // The other waits past its 1 s start timeout while the blocker runs.
    await statusIs(lateRun, "cancelled");
    expect(await detailOf(lateRun)).toMatchObject({ error: { code: "run_start_timed_out" } });
    await settledRuns(blocker!);
    // Neither ever ran, and their places were given back: the next run starts at once.
    const [next] = await events("test/flow-starts-soon", [{ tag, name: "next", ms: 10 }]);
    expect((await settledRuns(next!))[0]?.status).toBe("completed");
    expect(times.get(`${tag}:start:late`)).toBeUndefined();
    expect(times.get(`${tag}:start:cancelled`)).toBeUndefined();
  });
});

describe("timeouts.finish under a limit", () => {
  it("counts from the run's start, not from its time in the queue", async () => {
    const tag = tagOf("finish");
    // Whichever is admitted second waits for the other (2 or 1.5 s), then runs (1.5 or 2 s): it ends 3.5 s
    // after it was created, and at most 2 s after it started. The events go to two queue shards, in either order.
    const [first, second] = await events("test/flow-finish", [
      { tag, name: "first", ms: 2000 },
      { tag, name: "second", ms: 1500 },
    ]);
    const runs = [(await settledRuns(first!, 1, 20_000))[0]!, (await settledRuns(second!, 1, 20_000))[0]!];
    expect(runs.map((r) => [r.status, r.output])).toEqual([
      ["completed", "first"],
      ["completed", "second"],
    ]);
    const last = runs.sort((x, y) => Date.parse(x.endedAt!) - Date.parse(y.endedAt!))[1]!;
    expect(Date.parse(last.endedAt!) - Date.parse(last.startedAt)).toBeGreaterThan(3000);
  });
});

describe("a slot's lease", () => {
  it("gives back a slot whose run no longer holds it (its release was lost), to the run queued behind it", async () => {
    const tag = tagOf("lease");
    const key = `ghost-${stamp}`;
    const { name, limit } = keyedLimit("flow-one-per-key", key);
    // A run that took the slot and never let it go: its object holds no run.
    expect(await limit.acquireSlot(name, `ghost-run-${stamp}`, 1, 0, 1)).toBe(true);
    const [id] = await events("test/flow-keyed", [{ tag, key, name: "behind", ms: 10 }]);
    await statusIs(await runIdOf(id!), "queued");
    const sentAt = Date.now();
    expect((await settledRuns(id!))[0]?.status).toBe("completed");
    // Within a lease (2 s here) of the ghost's last check.
    expect(Date.now() - sentAt).toBeLessThan(5000);
    expect(await limit.slotCounts()).toEqual({ held: 0, queued: 0 });
  });
});

describe("slots the fan-out takes", () => {
  it("are returned when a redelivery takes one again for a run that has ended", async () => {
    const tag = tagOf("retaken");
    const key = `retaken-${stamp}`;
    const { name, limit } = keyedLimit("flow-one-per-key", key);
    const [id] = await events("test/flow-keyed", [{ tag, key, name: "once", ms: 10 }]);
    const runId = await runIdOf(id!);
    expect((await settledRuns(id!))[0]?.status).toBe("completed");
    await waitFor(async () => ((await limit.slotCounts()).held === 0 ? true : undefined), "the slot to be released");
    // The redelivery's fan-out takes the free slot for the run again, and calls its start().
    expect(await limit.reserveSlots(name, [{ runId, ord: 0 }], 1)).toEqual([runId]);
    const run = testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
    const event = { id: id!, name: "test/flow-keyed", data: {}, ts: 0 };
    const takenAt = Date.now();
    expect(await run.start({ runId, functionId: "flow-one-per-key", event, slots: [name] })).toMatchObject({ created: false });
    await waitFor(async () => ((await limit.slotCounts()).held === 0 ? true : undefined), "the slot to be returned");
    // Returned by the run at once, not by the slot's lease (2 s here).
    expect(Date.now() - takenAt).toBeLessThan(1500);
  });
});

describe("a run that ends in its first turn", () => {
  it("hands its slot back in start()'s answer to a caller that takes releases back, and lets go of nothing itself", async () => {
    const key = `handback-${stamp}`;
    const { name, limit } = keyedLimit("flow-instant", key);
    const runId = `01HANDBACK${String(Date.now()).padStart(16, "0")}`;
    expect(await limit.reserveSlots(name, [{ runId, ord: 0 }], 1)).toEqual([runId]);
    const event = { id: `handback-${stamp}`, name: "test/flow-instant", data: { key }, ts: Date.now() };
    const run = testEnv.RUNS.get(testEnv.RUNS.idFromName(runId));
    const started = await run.start({ runId, functionId: "flow-instant", event, slots: [name], releasesBack: true });
    expect(started).toMatchObject({ created: true, status: "completed", releases: [`1 ${name}`] });
    // The run sent no release of its own: the slot waits for the caller.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await limit.slotCounts()).toEqual({ held: 1, queued: 0 });
    await limit.releaseSlotsOf(name, [{ runId, ticket: 1 }]);
    expect(await limit.slotCounts()).toEqual({ held: 0, queued: 0 });
  });
});

describe("throttle", () => {
  it("spaces starts by its period, delaying (not dropping) the rest, and says when each may start", async () => {
    const tag = tagOf("throttle");
    const key = `k-${stamp}`;
    const sentAt = Date.now();
    const ids = await events(
      "test/flow-throttled",
      Array.from({ length: 4 }, (_, i) => ({ tag, key, name: String(i), ms: 10 })),
    );
    // The events go to two queue shards, so the throttle may take them in any order: the last it takes is queued
    // longest. One start a second: it may start three periods after the first, which started after the send.
    const details = await Promise.all(ids.map(async (id) => runDetail.parse(await detailOf(await runIdOf(id)))));
    const queued = details.filter((d) => d.status === "queued");
    expect(queued.length).toBeGreaterThan(0);
    for (const d of queued) expect(d.queued).toMatchObject({ reason: "throttle" });
    expect(Math.max(...queued.map((d) => Date.parse(d.queued!.startAt!)))).toBeGreaterThanOrEqual(sentAt + 2_900);
    const runs = (await Promise.all(ids.map((id) => settledRuns(id, 1, 20_000)))).flat();
    expect(runs.map((r) => r.status)).toEqual(Array(4).fill("completed"));
    const starts = ids.map((_, i) => span(tag, String(i)).start).sort((a, b) => a - b);
    // Admitted a period apart; each handler starts a little after its admission, by however long its turn took to come.
    expect(starts[3]! - starts[0]!).toBeGreaterThanOrEqual(2_900);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(700);
  });
});
