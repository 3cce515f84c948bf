import { Hono } from "hono";
import { defineFunction } from "stepflare";
import { createEngine, type Env as EngineEnv } from "stepflare/engine";
import type { CatchUpContext, ClaimRequest, StartRun } from "../../src/run/object";
import type { StepResult } from "../../src/run/types";
import { benchFunctions } from "./functions";
import { count, instrumentState, record, takeStats, timed, wrapEnv } from "./profile";
import { benchRoutes, type Env } from "./routes";

/**
 * The bench Worker with instrumentation (`npm run bench -- --profile`): the
 * same engine and functions as index.ts, with every binding call, object
 * RPC, SQLite statement and handler invocation timed, and the totals served
 * at GET /bench/profile. Its figures are for finding where time goes, never
 * for the results table.
 */
const functions = benchFunctions.map((fn) =>
  defineFunction(fn.config, (ctx) => {
    count(`handler ${fn.config.id}`);
    return fn.handler(ctx);
  }),
);
const engine = createEngine({ functions });

const bench = new Hono<{ Bindings: Env }>().get("/bench/profile", (c) => c.json(takeStats())).route("/bench", benchRoutes);

export default {
  fetch(req, env, ctx) {
    const path = new URL(req.url).pathname;
    if (path.startsWith("/bench/")) return bench.fetch(req, env, ctx);
    return timed(`fetch ${path.split("/")[1]}`, () => engine.worker.fetch(req, wrapEnv(env), ctx));
  },
  queue(batch, env, ctx) {
    record(`queue batch size ${batch.queue}`, batch.messages.length);
    return timed(`consumer ${batch.queue}`, () => engine.worker.queue(batch, wrapEnv(env), ctx));
  },
} satisfies ExportedHandler<Env, unknown>;

export class StepflareRun extends engine.StepflareRun {
  constructor(ctx: DurableObjectState, env: EngineEnv) {
    const start = performance.now();
    super(instrumentState(ctx), wrapEnv(env));
    record("object constructor", performance.now() - start);
  }
  override start(init: StartRun) {
    return timed("object start()", () => super.start(init));
  }
  override claimSteps(planSeq: number, requests: ClaimRequest[]): Promise<CatchUpContext | null> {
    return timed("object claimSteps()", () => super.claimSteps(planSeq, requests));
  }
  override completeSteps(results: StepResult[]) {
    return timed("object completeSteps()", () => super.completeSteps(results));
  }
  override alarm() {
    return timed("object alarm()", () => super.alarm());
  }
}
export const { StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
export { BenchProbe } from "./probe";
export { BenchWorkflow } from "./workflow";
