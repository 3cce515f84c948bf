import type { FailureMessage } from "../messages/failures";
import type { RunState, StepState } from "./types";

/** The dead-letter record of a failed run: which step failed, after how many attempts, and why. */
export function deadLetterFor(run: RunState, steps: Iterable<StepState>): FailureMessage {
  const error = run.error ?? { name: "Error", message: "run failed" };
  // By key: a reused id has several steps. A run failed before errors carried the key is matched by id.
  const failedStep = error.stepId
    ? [...steps].find((s) => (error.stepKey ? s.key === error.stepKey : s.id === error.stepId) && s.status === "failed")
    : undefined;
  return {
    v: 1,
    kind: "run-failed",
    id: `${run.id}.${run.version}`,
    runId: run.id,
    runVersion: run.version,
    functionId: run.functionId,
    eventId: run.eventId,
    stepKey: failedStep?.key ?? null,
    attempts: failedStep ? failedStep.attempts : run.attempt + 1,
    error: {
      name: error.name,
      message: error.message,
      ...(error.code ? { code: error.code } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
    },
    failedAt: run.endedAt ?? Date.now(),
  };
}
