import { app } from "./app";
import { count, type TagData } from "./calls";

/* Flow control decided before a run exists: filters, rate limits, debounce, batches, singletons, idempotency, cron. */

/** Runs only for events whose amount is over 100. */
export const bigSpender = app.createFunction(
  { id: "big-spender", triggers: [{ event: "test/purchase", if: "event.data.amount > 100" }] },
  async ({ event }) => (event.data as { amount: number }).amount,
);

/** At most two starts a minute per tag. */
export const rateLimited = app.createFunction(
  { id: "rate-limited", triggers: [{ event: "test/rate-limited" }], rateLimit: { limit: 2, period: "1m", key: "event.data.tag" } },
  async ({ event }) => (event.data as { n: number }).n,
);

/** Starts 1 s after the last event of its tag, with that event. */
export const debounced = app.createFunction(
  { id: "debounced", triggers: [{ event: "test/debounced" }], debounce: { period: "1s", key: "event.data.tag" } },
  async ({ event, events }) => ({ n: (event.data as { n: number }).n, events: events.length }),
);

/** Batches of up to ten events per tag, or what came within a second; parallel steps see the batch too. */
export const batched = app.createFunction(
  { id: "batched", triggers: [{ event: "test/batched" }], batchEvents: { maxSize: 10, timeout: "1s", key: "event.data.tag" } },
  async ({ event, events, step }) => {
    const [size, last] = await Promise.all([
      step.run("size", () => events.length),
      step.run("last", () => (events[events.length - 1]!.data as { n: number }).n),
    ]);
    return { first: (event.data as { n: number }).n, size, last, ns: events.map((e) => (e.data as { n: number }).n) };
  },
);

/** Batches of up to three bulk events; any other event runs alone at once. */
export const batchedIf = app.createFunction(
  { id: "batched-if", triggers: [{ event: "test/batched-if" }], batchEvents: { maxSize: 3, timeout: "1m", if: "event.data.bulk == true" } },
  async ({ events }) => events.map((e) => (e.data as { n: number }).n),
);

/** One run per tag at a time: later ones are skipped while it sleeps. */
export const singleSkip = app.createFunction(
  { id: "single-skip", triggers: [{ event: "test/single-skip" }], singleton: { key: "event.data.tag", mode: "skip" } },
  async ({ event, step }) => {
    await step.sleep("hold", (event.data as { sleep: string }).sleep);
    return (event.data as { n: number }).n;
  },
);

/** One run per tag at a time: a new one cancels the one going. */
export const singleCancel = app.createFunction(
  { id: "single-cancel", triggers: [{ event: "test/single-cancel" }], singleton: { key: "event.data.tag", mode: "cancel" } },
  async ({ event, step }) => {
    await step.sleep("hold", (event.data as { sleep: string }).sleep);
    return (event.data as { n: number }).n;
  },
);

/** One run per user a day. */
export const oncePerUser = app.createFunction(
  { id: "once-per-user", triggers: [{ event: "test/once-per-user" }], idempotency: "event.data.userId" },
  async ({ event }) => (event.data as { n: number }).n,
);

/** Every five minutes (UTC), and at 9:00 on weekdays in Paris. */
export const everyFive = app.createFunction(
  { id: "every-five", triggers: [{ cron: "*/5 * * * *" }, { cron: "TZ=Europe/Paris 0 9 * * 1-5" }] },
  async ({ event }) => {
    count("cron", (event.data as { cron: string }).cron);
    return event.data;
  },
);

/** Paused and resumed by the tests. */
export const pausable = app.createFunction({ id: "pausable", triggers: [{ event: "test/pausable" }] }, async ({ event }) => {
  count((event.data as TagData).tag, "pausable");
  return "ran";
});
