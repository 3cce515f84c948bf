import { durationMs } from "./duration";
import { StepflareError } from "./errors";
import { compileExpression } from "./expression";
import { eventNamePattern, MATCH_PATH } from "./function";
import type { WaitForEventOptions } from "./types";

/** A wait as the journal keeps it: the event awaited, how it must match the trigger, and a CEL filter. */
export interface WaitSpec {
  event: string;
  /** A dotted path such as `data.orderId`: the awaited event's value there equals the trigger's. */
  match?: string;
  /** CEL over `event` (the trigger) and `async` (the candidate). */
  if?: string;
}

/** Checks a waitForEvent's options; a mistake throws with a stable code, failing the run at once. */
export function waitSpecOf(options: WaitForEventOptions, what: string): { spec: WaitSpec; timeoutMs: number } {
  if (typeof options !== "object" || options === null) throw new StepflareError("invalid_step", `${what}: options are required`);
  if (typeof options.event !== "string" || !eventNamePattern.test(options.event)) {
    throw new StepflareError("invalid_step", `${what}: event must be an event name`);
  }
  if (options.timeout === undefined) throw new StepflareError("invalid_duration", `${what}: timeout is required`);
  const timeoutMs = durationMs(options.timeout, `${what}: timeout`);
  if (options.match !== undefined && (typeof options.match !== "string" || !MATCH_PATH.test(options.match))) {
    throw new StepflareError("invalid_step", `${what}: match must be a dotted path such as "data.orderId"`);
  }
  if (options.if !== undefined) compileExpression(options.if, `${what}: if`);
  return {
    spec: { event: options.event, ...(options.match ? { match: options.match } : {}), ...(options.if ? { if: options.if } : {}) },
    timeoutMs,
  };
}

/** The value at a dotted path of an event, or undefined. */
export function valueAt(event: unknown, path: string): unknown {
  let v: unknown = event;
  for (const part of path.split(".")) {
    if (typeof v !== "object" || v === null || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/**
 * Whether `candidate` resumes a wait of the run `trigger` started: the
 * awaited name, the `match` path equal in both (a path missing in either
 * never matches), and the `if` expression true.
 */
export function waitMatches(spec: WaitSpec, trigger: unknown, candidate: { name?: unknown }): boolean {
  if (candidate.name !== spec.event) return false;
  if (spec.match !== undefined) {
    const want = valueAt(trigger, spec.match);
    if (want === undefined || JSON.stringify(want) !== JSON.stringify(valueAt(candidate, spec.match))) return false;
  }
  return spec.if === undefined || compileExpression(spec.if, "if")({ event: trigger, async: candidate });
}
