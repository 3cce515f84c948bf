import { Hono } from "hono";
import { createEngine } from "stepflare/engine";
import { benchFunctions } from "./functions";
import { benchRoutes, type Env } from "./routes";

/**
 * The bench Worker: the Stepflare engine with the bench functions, a
 * Cloudflare Workflow doing the same steps, and bench-only routes under
 * /bench. Every other request goes to the engine unchanged.
 */
const engine = createEngine({ functions: benchFunctions });

/**
 * `/bench/timed?path=…`: one engine request (a dashboard page) made inside
 * the Worker, answered with its status, size and the milliseconds between
 * the call and the last byte of its body: the server's time, without HTTP.
 */
const timed = new Hono<{ Bindings: Env }>().get("/timed", async (c) => {
  const path = c.req.query("path") ?? "/";
  const t0 = performance.now();
  const res = await engine.worker.fetch(new Request(new URL(path, c.req.url)), c.env, c.executionCtx as ExecutionContext);
  const bytes = (await res.arrayBuffer()).byteLength;
  return c.json({ status: res.status, bytes, ms: performance.now() - t0 });
});

const bench = new Hono<{ Bindings: Env }>().route("/bench", benchRoutes).route("/bench", timed);

export default {
  fetch(req, env, ctx) {
    if (new URL(req.url).pathname.startsWith("/bench/")) return bench.fetch(req, env, ctx);
    return engine.worker.fetch(req, env, ctx);
  },
  queue: (batch, env, ctx) => engine.worker.queue(batch, env, ctx),
  scheduled: (controller, env, ctx) => engine.worker.scheduled(controller, env, ctx),
} satisfies ExportedHandler<Env, unknown>;

export const { StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
export { BenchProbe } from "./probe";
export { BenchWorkflow } from "./workflow";
