import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { runShape, type Shape, stepBody, stepId } from "./work";

export interface BenchParams {
  shape: Shape;
  n: number;
}

/** What an instance returns: its step sum and when its handler finished, for end-to-end timing. */
export interface BenchOutput {
  sum: number;
  endedAt: number;
}

/**
 * The Cloudflare Workflows counterpart of the Stepflare bench functions: the
 * same step bodies, each a `step.do`, in the same shapes.
 */
export class BenchWorkflow extends WorkflowEntrypoint<{ DB: D1Database }, BenchParams> {
  override async run(event: Readonly<WorkflowEvent<BenchParams>>, step: WorkflowStep): Promise<BenchOutput> {
    const { shape, n } = event.payload;
    const body = stepBody(shape, this.env.DB);
    const sum = await runShape(shape, n, (i) => step.do(stepId(i), async () => body(i)));
    return { sum, endedAt: Date.now() };
  }
}
