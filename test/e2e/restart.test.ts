import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type EventDetail, type RunDetail, StepflareHttp, waitFor } from "./client";
import { printOutputIfFailed, WranglerDev } from "./harness";

// After a crash, a running run resumes from its Durable Object's alarm (the
// run lease, every 30 s) and an undispatched event from the sweeper (events
// older than 30 s, every 30 s): both well inside this bound.
const RESUME_TIMEOUT_MS = 90_000;

let dev: WranglerDev;
let http: StepflareHttp;
const stamp = Date.now().toString(36);
const tags = {
  durable: `durable-${stamp}`,
  parallel: `parallel-${stamp}`,
  late: `late-${stamp}`,
  sleepy: `sleepy-${stamp}`,
  order: `order-${stamp}`,
};
const eventIds: Record<keyof typeof tags, string> = { durable: "", parallel: "", late: "", sleepy: "", order: "" };
/** Runs of a function with `concurrency: 2`: a batch that ran to the end before the crash, and one queued behind the limit across it. */
const limitTags = { before: `limit-before-${stamp}`, across: `limit-across-${stamp}` };
let limitedAcross: string[] = [];
/** How many runs of the batch across the crash were queued and running when wrangler was killed. */
let limitedAtCrash: Record<string, number> = {};
/** Each run as it stood when wrangler was killed. */
const beforeCrash = new Map<string, RunDetail>();
/** The late event as the restarted wrangler first shows it. */
let lateAfterRestart: EventDetail | undefined;
let restartedAt = 0;

async function calls(tag: string): Promise<string[]> {
  const res = await fetch(`${dev.url}/e2e/calls/${encodeURIComponent(tag)}`);
  if (res.status !== 200) throw new Error(`GET /e2e/calls answered ${res.status}`);
  return ((await res.json()) as { step: string }[]).map((r) => r.step);
}

const count = (list: string[], step: string) => list.filter((s) => s === step).length;

async function timedCalls(tag: string): Promise<{ step: string; at: number }[]> {
  const res = await fetch(`${dev.url}/e2e/calls/${encodeURIComponent(tag)}`);
  return (await res.json()) as { step: string; at: number }[];
}

/** The most executions of `limited` open at one moment, from their recorded starts and ends. */
function mostAtOnce(recorded: { step: string; at: number }[]): number {
  let open = 0;
  let most = 0;
  const marks = recorded.map((r) => [r.at, r.step.startsWith("end:") ? -1 : 1] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [, d] of marks) most = Math.max(most, (open += d));
  return most;
}

const limitedEvents = (tag: string, n: number, sleepMs: number) =>
  Array.from({ length: n }, (_, i) => ({ name: "e2e/limited", data: { tag, n: i, sleepMs } }));

async function onlyRun(eventId: string): Promise<RunDetail> {
  const ev = await http.event(eventId);
  if (ev.runs.length !== 1) throw new Error(`event ${eventId} has ${ev.runs.length} runs`);
  return http.run(ev.runs[0]!.id);
}

async function completedRun(eventId: string): Promise<RunDetail> {
  return waitFor(
    async () => {
      const run = await onlyRun(eventId).catch(() => undefined);
      return run && ["completed", "failed"].includes(run.status) ? run : undefined;
    },
    `the run of event ${eventId} to settle after the restart`,
    RESUME_TIMEOUT_MS,
    250,
  );
}

beforeAll(async () => {
  dev = await WranglerDev.start({ config: "test/e2e/worker/wrangler.toml", vars: { STEPFLARE_DEV: "true" } });
  http = new StepflareHttp(dev.url);

  // Six runs two at a time, to the end; then five more, caught two running and three queued by the crash.
  const before = await http.send(limitedEvents(limitTags.before, 6, 300));
  await waitFor(
    async () => ((await calls(limitTags.before)).filter((s) => s.startsWith("end:")).length === 6 ? true : undefined),
    "six runs to end",
    30_000,
  );
  await Promise.all(before.map((id) => completedRun(id)));
  limitedAcross = await http.send(limitedEvents(limitTags.across, 5, 3_000));

  // A run waiting for an event across the crash: the event comes after the restart.
  [eventIds.order] = (await http.send({ name: "e2e/order", data: { tag: tags.order } })) as [string];
  // A run asleep across the crash: it wakes from its object's stored timer.
  [eventIds.sleepy] = (await http.send({ name: "e2e/sleepy", data: { tag: tags.sleepy, sleepMs: 20_000 } })) as [string];
  // Two runs caught mid-step: one whose second step runs inline in its object,
  // one whose two parallel steps run from the steps queue.
  [eventIds.durable] = (await http.send({ name: "e2e/durable", data: { tag: tags.durable, sleepMs: 4_000 } })) as [string];
  [eventIds.parallel] = (await http.send({ name: "e2e/parallel", data: { tag: tags.parallel, sleepMs: 4_000 } })) as [string];
  await waitFor(async () => ((await calls(tags.durable)).includes("second") ? true : undefined), "step 2 of the durable run to start");
  await waitFor(async () => ((await calls(tags.parallel)).length === 2 ? true : undefined), "both parallel steps to start");
  await waitFor(async () => ((await calls(limitTags.across)).length >= 2 ? true : undefined), "two limited runs to start");
  limitedAtCrash = {};
  for (const id of limitedAcross) {
    const run = await waitFor(() => onlyRun(id), `the run of ${id} in the index`);
    limitedAtCrash[run.status] = (limitedAtCrash[run.status] ?? 0) + 1;
  }
  for (const id of [eventIds.durable, eventIds.parallel, eventIds.sleepy, eventIds.order]) {
    const run = await waitFor(() => onlyRun(id), `the run of ${id} in the index`);
    beforeCrash.set(id, run);
  }

  // An event accepted just before the crash: wrangler dies as soon as it
  // answers, while the event still waits in the local queue's 2 s batch.
  [eventIds.late] = (await http.send({ name: "e2e/quick", data: { tag: tags.late } })) as [string];
  await dev.restart("SIGKILL");
  restartedAt = Date.now();
  lateAfterRestart = await http.event(eventIds.late);
}, 120_000);

