import { durationMs, MAX_SLEEP_MS } from "./duration";
import { StepflareError } from "./errors";
import type { StepflareFunction } from "./function";
import type { InvokeOptions } from "./types";

/** An invoke as the journal keeps it: the function, its event's data and user, and, once started, the child run. */
export interface InvokeSpec {
  functionId: string;
  data: Record<string, unknown>;
  user?: Record<string, unknown>;
  runId?: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks an invoke's options; a mistake throws invalid_step (or invalid_duration for the timeout), failing the run at once. */
export function invokeSpecOf(options: InvokeOptions, what: string): { spec: InvokeSpec; timeoutMs: number } {
  if (!isPlainObject(options)) throw new StepflareError("invalid_step", `${what}: options are required`);
  const fn = options.function as StepflareFunction | string | undefined;
  const functionId = typeof fn === "string" ? fn : fn?.config?.id;
  if (typeof functionId !== "string" || functionId === "") {
    throw new StepflareError("invalid_step", `${what}: function must be a function or its id`);
  }
  if (options.data !== undefined && !isPlainObject(options.data))
    throw new StepflareError("invalid_step", `${what}: data must be an object`);
  if (options.user !== undefined && !isPlainObject(options.user))
    throw new StepflareError("invalid_step", `${what}: user must be an object`);
  const timeoutMs = options.timeout === undefined ? MAX_SLEEP_MS : durationMs(options.timeout, `${what}: timeout`);
  return {
    spec: { functionId, data: options.data ?? {}, ...(options.user ? { user: options.user } : {}) },
    timeoutMs,
  };
}
