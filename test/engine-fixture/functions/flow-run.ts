import { app } from "./app";
import { count, sleep, type TagData } from "./calls";

/* Flow control on the run side: concurrency, throttle, priority, timeouts.start. Each records when its step starts and ends. */

type Work = TagData & { ms?: number; name?: string };

/** One step of `ms` that notes its start and end under the event's `name` (its index, say). */
const work = async ({ event, step }: { event: { data: unknown }; step: { run: <T>(id: string, fn: () => Promise<T>) => Promise<T> } }) => {
  const d = event.data as Work;
  return step.run("work", async () => {
    count(d.tag, `start:${d.name ?? ""}`);
    await sleep(d.ms ?? 100);
    count(d.tag, `end:${d.name ?? ""}`);
    return d.name ?? null;
  });
};

export const twoAtOnce = app.createFunction({ id: "flow-two-at-once", triggers: [{ event: "test/flow-two" }], concurrency: 2 }, work);

export const onePerKey = app.createFunction(
  { id: "flow-one-per-key", triggers: [{ event: "test/flow-keyed" }], concurrency: { limit: 1, key: "event.data.key" } },
  work,
);

/** Two functions sharing one limit per account across the environment. */
export const sharedA = app.createFunction(
  {
    id: "flow-shared-a",
    triggers: [{ event: "test/flow-shared-a" }],
    concurrency: [{ limit: 1, scope: "env", key: "event.data.account" }],
  },
  work,
);
export const sharedB = app.createFunction(
  { id: "flow-shared-b", triggers: [{ event: "test/flow-shared-b" }], concurrency: { limit: 1, scope: "env", key: "event.data.account" } },
  work,
);

export const throttled = app.createFunction(
  { id: "flow-throttled", triggers: [{ event: "test/flow-throttled" }], throttle: { limit: 1, period: "1s", key: "event.data.key" } },
  work,
);

/** One at a time; a queued run moves ahead by `event.data.p` seconds. */
export const prioritized = app.createFunction(
  { id: "flow-prioritized", triggers: [{ event: "test/flow-priority" }], concurrency: 1, priority: { run: "event.data.p" } },
  work,
);

/** One at a time per tag; a run queued for more than 1 s is cancelled. */
export const startsSoon = app.createFunction(
  {
    id: "flow-starts-soon",
    triggers: [{ event: "test/flow-starts-soon" }],
    concurrency: { limit: 1, key: "event.data.tag" },
    timeouts: { start: "1s" },
    retries: 0,
  },
  work,
);

/** One at a time per tag, finishing within 3 s of its start: time queued does not count. */
export const finishesInTime = app.createFunction(
  {
    id: "flow-finishes-in-time",
    triggers: [{ event: "test/flow-finish" }],
    concurrency: { limit: 1, key: "event.data.tag" },
    timeouts: { finish: "3s" },
    retries: 0,
  },
  work,
);

/** One at a time per tag: a step, a sleep of `nap` ms (no slot held), another step. */
export const napsInLine = app.createFunction(
  { id: "flow-naps-in-line", triggers: [{ event: "test/flow-naps" }], concurrency: { limit: 1, key: "event.data.tag" }, retries: 0 },
  async ({ event, step }) => {
    const d = event.data as Work & { nap: number };
    await step.run("before", () => count(d.tag, `before:${d.name}`).size);
    await step.sleep("nap", d.nap);
    await step.run("after", () => count(d.tag, `after:${d.name}`).size);
    return d.name;
  },
);

/** Ends at once, in its run's first turn: its slot comes back in start()'s answer to a caller that takes releases back. */
export const instant = app.createFunction(
  { id: "flow-instant", triggers: [{ event: "test/flow-instant" }], concurrency: { limit: 1, key: "event.data.key" } },
  async () => "done",
);

export const flowRunFunctions = [
  twoAtOnce,
  onePerKey,
  sharedA,
  sharedB,
  throttled,
  prioritized,
  startsSoon,
  finishesInTime,
  napsInLine,
  instant,
];
