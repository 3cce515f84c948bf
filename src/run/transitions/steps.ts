import type { InvokeSpec, SerializedError, WaitSpec } from "../../../sdk/internal";
import { awaitsClaim, holdsClaim } from "../claims";
import type { StepDecision } from "../decide";
import type { ClaimRequest } from "../rpc";
import { attemptBytes, attemptErrorJson, stateBytesAfter } from "../state-limit";
import type { RunStore } from "../store";
import { generationOf, type StepState } from "../types";
import { endSettlement } from "./run";

/** A step's transitions: found, started, claimed, settled, retried, interrupted. */

/** A step the handler reached for the first time; held in memory until it starts or waits (one write, not two). */
export function addFoundStep(store: RunStore, key: string, id: string, retries: number): StepState {
  const s: StepState = {
    key,
    id,
    seq: store.nextSeq,
    status: "planned",
    attempts: 0,
    retries,
    outputJson: null,
    error: null,
    startedAt: null,
    endedAt: null,
    settleSeq: null,
    planSeq: null,
    mode: null,
    claimedAttempt: null,
    claimToken: null,
    deadlineAt: null,
    wakeAt: null,
    attemptStartedAt: null,
    wait: null,
    invoke: null,
  };
  store.addStep(s);
  return s;
}

/** Writes a found step that is waiting (not started in the same turn). */
export function keepPlanned(store: RunStore, s: StepState): void {
  if (s.status === "planned") store.putStep(s);
}

/**
 * Starts a new attempt of a step, here or on the steps queue, with a lease
 * that fails (or, for an unclaimed dispatch, re-sends) it if no result comes.
 * An inline attempt's lease is volatile: only this instance can time it out,
 * and a new instance finds the step interrupted instead.
 */
export function startAttempt(store: RunStore, s: StepState, mode: "inline" | "queue", now: number, leaseUntil: number): void {
  s.status = "running";
  s.attempts += 1;
  s.startedAt ??= now;
  s.attemptStartedAt = now;
  s.mode = mode;
  if (mode === "queue") s.planSeq = store.run!.settleSeq;
  store.putStep(s);
  store.setTimer("step-lease", s.key, leaseUntil, mode === "inline");
}

/**
 * A step that runs in no executor (a sleep, a wait, an invoke) starts: its
 * one attempt runs until its timer at `until` (the first one reached: a
 * catch-up keeps it), or whatever ends it first. Written with its timer.
 */
function startPaused(store: RunStore, s: StepState, mode: "sleep" | "wait" | "invoke", until: number, now: number): void {
  s.status = "running";
  s.attempts = 1;
  s.startedAt ??= now;
  s.attemptStartedAt ??= now;
  s.mode = mode;
  s.wakeAt ??= until;
  store.putStep(s);
  store.setTimer("step-wake", s.key, s.wakeAt);
}

/** A sleep the handler reached: it is running, in no executor, until its timer wakes it at `wakeAt`. */
export function startSleep(store: RunStore, s: StepState, wakeAt: number, now: number): void {
  startPaused(store, s, "sleep", wakeAt, now);
}

/**
 * A wait the handler reached: it is running, in no executor, until an event
 * resumes it or its timer times it out at `until`; a `wait-register` timer
 * puts it in the waits index and looks back on events since the trigger.
 */
export function startWait(store: RunStore, s: StepState, spec: WaitSpec, until: number, now: number): void {
  s.wait = spec;
  startPaused(store, s, "wait", until, now);
  store.setTimer("wait-register", s.key, now);
}

/**
 * An invoke the handler reached: it is running, as a child run the
 * `invoke-start` timer starts, until the child reports its ending or the
 * step times out at `until` (invoke_timeout).
 */
export function startInvoke(store: RunStore, s: StepState, spec: InvokeSpec, until: number, now: number): void {
  s.invoke = spec;
  startPaused(store, s, "invoke", until, now);
  store.setTimer("invoke-start", s.key, now);
}

/** The invoke's child run exists: its id is kept with the step. */
export function recordChild(store: RunStore, s: StepState, childRunId: string): void {
  if (!s.invoke || s.invoke.runId === childRunId) return;
  s.invoke = { ...s.invoke, runId: childRunId };
  store.putStep(s);
}

/** Starting an invoke's child failed: it is tried again at `at`. */
export function retryInvokeStart(store: RunStore, key: string, at: number): void {
  store.setTimer("invoke-start", key, at);
}

/** Registering a wait failed: it is tried again at `at`. */
export function retryWaitRegister(store: RunStore, key: string, at: number): void {
  store.setTimer("wait-register", key, at);
}

/** Moves a step's lease: a re-dispatch's wait for its claim, or a claim's renewal. */
export function extendStepLease(store: RunStore, key: string, until: number): void {
  store.setTimer("step-lease", key, until);
}

/** How long a claim holds before its claimer must renew it, and how long the claimed attempt may run in all. */
export interface ClaimTerms {
  now: number;
  leaseMs: number;
  timeoutMs: number;
}

