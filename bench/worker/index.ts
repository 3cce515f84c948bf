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

const bench = new Hono<{ Bindings: Env }>().route("/bench", benchRoutes);

export default {
  fetch(req, env, ctx) {
    if (new URL(req.url).pathname.startsWith("/bench/")) return bench.fetch(req, env, ctx);
    return engine.worker.fetch(req, env, ctx);
  },
  queue: (batch, env, ctx) => engine.worker.queue(batch, env, ctx),
} satisfies ExportedHandler<Env, unknown>;

export const { StepflareRun, StepflareSweeper } = engine;
export { BenchProbe } from "./probe";
export { BenchWorkflow } from "./workflow";
