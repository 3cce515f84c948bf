/**
 * The units of work every bench path performs, the same for Stepflare,
 * Cloudflare Workflows and the no-durability floor, so that what differs
 * between them is only the engine around them.
 */

/** The step id of the i-th step, shared by all engines. */
export const stepId = (i: number): string => `s${i}`;

/**
 * What a bench run does: one step, N steps in sequence, N steps under
 * Promise.all, or N steps in sequence that each read from D1 (a step with
 * real I/O, as most user steps have).
 */
export type Shape = "one" | "sequential" | "parallel" | "sequential-io";

export const SHAPES: readonly Shape[] = ["one", "sequential", "parallel", "sequential-io"];
export const isShape = (s: unknown): s is Shape => SHAPES.includes(s as Shape);

/** The body of step i: trivial, or one D1 read for the I/O shape. */
export function stepBody(shape: Shape, db: D1Database): (i: number) => Promise<number> | number {
  if (shape !== "sequential-io") return (i) => i;
  return async (i) => (await db.prepare("SELECT ?1 AS v").bind(i).first<{ v: number }>())?.v ?? i;
}

/** Runs `shape` over a durable step runner; every engine plugs its own `step` in. */
export async function runShape(shape: Shape, n: number, step: (i: number) => Promise<number>): Promise<number> {
  switch (shape) {
    case "one":
      return step(0);
    case "sequential":
    case "sequential-io": {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += await step(i);
      return sum;
    }
    case "parallel": {
      const out = await Promise.all(Array.from({ length: n }, (_, i) => step(i)));
      return out.reduce((a, b) => a + b, 0);
    }
  }
}
