import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env, RunDetail } from "../../src";
import { callsOf } from "../engine-fixture/functions";
import worker from "../engine-fixture/index";
import { api, sendEvents, waitFor } from "./helpers";

const testEnv = env as unknown as Env;

type Listed = { id: string; functionId: string; status: string; errorCode?: string };
type EventView = { runs: Listed[] };

/** The event's listed runs once `ready` says so. */
const runsOf = (eventId: string, ready: (runs: Listed[]) => boolean, what: string, timeoutMs?: number) =>
  waitFor(
    async () => {
      const { status, body } = await api<EventView>(`/api/v1/events/${eventId}`);
      return status === 200 && ready(body.runs) ? body.runs : undefined;
    },
    what,
    timeoutMs,
  );
const ended = (runs: Listed[]) => runs.length > 0 && runs.every((r) => ["completed", "failed", "cancelled", "skipped"].includes(r.status));
const detail = async (runId: string) => (await api<RunDetail>(`/api/v1/runs/${runId}`)).body;
const listedOf = async (functionId: string) =>
  (await api<{ runs: (Listed & { eventId: string })[] }>(`/api/v1/runs?functionId=${functionId}&limit=100`)).body.runs;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("trigger filters", () => {
  it("starts a run only for events its `if` holds for; the others start and list nothing", async () => {
    const [small, big, none] = await sendEvents([
      { name: "test/purchase", data: { amount: 50 } },
      { name: "test/purchase", data: { amount: 500 } },
      { name: "test/purchase", data: {} },
    ]);
    const [run] = await runsOf(big!, ended, "the big purchase's run");
    expect(run).toMatchObject({ functionId: "big-spender", status: "completed" });
    expect((await detail(run!.id)).output).toBe(500);
    // Dispatched, with no run: the filter said no.
    for (const id of [small, none]) {
      const view = await waitFor(async () => {
        const { body } = await api<EventView & { dispatched: boolean }>(`/api/v1/events/${id}`);
        return body.dispatched ? body : undefined;
      }, "the filtered event to be dispatched");
      expect(view.runs).toEqual([]);
    }
  });
});

describe("rateLimit", () => {
  it("starts the first two of five events a minute, and lists the other three skipped, rate_limited", async () => {
    const tag = "rate-five";
    const ids = await sendEvents([1, 2, 3, 4, 5].map((n) => ({ name: "test/rate-limited", data: { tag, n } })));
    const runs = await Promise.all(ids.map((id) => runsOf(id, ended, `event ${id}'s run`).then((r) => r[0]!)));
    expect(runs.filter((r) => r.status === "completed")).toHaveLength(2);
    const skipped = runs.filter((r) => r.status === "skipped");
    expect(skipped).toHaveLength(3);
    for (const r of skipped) expect(r.errorCode).toBe("rate_limited");
    expect(await detail(skipped[0]!.id)).toMatchObject({
      status: "skipped",
      skipped: { reason: "rate_limited", message: expect.stringContaining("rateLimit") },
      steps: [],
    });
    // Another key has a window of its own.
    const [other] = await sendEvents({ name: "test/rate-limited", data: { tag: "rate-other", n: 6 } });
    expect((await runsOf(other!, ended, "the other key's run"))[0]).toMatchObject({ status: "completed" });
    // Skipped runs are in the runs listing too, filterable by status.
    const listed = (await api<{ runs: Listed[] }>("/api/v1/runs?functionId=rate-limited&status=skipped")).body.runs;
    expect(listed.map((r) => r.id)).toEqual(expect.arrayContaining(skipped.map((r) => r.id)));
  });

  it("answers a redelivered event as it did the first time, counting it once", async () => {
    const { RateLimitWindow } = await import("../../src/flow/rate-limit");
    const { runInDurableObject } = await import("cloudflare:test");
    const stub = testEnv.FLOW.get(testEnv.FLOW.newUniqueId());
    await runInDurableObject(stub, (_o, ctx) => {
      const w = new RateLimitWindow(ctx.storage.sql);
      const t = 1_000_000;
      expect([w.admit("a", t, 2, 1000), w.admit("a", t + 1, 2, 1000), w.admit("b", t + 2, 2, 1000)].map((x) => x.allowed)).toEqual([
        true,
        true,
        true,
      ]);
      expect(w.admit("c", t + 3, 2, 1000).allowed).toBe(false);
      expect(w.admit("c", t + 2000, 2, 1000).allowed).toBe(false); // still the first answer
      // At exactly one period after the first start, that start has left the window.
      expect(w.admit("d", t + 999, 2, 1000).allowed).toBe(false);
      expect(w.admit("e", t + 1000, 2, 1000).allowed).toBe(true);
    });
  });
});