/**
 * Claims the requested dispatched steps still waiting for this attempt. An
 * attempt is claimed once: a second message for it (a re-dispatch after a
 * slow delivery, a duplicate delivery) is refused, so the step's function
 * does not run twice at once. The claim keeps the claimer's token, so the
 * same claimer asking again (its first answer was lost, so it has run
 * nothing) is answered the same; no one else holds that token. The claim's
 * lease is short (`leaseMs`): the claimer renews it while it works, up to the
 * attempt's deadline (`timeoutMs` from the claim), and a claimer that dies
 * lets it lapse.
 */
export function claimDispatched(store: RunStore, requests: ClaimRequest[], terms: ClaimTerms, token?: string): string[] {
  const claimed: string[] = [];
  const gen = generationOf(store.run!);
  for (const { key, attempt, gen: requestGen } of requests) {
    const s = store.steps.get(key);
    if (requestGen !== gen) continue; // planned before a replay
    if (awaitsClaim(s, attempt)) {
      s.claimedAttempt = attempt;
      s.claimToken = token ?? null;
      s.deadlineAt = terms.now + terms.timeoutMs;
      store.putStep(s);
      store.setTimer("step-lease", key, Math.min(terms.now + terms.leaseMs, s.deadlineAt));
      claimed.push(key);
    } else if (holdsClaim(s, attempt, token)) claimed.push(key);
  }
  return claimed;
}

/**
 * The claimer holding `token` is still working on these attempts: each
 * claim it still holds is leased `leaseMs` more, never past its deadline.
 * Answers the keys it still holds (an attempt that timed out, or a run that
 * ended or was replayed, is no longer its own).
 */
export function renewClaims(
  store: RunStore,
  token: string,
  claims: { key: string; attempt: number }[],
  now: number,
  leaseMs: number,
): string[] {
  const held: string[] = [];
  if (store.run?.status !== "running") return held;
  for (const { key, attempt } of claims) {
    const s = store.steps.get(key);
    if (!holdsClaim(s, attempt, token)) continue;
    store.setTimer("step-lease", key, Math.min(now + leaseMs, s.deadlineAt ?? now));
    held.push(key);
  }
  return held;
}

/**
 * Writes a step's result: settled (completed or failed) or retrying.
 * Settling bumps the run's settle sequence, which plans of dispatched steps
 * are measured against; a retry sets its timer.
 */
export function commitStep(store: RunStore, s: StepState, decision: Exclude<StepDecision, { type: "ignore" }>, now: number): void {
  const run = store.run!;
  run.stateBytes = stateBytesAfter(run, s, decision);
  switch (decision.type) {
    case "complete":
      run.settleSeq += 1;
      Object.assign(s, { status: "completed", outputJson: decision.outputJson, error: null, endedAt: now, settleSeq: run.settleSeq });
      break;
    case "fail":
      run.settleSeq += 1;
      Object.assign(s, { status: "failed", error: decision.error, endedAt: now, settleSeq: run.settleSeq });
      break;
    case "retry":
      Object.assign(s, { status: "retrying", error: decision.error });
      store.setTimer("step-retry", s.key, decision.at);
      break;
  }
  if (decision.type !== "complete") store.addAttempt(s.key, s.attempts, s.attemptStartedAt, now, attemptErrorJson(decision.error));
  store.putStep(s);
  store.clearTimer("step-lease", s.key);
}

/** A step's retry came due: it is planned again, to run when the handler is next driven. */
export function replanStep(store: RunStore, key: string): void {
  const s = store.steps.get(key);
  if (s?.status !== "retrying") return;
  s.status = "planned";
  store.putStep(s);
}

/**
 * An inline step lives only in the instance that ran it, so a new instance
 * finding one "running" knows that attempt was cut short (eviction, crash,
 * deploy). It runs again at once while it has retries left, so a step that
 * keeps killing its object still ends, failed, after its retries.
 */
export function recoverInterruptedSteps(store: RunStore, now: number): void {
  const run = store.run;
  if (run?.status !== "running") return;
  let settled = false;
  for (const s of store.steps.values()) {
    if (s.status !== "running" || s.mode !== "inline") continue;
    const interrupted: SerializedError = {
      name: "StepInterruptedError",
      code: "step_interrupted",
      message: `step "${s.id}" was interrupted: its run's object stopped while it ran`,
    };
    if (s.attempts <= s.retries) {
      // The attempt counts: it joins the history; the step keeps its last error for the stack.
      run.stateBytes += attemptBytes(interrupted);
      store.addAttempt(s.key, s.attempts, s.attemptStartedAt, now, attemptErrorJson(interrupted));
      s.status = "planned";
    } else {
      const error: SerializedError = { ...interrupted, message: `step "${s.id}" was interrupted on every attempt` };
      run.stateBytes = stateBytesAfter(run, s, { type: "fail", error });
      store.addAttempt(s.key, s.attempts, s.attemptStartedAt, now, attemptErrorJson(error));
      run.settleSeq += 1;
      settled = true;
      Object.assign(s, { status: "failed", endedAt: now, settleSeq: run.settleSeq, error });
    }
    store.putStep(s);
  }
  if (settled) endSettlement(store);
}
