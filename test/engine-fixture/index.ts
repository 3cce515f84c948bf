import { createEngine } from "../../src";
import { allFunctions, app } from "./functions";

const engine = createEngine({
  functions: allFunctions,
  schemas: app.schemas,
  backoff: { baseMs: 50, maxMs: 400 },
  // Claims lapse after 5 s without a renewal, and concurrency slots are checked every 2 s, so a dead claimer or a lost release is noticed within a test.
  limits: { maxStepsPerRun: 1000, stepTimeoutMs: 8000, stepClaimLeaseMs: 5000, concurrencyLeaseMs: 2000 },
});

export default engine.worker;
export const { StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