describe("debounce", () => {
  it("gives five quick events one run, a second after the last, with the last event", async () => {
    const tag = "debounce-five";
    const ids: string[] = [];
    for (let n = 1; n <= 5; n++) {
      ids.push(...(await sendEvents({ name: "test/debounced", data: { tag, n } })));
      await sleep(150);
    }
    const sentLast = Date.now();
    const [run] = await runsOf(ids[4]!, ended, "the last event's run", 20_000);
    expect(run).toMatchObject({ functionId: "debounced", status: "completed" });
    const d = await detail(run!.id);
    expect(d.output).toEqual({ n: 5, events: 1 });
    expect(Date.parse(d.startedAt)).toBeGreaterThanOrEqual(sentLast + 800);
    // The four before it were superseded: listed skipped, debounced.
    for (const id of ids.slice(0, 4)) {
      const [r] = await runsOf(id, (runs) => runs.length === 1, `event ${id}'s listing`);
      expect(r).toMatchObject({ status: "skipped", errorCode: "debounced" });
      expect(await detail(r!.id)).toMatchObject({ status: "skipped", skipped: { reason: "debounced" }, steps: [] });
    }
    expect((await listedOf("debounced")).filter((r) => ids.includes(r.eventId) && r.status === "completed")).toHaveLength(1);
  });

  it("lists the run it holds as queued, with why, until it starts", async () => {
    const [id] = await sendEvents({ name: "test/debounced", data: { tag: "debounce-held", n: 1 } });
    const [held] = await runsOf(id!, (runs) => runs.length === 1, "the held run's listing");
    expect(held).toMatchObject({ functionId: "debounced", status: "queued", errorCode: "debounce" });
    expect(await detail(held!.id)).toMatchObject({ status: "queued", queued: { reason: "debounce" }, steps: [] });
    const [run] = await runsOf(id!, ended, "the held run to start and end", 20_000);
    expect(run).toMatchObject({ id: held!.id, status: "completed" });
    expect((await detail(run!.id)).output).toEqual({ n: 1, events: 1 });
  });

  it("starts no later than `timeout` after the first event, however often events come", async () => {
    const { debounceDue } = await import("../../src/flow/debounce");
    expect(debounceDue(1000, 1000, 500, undefined)).toBe(1500);
    expect(debounceDue(5000, 1000, 500, 4200)).toBe(5200);
    expect(debounceDue(5000, 1000, 500, 10_000)).toBe(5500);
  });
});

