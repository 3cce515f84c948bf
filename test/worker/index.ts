import { createEngine } from "../../src";
import { allFunctions, app } from "./functions";

const engine = createEngine({
  functions: allFunctions,
  schemas: app.schemas,
  backoff: { baseMs: 50, maxMs: 400 },
  limits: { maxStepsPerRun: 1000, stepTimeoutMs: 8000 },
});

export default engine.worker;
export const { StepflareRun, StepflareSweeper } = engine;
