import type { StepState } from "./types";

/** A dispatched step still waiting for `attempt` to be claimed: the only state in which a message for it may start it. */
export function awaitsClaim(s: StepState | undefined, attempt: number): s is StepState {
  return s?.status === "running" && s.mode === "queue" && s.attempts === attempt && s.claimedAttempt !== attempt;
}

/** This attempt was claimed with this token: the claimer is asking again, or renewing its claim. */
export function holdsClaim(s: StepState | undefined, attempt: number, token: string | undefined): s is StepState {
  return s?.status === "running" && s.attempts === attempt && s.claimedAttempt === attempt && token !== undefined && s.claimToken === token;
}