describe("batchEvents", () => {
  it("runs 25 events with maxSize 10 as batches of 10, 10 and 5 (the 5 at the timeout), each handler seeing its events in order", async () => {
    const tag = "batch-25";
    const ids = await sendEvents(Array.from({ length: 25 }, (_, i) => ({ name: "test/batched", data: { tag, n: i + 1 } })));
    const outputs = await waitFor(
      async () => {
        const runs = (await listedOf("batched")).filter((r) => ids.includes(r.eventId));
        if (runs.length < 3 || !runs.every((r) => r.status === "completed")) return undefined;
        return Promise.all(
          runs.map(async (r) => (await detail(r.id)).output as { first: number; size: number; last: number; ns: number[] }),
        );
      },
      "three completed batch runs",
      20_000,
    );
    expect(outputs.map((o) => o.size).sort((a, b) => b - a)).toEqual([10, 10, 5]);
    // Every event in exactly one batch; within a batch, in the order they were taken; `event` is the first.
    expect(outputs.flatMap((o) => o.ns).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    for (const o of outputs) {
      expect(o.first).toBe(o.ns[0]);
      expect(o.last).toBe(o.ns.at(-1));
    }
  });
});

describe("batchEvents with an if", () => {
  it("batches only the events its `if` holds for; another starts a run of its own at once", async () => {
    // A one-minute timeout: the bulk batch can only start by filling up, and the lone event only by skipping the batch.
    const ids = await sendEvents([
      { name: "test/batched-if", data: { bulk: true, n: 1 } },
      { name: "test/batched-if", data: { bulk: false, n: 2 } },
      { name: "test/batched-if", data: { bulk: true, n: 3 } },
      { name: "test/batched-if", data: { n: 4 } },
      { name: "test/batched-if", data: { bulk: true, n: 5 } },
    ]);
    const outputs = await waitFor(
      async () => {
        const runs = (await listedOf("batched-if")).filter((r) => ids.includes(r.eventId));
        if (runs.length < 3 || !runs.every((r) => r.status === "completed")) return undefined;
        return Promise.all(runs.map(async (r) => (await detail(r.id)).output as number[]));
      },
      "a batch of three and two lone runs",
      10_000,
    );
    expect(outputs.map((o) => [...o].sort().join(",")).sort()).toEqual(["1,3,5", "2", "4"]);
  });
});

describe("a held run", () => {
  it("is skipped, function_paused, when its function was paused before it starts", async () => {
    const [id] = await sendEvents({ name: "test/debounced", data: { tag: "debounce-paused", n: 1 } });
    await runsOf(id!, (runs) => runs[0]?.status === "queued", "the held run's listing");
    expect((await api("/api/v1/functions/debounced/pause", { method: "POST" })).status).toBe(200);
    try {
      const [run] = await runsOf(id!, ended, "the held run's end", 20_000);
      expect(run).toMatchObject({ status: "skipped", errorCode: "function_paused" });
    } finally {
      await api("/api/v1/functions/debounced/resume", { method: "POST" });
    }
  });

  it("is listed queued while its batch is open, with why, and starts under the same id", async () => {
    const [id] = await sendEvents({ name: "test/batched", data: { tag: "batch-held", n: 1 } });
    const [held] = await runsOf(id!, (runs) => runs.length === 1, "the open batch's run");
    expect(held).toMatchObject({ functionId: "batched", status: "queued", errorCode: "batch" });
    expect(await detail(held!.id)).toMatchObject({ status: "queued", queued: { reason: "batch" }, steps: [] });
    const [run] = await runsOf(id!, ended, "the batch to start and end", 20_000);
    expect(run).toMatchObject({ id: held!.id, status: "completed" });
    expect(run!.errorCode).toBeUndefined();
  });
});

describe("singleton", () => {
  it("mode skip: a second event while the run sleeps is skipped; after it ends, a third runs", async () => {
    const tag = "single-skip";
    const [first] = await sendEvents({ name: "test/single-skip", data: { tag, n: 1, sleep: "1500ms" } });
    await runsOf(first!, (r) => r[0]?.status === "sleeping", "the first run to sleep");
    const [second] = await sendEvents({ name: "test/single-skip", data: { tag, n: 2, sleep: "1ms" } });
    expect((await runsOf(second!, ended, "the second's listing"))[0]).toMatchObject({ status: "skipped", errorCode: "singleton_skipped" });
    // Another key is not held up.
    const [other] = await sendEvents({ name: "test/single-skip", data: { tag: "single-skip-other", n: 9, sleep: "1ms" } });
    expect((await runsOf(other!, ended, "the other key's run"))[0]).toMatchObject({ status: "completed" });
    await runsOf(first!, ended, "the first run to end");
    const [third] = await sendEvents({ name: "test/single-skip", data: { tag, n: 3, sleep: "1ms" } });
    expect((await runsOf(third!, ended, "the third run"))[0]).toMatchObject({ status: "completed" });
  });

  it("mode cancel: a second event cancels the run going and starts its own", async () => {
    const tag = "single-cancel";
    const [first] = await sendEvents({ name: "test/single-cancel", data: { tag, n: 1, sleep: "1h" } });
    await runsOf(first!, (r) => r[0]?.status === "sleeping", "the first run to sleep");
    const [second] = await sendEvents({ name: "test/single-cancel", data: { tag, n: 2, sleep: "1ms" } });
    const [run2] = await runsOf(second!, ended, "the second run");
    expect(run2).toMatchObject({ status: "completed" });
    expect((await detail(run2!.id)).output).toBe(2);
    const [run1] = await runsOf(first!, ended, "the first run to be cancelled");
    expect(run1).toMatchObject({ status: "cancelled" });
  });
});

describe("idempotency", () => {
  it("runs once per key value: a second event for the same user is skipped, another user's runs", async () => {
    const [a, b, c] = await sendEvents([
      { name: "test/once-per-user", data: { userId: "idem-u1", n: 1 } },
      { name: "test/once-per-user", data: { userId: "idem-u2", n: 2 } },
    ]).then(async (ids) => [...ids, ...(await sendEvents({ name: "test/once-per-user", data: { userId: "idem-u1", n: 3 } }))]);
    expect((await runsOf(b!, ended, "u2's run"))[0]).toMatchObject({ status: "completed" });
    // u1's two events may reach the fan-out in either order (they can travel on two queue shards): one runs, the other is skipped.
    const u1 = [(await runsOf(a!, ended, "u1's first event"))[0]!, (await runsOf(c!, ended, "u1's second event"))[0]!];
    expect(u1.map((r) => r.status).sort()).toEqual(["completed", "skipped"]);
    expect(u1.find((r) => r.status === "skipped")).toMatchObject({ errorCode: "idempotency_duplicate" });
  });
});

describe("cron triggers", () => {
  const schedule = async (at: number) => {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), testEnv, ctx);
    await waitOnExecutionContext(ctx);
  };

  it("starts the function whose cron is due in the scheduled minute, once however often that minute is delivered", async () => {
    const due = Date.UTC(2031, 0, 1, 0, 5, 12); // a Wednesday, 00:05:12 UTC: */5 is due
    await schedule(due);
    await schedule(due + 30_000); // the same minute again
    await schedule(Date.UTC(2031, 0, 1, 0, 6)); // */5 is not due
    const runs = await waitFor(async () => {
      const r = (await listedOf("every-five")).filter((x) => x.status === "completed");
      return r.length >= 1 ? r : undefined;
    }, "the cron run");
    expect(runs).toHaveLength(1);
    const d = await detail(runs[0]!.id);
    expect(d.output).toEqual({ cron: "*/5 * * * *" });
    const { body } = await api<{ event: { name: string; ts: number } }>(`/api/v1/events/${runs[0]!.eventId}`);
    expect(body.event).toMatchObject({ name: "stepflare/scheduled.timer", ts: Date.UTC(2031, 0, 1, 0, 5) });
    expect(callsOf("cron", "*/5 * * * *")).toBe(1);
  });

  it("reads a TZ= cron in its time zone: 9:00 in Paris on a weekday is 8:00 UTC in winter", async () => {
    await schedule(Date.UTC(2031, 0, 6, 9, 0)); // Monday 9:00 UTC is 10:00 in Paris: not due
    await schedule(Date.UTC(2031, 0, 6, 8, 0)); // Monday 8:00 UTC is 9:00 in Paris
    await schedule(Date.UTC(2031, 0, 4, 8, 0)); // a Saturday: not due
    await waitFor(async () => (callsOf("cron", "TZ=Europe/Paris 0 9 * * 1-5") >= 1 ? true : undefined), "the Paris run");
    await sleep(200);
    expect(callsOf("cron", "TZ=Europe/Paris 0 9 * * 1-5")).toBe(1);
  });
});

