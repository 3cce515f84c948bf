import { Stepflare } from "stepflare";

/** Event-side flow control, driven over HTTP by test/e2e/flow-events.test.ts. */
const app = new Stepflare({ id: "stepflare-e2e-flow" });

const n = (data: Record<string, unknown>) => data.n as number;

/** One run a second after the last event of a tag, with that event. */
export const debounced = app.createFunction(
  { id: "e2e-debounced", triggers: [{ event: "e2e/debounced" }], debounce: { period: "1s", key: "event.data.tag" } },
  async ({ event }) => n(event.data),
);

/** Runs of up to three events per tag, or what came within a second. */
export const batched = app.createFunction(
  { id: "e2e-batched", triggers: [{ event: "e2e/batched" }], batchEvents: { maxSize: 3, timeout: "1s", key: "event.data.tag" } },
  async ({ events, step }) => step.run("sum", () => events.map((e) => n(e.data))),
);

/** One start a minute per tag. */
export const rateLimited = app.createFunction(
  { id: "e2e-rate-limited", triggers: [{ event: "e2e/rate-limited" }], rateLimit: { limit: 1, period: "1m", key: "event.data.tag" } },
  async ({ event }) => n(event.data),
);

/** Every minute; fired over HTTP through wrangler dev's /__scheduled. */
export const everyMinute = app.createFunction(
  { id: "e2e-every-minute", triggers: [{ cron: "* * * * *" }] },
  async ({ event }) => event.data,
);

/** Paused and resumed by the test. */
export const pausable = app.createFunction({ id: "e2e-pausable", triggers: [{ event: "e2e/pausable" }] }, async () => "ran");

export const flowEventFunctions = [debounced, batched, rateLimited, everyMinute, pausable];
