import { z } from "zod";
import { Stepflare } from "../../sdk";
import { createEngine, type Env } from "../../src";

/**
 * The chaos Worker: three functions subscribed to one event, whose steps each
 * take a while and record every execution in D1, so `npm run chaos`
 * (bench/chaos.mjs) can count re-runs across kills of the runtime. Each
 * step's value derives from the event, so the runs' outputs can be checked.
 * The engine runs with its default limits: the point is the real recovery.
 */
const app = new Stepflare({
  id: "stepflare-chaos",
  schemas: {
    "chaos/tick": z.object({ n: z.number().int().nonnegative(), sleepMs: z.number().int().nonnegative().max(10_000) }),
  },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CREATE_CALLS = `CREATE TABLE IF NOT EXISTS chaos_step_calls
  (n INTEGER NOT NULL, fn TEXT NOT NULL, step TEXT NOT NULL, at INTEGER NOT NULL)`;

/** Records one execution of a step, then takes `ms` (a kill in that time lands mid-step) and answers `value`. */
async function execute<T>(db: D1Database, n: number, fn: string, step: string, ms: number, value: T): Promise<T> {
  await db.batch([
    db.prepare(CREATE_CALLS),
    db.prepare("INSERT INTO chaos_step_calls (n, fn, step, at) VALUES (?1, ?2, ?3, ?4)").bind(n, fn, step, Date.now()),
  ]);
  await sleep(ms);
  return value;
}

/** Three steps, one after the other (inline, in the run's object): `{ n, total: ((n + 1) * 2) + 3 }`. */
const sequential = app.createFunction({ id: "chaos-sequential", triggers: [{ event: "chaos/tick" }] }, async ({ event, step, env }) => {
  const { n, sleepMs } = event.data;
  const a = await step.run("add", () => execute(env.DB, n, "sequential", "add", sleepMs, n + 1));
  const b = await step.run("double", () => execute(env.DB, n, "sequential", "double", sleepMs, a * 2));
  const c = await step.run("add-three", () => execute(env.DB, n, "sequential", "add-three", sleepMs, b + 3));
  return { n, total: c };
});

/** Four steps found together (run from the steps queue): `["p0:n", "p1:n", "p2:n", "p3:n"]`. */
const parallel = app.createFunction({ id: "chaos-parallel", triggers: [{ event: "chaos/tick" }] }, async ({ event, step, env }) => {
  const { n, sleepMs } = event.data;
  const one = (id: string) => step.run(id, () => execute(env.DB, n, "parallel", id, sleepMs, `${id}:${n}`));
  return Promise.all([one("p0"), one("p1"), one("p2"), one("p3")]);
});

/**
 * A step, a sleep of 2-10 s (the run then waits on its object's alarm alone), a step:
 * `{ n, value: n * 3 + 1 }`.
 */
const sleeping = app.createFunction({ id: "chaos-sleeping", triggers: [{ event: "chaos/tick" }] }, async ({ event, step, env }) => {
  const { n, sleepMs } = event.data;
  const before = await step.run("before", () => execute(env.DB, n, "sleeping", "before", sleepMs, n * 3));
  await step.sleep("nap", `${2 + (n % 9)}s`);
  const after = await step.run("after", () => execute(env.DB, n, "sleeping", "after", sleepMs, before + 1));
  return { n, value: after };
});

const engine = createEngine({ functions: [sequential, parallel, sleeping], schemas: app.schemas });

/** `GET /chaos/calls`: every step execution, `[n, fn, step, at]` rows. */
async function calls(db: D1Database): Promise<Response> {
  await db.prepare(CREATE_CALLS).run();
  const rows = await db
    .prepare("SELECT n, fn, step, at FROM chaos_step_calls ORDER BY at")
    .all<{ n: number; fn: string; step: string; at: number }>();
  return Response.json(rows.results.map((r) => [r.n, r.fn, r.step, r.at]));
}

export default {
  fetch(req, env, ctx) {
    const { pathname } = new URL(req.url);
    if (pathname === "/chaos/calls" && req.method === "GET") return calls(env.DB);
    if (pathname === "/chaos/health") return new Response("ok");
    return engine.worker.fetch(req, env, ctx);
  },
  queue: (batch, env, ctx) => engine.worker.queue(batch, env, ctx),
  scheduled: (controller, env, ctx) => engine.worker.scheduled(controller, env, ctx),
} satisfies ExportedHandler<Env>;

export const { StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
