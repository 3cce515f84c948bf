import { Stepflare, type StepflareFunction } from "stepflare";
import { runShape, type Shape, stepBody, stepId } from "./work";

export const app = new Stepflare({ id: "stepflare-bench" });

export const FANOUT_SIZES = [1, 4, 20] as const;
export type FanoutSize = (typeof FANOUT_SIZES)[number];

/** Event names the bench sends, by scenario. */
export const EVENTS = {
  one: "bench/one-step",
  ingest: "bench/ingest",
  sequential: "bench/sequential",
  parallel: "bench/parallel",
  sequentialIo: "bench/sequential-io",
  fanout: (size: FanoutSize) => `bench/fanout.${size}`,
} as const;

/** A function whose handler runs `shape` over N steps; `event.data.n` sets N. */
function shaped(id: string, events: string[], shape: Shape): StepflareFunction {
  const triggers = events.map((event) => ({ event })) as [{ event: string }, ...{ event: string }[]];
  return app.createFunction({ id, triggers }, ({ event, env, step }) => {
    const n = typeof event.data.n === "number" ? event.data.n : 1;
    const body = stepBody(shape, env.DB as D1Database);
    return runShape(shape, n, (i) => step.run(stepId(i), () => body(i)));
  });
}

export const fanoutFunctionId = (k: number): string => `bench-fanout-${String(k).padStart(2, "0")}`;

/** Fan-out function k listens to every `bench/fanout.<size>` with size > k: 1, 4 and 20 subscribers. */
const fanout = Array.from({ length: 20 }, (_, k) =>
  shaped(fanoutFunctionId(k), FANOUT_SIZES.filter((size) => k < size).map(EVENTS.fanout), "one"),
);

export const benchFunctions: StepflareFunction[] = [
  shaped("bench-one-step", [EVENTS.one], "one"),
  shaped("bench-ingest", [EVENTS.ingest], "one"),
  shaped("bench-sequential", [EVENTS.sequential], "sequential"),
  shaped("bench-parallel", [EVENTS.parallel], "parallel"),
  shaped("bench-sequential-io", [EVENTS.sequentialIo], "sequential-io"),
  ...fanout,
];
