import { compileValue, type StepflareFunction, type ValueOf } from "../../sdk/internal";
import { flowObjectName } from "./object";

/** A function's run-side flow control, compiled once: its concurrency limits, throttle, priority and start timeout. */
export interface CompiledFlow {
  concurrency: { limit: number; scope: "fn" | "env"; keyText: string | undefined; key: ValueOf | undefined }[];
  throttle: { limit: number; periodMs: number; burst: number; key: ValueOf | undefined } | undefined;
  priority: ValueOf | undefined;
}

/** What one run must pass before it executes, named by the objects that hold each limit. */
export interface RunNeeds {
  throttle?: { name: string; limit: number; periodMs: number; burst: number };
  /** Sorted by name and without repeats: every run asks in the same order, so two runs never each hold what the other waits for. */
  concurrency: { name: string; limit: number }[];
  /** Seconds the run moves ahead in a queue, -600 to 600. */
  priority: number;
}

export const MAX_PRIORITY_S = 600;

const compiled = new WeakMap<StepflareFunction, CompiledFlow | null>();

/** The function's run-side flow control, or null when it has none (its runs never queue). Compiled on first use, kept per function. */
export function compiledFlow(fn: StepflareFunction): CompiledFlow | null {
  let flow = compiled.get(fn);
  if (flow !== undefined) return flow;
  const { concurrency, throttle, priority } = fn.config;
  const where = (field: string) => `function ${fn.config.id}: ${field}`;
  flow =
    concurrency || throttle
      ? {
          concurrency: (concurrency ?? []).map((c, i) => ({
            limit: c.limit,
            scope: c.scope ?? "fn",
            keyText: c.key,
            key: c.key === undefined ? undefined : compileValue(c.key, where(`concurrency[${i}].key`)),
          })),
          throttle: throttle && {
            limit: throttle.limit,
            periodMs: throttle.period,
            burst: throttle.burst ?? 0,
            key: throttle.key === undefined ? undefined : compileValue(throttle.key, where("throttle.key")),
          },
          priority: priority ? compileValue(priority.run, where("priority.run")) : undefined,
        }
      : null;
  compiled.set(fn, flow);
  return flow;
}

/**
 * A key's value as a bucket name: a string as it is, a number or boolean as
 * its text, anything else as JSON; a key that is missing or fails to evaluate
 * is the empty key, one bucket shared by all such runs.
 */
export function keyValue(key: ValueOf | undefined, event: unknown): string {
  if (!key) return "";
  const v = key({ event });
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  try {
    return JSON.stringify(v) ?? "";
  } catch {
    return "";
  }
}

/** A priority's value in seconds, clamped to ±600; anything but a number is 0. */
export function priorityOf(priority: ValueOf | undefined, event: unknown): number {
  const v = priority?.({ event });
  const n = typeof v === "bigint" ? Number(v) : typeof v === "number" && Number.isFinite(v) ? v : 0;
  return Math.max(-MAX_PRIORITY_S, Math.min(MAX_PRIORITY_S, n));
}

/**
 * The limits one run of `fn` for `event` must pass. A function-scoped limit
 * is named by the function and, when keyed, its key expression and value; an
 * env-scoped one by its key's value alone, so every function whose key gives
 * that value shares it.
 */
export function runNeeds(fn: StepflareFunction, flow: CompiledFlow, event: unknown): RunNeeds {
  const byName = new Map<string, number>();
  for (const c of flow.concurrency) {
    const value = keyValue(c.key, event);
    const name =
      c.scope === "env"
        ? flowObjectName("concurrency", "env", value)
        : flowObjectName("concurrency", fn.config.id, c.keyText === undefined ? "" : `${c.keyText}\u0001${value}`);
    byName.set(name, Math.min(c.limit, byName.get(name) ?? c.limit));
  }
  const t = flow.throttle;
  return {
    ...(t
      ? {
          throttle: {
            name: flowObjectName("throttle", fn.config.id, keyValue(t.key, event)),
            limit: t.limit,
            periodMs: t.periodMs,
            burst: t.burst,
          },
        }
      : {}),
    concurrency: [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, limit]) => ({ name, limit })),
    priority: priorityOf(flow.priority, event),
  };
}