describe("pause and resume", () => {
  it("lists a paused function's events as skipped, function_paused, and runs them again once resumed", async () => {
    const tag = "pause-resume";
    const paused = await api<{ id: string; paused: boolean; pausedAt: number }>("/api/v1/functions/pausable/pause", { method: "POST" });
    expect(paused).toMatchObject({ status: 200, body: { id: "pausable", paused: true } });
    const fns = (await api<{ functions: { id: string; paused: boolean; pausedAt?: number }[] }>("/api/v1/functions")).body.functions;
    expect(fns.find((f) => f.id === "pausable")).toMatchObject({ paused: true, pausedAt: paused.body.pausedAt });
    expect(fns.find((f) => f.id === "big-spender")).toMatchObject({ paused: false });
    const [during] = await sendEvents({ name: "test/pausable", data: { tag } });
    expect((await runsOf(during!, ended, "the paused event's listing"))[0]).toMatchObject({
      status: "skipped",
      errorCode: "function_paused",
    });
    expect(callsOf(tag, "pausable")).toBe(0);

    expect(await api("/api/v1/functions/pausable/resume", { method: "POST" })).toMatchObject({ status: 200, body: { paused: false } });
    const [after] = await sendEvents({ name: "test/pausable", data: { tag } });
    expect((await runsOf(after!, ended, "the resumed function's run"))[0]).toMatchObject({ status: "completed" });
    expect(callsOf(tag, "pausable")).toBe(1);
  });

  it("answers 404 function_not_found for a function this engine does not have", async () => {
    for (const action of ["pause", "resume"]) {
      const res = await api<{ error: { code: string } }>(`/api/v1/functions/nope/${action}`, { method: "POST" });
      expect(res).toMatchObject({ status: 404, body: { error: { code: "function_not_found" } } });
    }
  });
});