afterEach((ctx) => printOutputIfFailed(dev, ctx));

afterAll(async () => {
  await dev?.dispose();
});

describe("a wrangler dev killed mid-run and started again on the same state", () => {
  it("was killed while the steps were in flight", () => {
    expect(beforeCrash.get(eventIds.durable)?.steps.map((s) => [s.id, s.status])).toEqual([
      ["first", "completed"],
      ["second", "running"],
    ]);
    expect(beforeCrash.get(eventIds.parallel)?.steps.map((s) => [s.id, s.status])).toEqual([
      ["left", "running"],
      ["right", "running"],
    ]);
    expect(beforeCrash.get(eventIds.sleepy)?.status).toBe("sleeping");
    expect(beforeCrash.get(eventIds.order)?.status).toBe("waiting");
    // Stored, but its queue message died with wrangler: only the sweeper can start its run now.
    expect(lateAfterRestart).toMatchObject({ dispatched: false, runs: [] });
  });

  it(
    "resumes a run whose inline step was in flight, without re-running the step that finished",
    async () => {
      const run = await completedRun(eventIds.durable);
      expect(run).toMatchObject({ status: "completed", output: { first: "one", second: "two" } });
      expect(run.steps.map((s) => [s.id, s.status])).toEqual([
        ["first", "completed"],
        ["second", "completed"],
      ]);
      const recorded = await calls(tags.durable);
      expect(count(recorded, "first")).toBe(1);
      // Started once before the crash; finishing it took a second execution.
      expect(count(recorded, "second")).toBeGreaterThanOrEqual(2);
    },
    RESUME_TIMEOUT_MS + 10_000,
  );

  it(
    "resumes a run whose parallel steps were claimed on the steps queue well within a minute, not after the step timeout",
    async () => {
      const run = await completedRun(eventIds.parallel);
      // The claims lapse 30 s after their last renewal; the step timeout is 15 minutes.
      expect(Date.now() - restartedAt).toBeLessThan(60_000);
      expect(run).toMatchObject({ status: "completed", output: ["LEFT", "RIGHT"] });
      expect(run.steps.map((s) => [s.id, s.attempts])).toEqual([
        ["left", 2],
        ["right", 2],
      ]);
      const recorded = await calls(tags.parallel);
      expect(count(recorded, "left")).toBeGreaterThanOrEqual(2);
      expect(count(recorded, "right")).toBeGreaterThanOrEqual(2);
    },
    RESUME_TIMEOUT_MS + 10_000,
  );

  it(
    "wakes a run that slept through the crash, from its stored timer, running each step once",
    async () => {
      const run = await completedRun(eventIds.sleepy);
      expect(run).toMatchObject({ status: "completed", output: "awake" });
      expect(run.steps.map((s) => [s.id, s.status])).toEqual([
        ["before", "completed"],
        ["nap", "completed"],
        ["after", "completed"],
      ]);
      const recorded = await calls(tags.sleepy);
      expect([count(recorded, "before"), count(recorded, "after")]).toEqual([1, 1]);
    },
    RESUME_TIMEOUT_MS + 10_000,
  );

  it(
    "resumes a run that waited through the crash when its event comes after the restart",
    async () => {
      await http.send({ name: "e2e/paid", data: { tag: tags.order, amount: 5 } });
      const run = await completedRun(eventIds.order);
      expect(run).toMatchObject({ status: "completed", output: { paid: { tag: tags.order, amount: 5 } } });
    },
    RESUME_TIMEOUT_MS + 10_000,
  );

  it("held runs of `concurrency: 2` to two at a time before the crash, and completed them all", async () => {
    expect(mostAtOnce(await timedCalls(limitTags.before))).toBe(2);
    expect(limitedAtCrash).toEqual({ running: 2, queued: 3 });
  });

  it(
    "runs every run queued behind a limit across the crash, none lost",
    async () => {
      const runs = await Promise.all(limitedAcross.map((id) => completedRun(id)));
      expect(runs.map((r) => [r.status, r.output])).toEqual([0, 1, 2, 3, 4].map((n) => ["completed", n]));
      const ends = (await calls(limitTags.across)).filter((s) => s.startsWith("end:"));
      expect(new Set(ends)).toEqual(new Set(["end:0", "end:1", "end:2", "end:3", "end:4"]));
    },
    RESUME_TIMEOUT_MS + 30_000,
  );

  it(
    "still runs an event accepted just before the crash, once",
    async () => {
      const run = await completedRun(eventIds.late);
      expect(run).toMatchObject({ functionId: "quick", status: "completed", output: { tag: tags.late } });
      expect((await http.event(eventIds.late)).runs).toHaveLength(1);
      expect(count(await calls(tags.late), "only")).toBe(1);
    },
    RESUME_TIMEOUT_MS + 10_000,
  );
});
