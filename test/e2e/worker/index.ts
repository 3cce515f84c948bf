import { Stepflare } from "stepflare";
import { createEngine, type Env } from "stepflare/engine";
import { z } from "zod";
import { flowEventFunctions } from "./flow-events";

/**
 * The engine with three functions whose steps record every call in D1, so a
 * test can count executions across a wrangler restart: the journal alone
 * cannot show that a step ran twice.
 */
const app = new Stepflare({
  id: "stepflare-e2e",
  schemas: {
    "e2e/durable": z.object({ tag: z.string(), sleepMs: z.number().int().nonnegative() }),
    "e2e/parallel": z.object({ tag: z.string(), sleepMs: z.number().int().nonnegative() }),
    "e2e/quick": z.object({ tag: z.string() }),
    "e2e/sleepy": z.object({ tag: z.string(), sleepMs: z.number().int().nonnegative() }),
    "e2e/order": z.object({ tag: z.string() }),
    "e2e/parent": z.object({ tag: z.string() }),
    // Loose: the polyglot test adds an order to it for the Python functions.
    "e2e/remote": z.looseObject({ tag: z.string(), n: z.number() }),
    "e2e/limited": z.object({ tag: z.string(), n: z.number().int(), sleepMs: z.number().int().nonnegative() }),
  },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CREATE_CALLS = "CREATE TABLE IF NOT EXISTS e2e_step_calls (tag TEXT NOT NULL, step TEXT NOT NULL, at INTEGER NOT NULL)";

async function record(db: D1Database, tag: string, step: string): Promise<void> {
  await db.batch([
    db.prepare(CREATE_CALLS),
    db.prepare("INSERT INTO e2e_step_calls (tag, step, at) VALUES (?1, ?2, ?3)").bind(tag, step, Date.now()),
  ]);
}

/** Step 1 is quick; step 2 takes `sleepMs`, long enough to kill wrangler while it runs (inline, in the run's object). */
const durable = app.createFunction({ id: "durable", triggers: [{ event: "e2e/durable" }] }, async ({ event, step, env }) => {
  const first = await step.run("first", async () => (await record(env.DB, event.data.tag, "first"), "one"));
  const second = await step.run("second", async () => {
    await record(env.DB, event.data.tag, "second");
    await sleep(event.data.sleepMs);
    return "two";
  });
  return { first, second };
});

/** Two slow steps found together: they run from the steps queue, outside the run's object. */
const parallel = app.createFunction({ id: "parallel", triggers: [{ event: "e2e/parallel" }] }, async ({ event, step, env }) => {
  const slow = (id: string) =>
    step.run(id, async () => {
      await record(env.DB, event.data.tag, id);
      await sleep(event.data.sleepMs);
      return id.toUpperCase();
    });
  return Promise.all([slow("left"), slow("right")]);
});

const quick = app.createFunction({ id: "quick", triggers: [{ event: "e2e/quick" }] }, async ({ event, step, env }) =>
  step.run("only", async () => (await record(env.DB, event.data.tag, "only"), { tag: event.data.tag })),
);

/** A step, a durable sleep of `sleepMs`, a step: a restart during the sleep must not lose the wake. */
const sleepy = app.createFunction({ id: "sleepy", triggers: [{ event: "e2e/sleepy" }] }, async ({ event, step, env }) => {
  await step.run("before", async () => record(env.DB, event.data.tag, "before"));
  await step.sleep("nap", event.data.sleepMs);
  return step.run("after", async () => (await record(env.DB, event.data.tag, "after"), "awake"));
});

/** Waits for `e2e/paid` with the same tag: a restart while it waits must not lose the wait. */
const order = app.createFunction(
  { id: "order", triggers: [{ event: "e2e/order" }], cancelOn: [{ event: "e2e/order.cancelled", match: "data.tag" }] },
  async ({ step }) => {
    const paid = await step.waitForEvent("wait-paid", { event: "e2e/paid", match: "data.tag", timeout: "5m" });
    return { paid: paid?.data ?? null };
  },
);

/** Invokes `quick` as a child run and answers what it answered. */
const parent = app.createFunction({ id: "parent", triggers: [{ event: "e2e/parent" }] }, async ({ event, step }) => ({
  child: await step.invoke("child", { function: quick, data: { tag: event.data.tag }, timeout: "1m" }),
}));

/** Two at a time per tag: one step of `sleepMs` that records its start and end, so a test sees how many ran at once. */
const limited = app.createFunction(
  { id: "limited", triggers: [{ event: "e2e/limited" }], concurrency: { limit: 2, key: "event.data.tag" } },
  async ({ event, step, env }) =>
    step.run("work", async () => {
      await record(env.DB, event.data.tag, `start:${event.data.n}`);
      await sleep(event.data.sleepMs);
      await record(env.DB, event.data.tag, `end:${event.data.n}`);
      return event.data.n;
    }),
);

/** The engine's own function beside the remote ones an `inngest` app serves for the same event (remote.test.ts). */
const neighbour = app.createFunction({ id: "remote-neighbour", triggers: [{ event: "e2e/remote" }] }, async ({ event, step }) =>
  step.run("local", () => ({ local: event.data.tag })),
);

const engine = createEngine({
  functions: [durable, parallel, quick, sleepy, order, parent, limited, neighbour, ...flowEventFunctions],
  schemas: app.schemas,
  // The default limits: a claimed step whose executor was killed is retried once its 30 s claim lease lapses.
  backoff: { baseMs: 200, maxMs: 1_000 },
});

/** `GET /e2e/calls/:tag`: the recorded step calls of one test, oldest first. */
async function calls(db: D1Database, tag: string): Promise<Response> {
  await db.prepare(CREATE_CALLS).run();
  const rows = await db
    .prepare("SELECT step, at FROM e2e_step_calls WHERE tag = ?1 ORDER BY at, rowid")
    .bind(tag)
    .all<{ step: string; at: number }>();
  return Response.json(rows.results);
}

export default {
  fetch(req, env, ctx) {
    const match = /^\/e2e\/calls\/([^/]+)$/.exec(new URL(req.url).pathname);
    if (match && req.method === "GET") return calls(env.DB, decodeURIComponent(match[1]!));
    return engine.worker.fetch(req, env, ctx);
  },
  queue: (batch, env, ctx) => engine.worker.queue(batch, env, ctx),
  scheduled: (controller, env, ctx) => engine.worker.scheduled(controller, env, ctx),
} satisfies ExportedHandler<Env>;

export const { StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
