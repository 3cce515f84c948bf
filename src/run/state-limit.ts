import { type SerializedError, utf8Bytes, wellFormedHead } from "../../sdk/internal";
import type { StepDecision } from "./decide";
import type { RunStore } from "./store";
import { type RunState, type StepState, storedBytes } from "./types";

/** The longest message a failed attempt keeps in the step's history. */
const ATTEMPT_MESSAGE_MAX = 1024;

/** A failed attempt's error as the step's history stores it: name, code and message (clipped), no stack. */
export function attemptErrorJson(e: SerializedError): string {
  const message = e.message.length > ATTEMPT_MESSAGE_MAX ? `${wellFormedHead(e.message, ATTEMPT_MESSAGE_MAX)}…` : e.message;
  return JSON.stringify({ name: e.name, message, ...(e.code ? { code: e.code } : {}) });
}

export const attemptBytes = (e: SerializedError): number => utf8Bytes(attemptErrorJson(e));

/**
 * The run's state bytes once `decision` is committed to `s`: the step's
 * output or error replaces what it held, and a failed attempt adds its
 * entry to the step's history.
 */
export function stateBytesAfter(run: RunState, s: StepState, decision: Exclude<StepDecision, { type: "ignore" }>): number {
  const after =
    decision.type === "complete"
      ? decision.bytes
      : storedBytes({ outputJson: s.outputJson, error: decision.error }) + attemptBytes(decision.error);
  return run.stateBytes - storedBytes(s) + after;
}

/**
 * Room past the state limit for the step that failed the run at it: it holds
 * the engine's run_state_too_large error (a few hundred bytes, in place of
 * what was refused), which must not take room from the rest of the run's
 * results, recorded as they come. One step's error at most; a replay drops it.
 */
export function stateGrace(store: RunStore): number {
  const e = store.run?.error;
  const s = e?.code === "run_state_too_large" && e.stepKey !== undefined ? store.steps.get(e.stepKey) : undefined;
  return s ? storedBytes(s) + (s.error ? attemptBytes(s.error) : 0) : 0;
}
