import { NonRetriableError, RetryAfterError } from "../../../sdk";
import { app } from "./app";
import { callsOf, count, down, fixed, sleep, type TagData } from "./calls";

/* Failures: step and handler retries, dead letters, replays, onFailure, timeouts. */

export const flaky = app.createFunction(
  {
    id: "flaky",
    triggers: [{ event: "test/flaky" }],
    retries: 4,
    onFailure: ({ event }) => void count((event.data as TagData).tag, "onFailure"),
  },
  async ({ event, step }) => {
    const d = event.data as TagData & { failTimes: number; mode?: "plain" | "non-retriable" | "retry-after"; retryAfterMs?: number };
    const before = await step.run("before", () => (count(d.tag, "before"), "ok"));
    const value = await step.run("flaky", () => {
      count(d.tag, "flaky");
      if (callsOf(d.tag, "flaky") <= d.failTimes) {
        if (d.mode === "non-retriable") throw new NonRetriableError("permanent");
        if (d.mode === "retry-after") throw new RetryAfterError("later", d.retryAfterMs ?? 300);
        throw new Error(`boom ${callsOf(d.tag, "flaky")}`);
      }
      return "recovered";
    });
    return { before, value };
  },
);

export const siblingsFail = app.createFunction(
  {
    id: "siblings-fail",
    triggers: [{ event: "test/siblings-fail" }],
    retries: 1,
    onFailure: ({ event, error }) => {
      count((event.data as TagData).tag, "onFailure");
      count((event.data as TagData).tag, `onFailure:${error.message}`);
    },
  },
  async ({ event, step }) => {
    const d = event.data as TagData;
    await Promise.all(
      ["s1", "s2", "s3"].map((id) =>
        step.run(id, () => {
          count(d.tag, id);
          throw new Error(`${id} failed`);
        }),
      ),
    );
    return "unreachable";
  },
);

export const handlerFlaky = app.createFunction(
  { id: "handler-flaky", triggers: [{ event: "test/handler-flaky" }], retries: 3 },
  async ({ event, step, attempt }) => {
    const d = event.data as TagData & { failTimes: number };
    const v = await step.run("once", () => (count(d.tag, "once"), 1));
    count(d.tag, "handler");
    if (callsOf(d.tag, "handler") <= d.failTimes) throw new Error("outside any step");
    return { v, attempt };
  },
);

/** Fails its second step while the tag is "down": the dead-letter and replay scenario. */
export const replayable = app.createFunction(
  { id: "replayable", triggers: [{ event: "test/replayable" }], retries: 1 },
  async ({ event, step }) => {
    const d = event.data as TagData;
    const a = await step.run("first", () => (count(d.tag, "first"), "a"));
    const b = await step.run("second", () => {
      count(d.tag, "second");
      if (down.has(d.tag)) throw new Error("provider is down");
      return "b";
    });
    return a + b;
  },
);

/** One of three parallel steps fails twice before succeeding. */
export const parallelFlaky = app.createFunction(
  { id: "parallel-flaky", triggers: [{ event: "test/parallel-flaky" }] },
  async ({ event, step }) => {
    const d = event.data as TagData;
    return Promise.all(
      ["x", "y", "z"].map((id) =>
        step.run(id, () => {
          count(d.tag, id);
          if (id === "y" && callsOf(d.tag, "y") <= 2) throw new Error("y is flaky");
          return id;
        }),
      ),
    );
  },
);

/** A step whose promise never settles, alone (inline) or beside a sibling (queued). */
export const hangs = app.createFunction({ id: "hangs", triggers: [{ event: "test/hangs" }], retries: 0 }, async ({ event, step }) => {
  const d = event.data as TagData & { parallel?: boolean };
  const forever = () => new Promise<never>(() => {});
  if (!d.parallel) return step.run("stuck", forever);
  return Promise.all([step.run("stuck", forever), step.run("fine", () => 1)]);
});

/** Finishes a step, then awaits something outside any step that never settles; `retries` handler retries. */
export const idleHandler = app.createFunction(
  { id: "idle-handler", triggers: [{ event: "test/idle-handler" }], retries: 1 },
  async ({ event, step }) => {
    const d = event.data as TagData;
    await step.run("before", () => (count(d.tag, "before"), "ok"));
    count(d.tag, "hang");
    await new Promise<never>(() => {});
  },
);

/**
 * Fails at once unless its tag is "fixed"; its onFailure counts, then waits
 * while the tag is "down" (where a test evicts the object, or replays the run).
 */
export const slowOnFailure = app.createFunction(
  {
    id: "slow-on-failure",
    triggers: [{ event: "test/slow-on-failure" }],
    retries: 0,
    onFailure: async ({ event }) => {
      const tag = (event.data as TagData).tag;
      count(tag, "onFailure");
      while (down.has(tag)) await sleep(20);
    },
  },
  async ({ event, step }) => {
    await step.run("fails", () => {
      const tag = (event.data as TagData).tag;
      count(tag, "fails");
      if (!fixed.has(tag)) throw new NonRetriableError("fails for good");
    });
  },
);

/**
 * Two parallel steps: "fast" (no retries) fails at once while its tag is
 * down, failing the run; "slow" (one retry) decides when it starts whether it
 * will fail, then takes `slowMs`, so its result arrives after the run has
 * failed, and a replay can begin while it is still out.
 */
export const replayRace = app.createFunction(
  { id: "replay-race", triggers: [{ event: "test/replay-race" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { slowMs: number };
    return Promise.all([
      step.run({ id: "fast", retries: 0 }, () => {
        count(d.tag, "fast");
        if (down.has(d.tag)) throw new NonRetriableError("fast is down");
        return "fast";
      }),
      step.run({ id: "slow", retries: 1 }, async () => {
        count(d.tag, "slow");
        const failing = down.has(d.tag);
        await sleep(d.slowMs);
        if (failing) throw new Error("slow was down when it started");
        return "slow";
      }),
    ]);
  },
);

/**
 * Two subscribers of `test/fan-out`. This one's step waits while its tag is
 * "down", then fails unless the tag is "fixed"; the other has a step of its own.
 */
export const fanOutFails = app.createFunction(
  { id: "fan-out-fails", triggers: [{ event: "test/fan-out" }], retries: 2 },
  async ({ event, step }) => {
    const tag = (event.data as TagData).tag;
    return step.run("call", async () => {
      count(tag, "call");
      while (down.has(tag)) await sleep(20);
      if (!fixed.has(tag)) throw new Error("provider is down");
      return "called";
    });
  },
);

export const fanOutSibling = app.createFunction(
  { id: "fan-out-sibling", triggers: [{ event: "test/fan-out" }] },
  async ({ event, step }) => {
    const tag = (event.data as TagData).tag;
    count(tag, "sibling-handler");
    return step.run("work", () => (count(tag, "work"), "worked"));
  },
);
