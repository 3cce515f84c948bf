import { Stepflare, type StepflareFunction } from "stepflare";
import { runShape, type Shape, stepBody, stepId } from "./work";

export const app = new Stepflare({ id: "stepflare-bench" });

/** The options of a function beyond its id and triggers (flow control, retries, ...). */
type Options = Omit<Parameters<typeof app.createFunction>[0], "id" | "triggers">;

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
  wait: "bench/wait",
  resume: "bench/resume",
  sleep: "bench/sleep",
  flow: (variant: FlowVariant) => `bench/flow.${variant}`,
} as const;

/**
 * The flow-control options the `flow` scenario compares, each on the same
 * one-step function, set so that none holds a run back: 1,000 events a burst
 * fit every limit. Keys give each burst (rate limit) or each event
 * (idempotency, debounce) its own value, so every run starts.
 */
export const FLOW_VARIANTS = {
  none: {},
  concurrency: { concurrency: 50 },
  concurrency1000: { concurrency: 1000 },
  throttle: { throttle: { limit: 10_000, period: "1s", burst: 10_000 } },
  rateLimit: { rateLimit: { limit: 1000, period: "1s", key: "event.data.burst" } },
  idempotency: { idempotency: "event.data.u" },
  debounce: { debounce: { period: "1s", key: "event.data.u" } },
} satisfies Record<string, Options>;
export type FlowVariant = keyof typeof FLOW_VARIANTS;

/** A function whose handler runs `shape` over N steps; `event.data.n` sets N. */
function shaped(id: string, events: string[], shape: Shape, options: Options = {}): StepflareFunction {
  const triggers = events.map((event) => ({ event })) as [{ event: string }, ...{ event: string }[]];
  return app.createFunction({ ...options, id, triggers }, ({ event, env, step }) => {
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

/** Waits for `bench/resume` with the trigger's `data.k`, then ends: the resume latency of the `waits` scenario. */
const waiter = app.createFunction({ id: "bench-wait", triggers: [{ event: EVENTS.wait }] }, async ({ step }) => {
  const resumed = await step.waitForEvent("w", { event: EVENTS.resume, match: "data.k", timeout: "1h" });
  return resumed === null ? "timed out" : "resumed";
});

/**
 * Sleeps `event.data.ms`, then records when it woke in a step: the `sleeps`
 * scenario compares that time with the sleep's `wakeAt` in the run's detail.
 */
const sleeper = app.createFunction({ id: "bench-sleep", triggers: [{ event: EVENTS.sleep }] }, async ({ event, step }) => {
  await step.sleep("s", typeof event.data.ms === "number" ? event.data.ms : 2000);
  return step.run("woke", () => Date.now());
});

export const flowFunctionId = (variant: FlowVariant): string => `bench-flow-${variant.toLowerCase()}`;

const flow = (Object.keys(FLOW_VARIANTS) as FlowVariant[]).map((v) => shaped(flowFunctionId(v), [EVENTS.flow(v)], "one", FLOW_VARIANTS[v]));

export const benchFunctions: StepflareFunction[] = [
  shaped("bench-one-step", [EVENTS.one], "one"),
  shaped("bench-ingest", [EVENTS.ingest], "one"),
  shaped("bench-sequential", [EVENTS.sequential], "sequential"),
  shaped("bench-parallel", [EVENTS.parallel], "parallel"),
  shaped("bench-sequential-io", [EVENTS.sequentialIo], "sequential-io"),
  ...fanout,
  waiter,
  sleeper,
  ...flow,
];
