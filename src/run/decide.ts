import { isNonRetriable, isStepFailure, retryAfterMsOf, type SerializedError, serializeError, toJson, utf8Bytes } from "../../sdk/internal";
import type { Backoff } from "../shared/limits";
import { retryDelayMs } from "./backoff";
import type { RunError, StepResult, StepState } from "./types";
import { isSettled } from "./types";

export type StepDecision =
  | { type: "ignore"; reason: "unknown-step" | "stale-generation" | "settled" | "stale-attempt" }
  | { type: "complete"; outputJson: string | null; bytes: number }
  | { type: "retry"; at: number; error: SerializedError }
  | { type: "fail"; error: SerializedError };

/**
 * What a reported step result does to the journal. A result for a settled
 * step changes nothing, so duplicate and late deliveries are harmless; a
 * failure only counts for the attempt in flight; a result from an earlier
 * generation of the run (before a replay) counts for nothing. Once the run
 * has ended (a sibling failed it while this step was out), a failure is
 * recorded as final: nothing will run the step again unless the run is replayed.
 */
export function decideStepResult(
  step: StepState | undefined,
  result: StepResult,
  ctx: { now: number; backoff: Backoff; gen: number; runEnded?: boolean },
): StepDecision {
  if (!step) return { type: "ignore", reason: "unknown-step" };
  if (result.gen !== undefined && result.gen !== ctx.gen) return { type: "ignore", reason: "stale-generation" };
  if (isSettled(step.status)) return { type: "ignore", reason: "settled" };
  if (result.ok)
    return { type: "complete", outputJson: result.outputJson, bytes: result.outputJson === null ? 0 : utf8Bytes(result.outputJson) };
  if (step.status !== "running" || result.attempt !== step.attempts) return { type: "ignore", reason: "stale-attempt" };
  if (result.nonRetriable || step.attempts > step.retries || ctx.runEnded) return { type: "fail", error: result.error };
  const delay = result.retryAfterMs ?? retryDelayMs(step.attempts, ctx.backoff);
  return { type: "retry", at: ctx.now + delay, error: result.error };
}

/**
 * What a step's function returned, as a reportable result: the one place a
 * step's output meets its limit (exactly `maxOutputBytes` passes, one byte
 * more fails with step_output_too_large, not retried), checked where the step
 * ran, before the output travels anywhere.
 */
export function returnedResult(step: { key: string; id: string }, attempt: number, output: unknown, maxOutputBytes: number): StepResult {
  let outputJson: string | undefined;
  try {
    outputJson = toJson(output);
  } catch (e) {
    return failedResult(step.key, attempt, e);
  }
  const bytes = outputJson === undefined || outputJson.length * 3 <= maxOutputBytes ? 0 : utf8Bytes(outputJson);
  if (bytes > maxOutputBytes) {
    return {
      key: step.key,
      attempt,
      ok: false,
      nonRetriable: true,
      error: {
        name: "StepflareError",
        code: "step_output_too_large",
        message: `output of step "${step.id}" is ${bytes} bytes, over the limit of ${maxOutputBytes} bytes`,
      },
    };
  }
  return { key: step.key, attempt, ok: true, outputJson: outputJson ?? null };
}

/** Runs one attempt of a step (`attempt` counts from 1) with `perform`, and reports what it did. */
export async function attemptStep<S extends { key: string; id: string }>(
  step: S,
  attempt: number,
  maxOutputBytes: number,
  perform: (step: S, attempt: number) => unknown,
): Promise<StepResult> {
  try {
    return returnedResult(step, attempt, await perform(step, attempt), maxOutputBytes);
  } catch (e) {
    return failedResult(step.key, attempt, e);
  }
}

/** Turns what a step function threw into a reportable result. */
export function failedResult(key: string, attempt: number, thrown: unknown): StepResult {
  const retryAfterMs = retryAfterMsOf(thrown);
  return {
    key,
    attempt,
    ok: false,
    error: serializeError(thrown),
    nonRetriable: isNonRetriable(thrown),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

export type HandlerErrorDecision = { type: "fail"; error: RunError } | { type: "retry"; at: number };

/**
 * An error out of the handler itself. A step's final failure, a
 * NonRetriableError or an engine limit fails the run at once; anything else
 * retries the handler under the function's retry policy.
 */
export function decideHandlerError(
  thrown: unknown,
  ctx: { attempt: number; retries: number; now: number; backoff: Backoff },
): HandlerErrorDecision {
  const error = serializeError(thrown);
  if (isStepFailure(thrown))
    return { type: "fail", error: { ...error, stepId: thrown.stepId, ...(thrown.stepKey ? { stepKey: thrown.stepKey } : {}) } };
  if (isNonRetriable(thrown) || ctx.attempt >= ctx.retries) return { type: "fail", error };
  const delay = retryAfterMsOf(thrown) ?? retryDelayMs(ctx.attempt + 1, ctx.backoff);
  return { type: "retry", at: ctx.now + delay };
}
