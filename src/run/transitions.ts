import type { SerializedError, WaitSpec } from "../../sdk/internal";
import { awaitsClaim, holdsClaim } from "./claims";
import type { StepDecision } from "./decide";
import type { ClaimRequest } from "./rpc";
import { attemptBytes, attemptErrorJson, stateBytesAfter } from "./state-limit";
import type { RunStore, Timer } from "./store";
import { generationOf, isTerminal, type ReplayRecord, type RunError, type RunState, type StepState } from "./types";

/**
 * Every change of a run's, a step's or a timer's state, by name. The driver
 * and the object decide when; these say what, and write it through the
 * run's store. Nothing else assigns a state field or sets a timer.
 * The states and timers are drawn in src/run/README.md.
 */

/** While a run is running, its alarm fires at least this often, so an evicted run resumes on its own. */
export const RUN_LEASE_MS = 30_000;

/** The timers of a run that is still going: an ending clears them all. */
const RUNNING_TIMERS = [
  "lease",
  "handler-retry",
  "handler-idle",
  "step-retry",
  "step-lease",
  "step-wake",
  "run-timeout",
  "wait-register",
] as const;

// ---- the run ----------------------------------------------------------------

/** Creates the run, running, with its event; its first turn has no lease yet (see `endFirstTurn`). */
export function createRun(
  store: RunStore,
  init: { runId: string; functionId: string; eventId: string; acceptedAt?: number | undefined; finishMs?: number | undefined },
  eventJson: string,
  now: number,
): RunState {
  const run: RunState = {
    id: init.runId,
    functionId: init.functionId,
    eventId: init.eventId,
    status: "running",
    outputJson: null,
    error: null,
    attempt: 0,
    startedAt: now,
    endedAt: null,
    version: 1,
    settleSeq: 0,
    acceptedAt: init.acceptedAt ?? now,
    stateBytes: 0,
    replays: [],
  };
  store.createRun(run, eventJson);
  if (init.finishMs !== undefined) store.setTimer("run-timeout", "run", now + init.finishMs);
  return run;
}

/** The run's first turn is over: a run still running gets the lease that wakes it if it is evicted. */
export function endFirstTurn(store: RunStore, now: number): void {
  if (store.run?.status === "running") store.setTimer("lease", "run", now + RUN_LEASE_MS);
}

/** A running run found with no lease (cut off in its first turn) resumes at once. */
export function resumeUnleased(store: RunStore, now: number): void {
  if (store.run?.status === "running" && !store.hasTimer("lease")) store.setTimer("lease", "run", now);
}

/** The lease came due: a running run keeps one; an ended run lets it go. */
export function renewRunLease(store: RunStore, now: number): void {
  if (store.run?.status === "running") store.setTimer("lease", "run", now + RUN_LEASE_MS);
}

/**
 * Ends the run: completed, failed or cancelled. Every timer of a running run
 * goes; a failure sets its dead letter and onFailure as timers, and a
 * failure or a cancellation its system event, written with it, so each
 * happens once per ending even across an eviction.
 */
export function endRun(
  store: RunStore,
  status: "completed" | "failed" | "cancelled",
  result: { outputJson?: string | null; error?: RunError | null },
  now: number,
  hasOnFailure: boolean,
): boolean {
  const run = store.run!;
  if (isTerminal(run.status)) return false;
  Object.assign(run, {
    status,
    outputJson: result.outputJson ?? null,
    error: result.error ?? null,
    endedAt: now,
    version: run.version + 1,
  });
  store.saveRun();
  for (const kind of RUNNING_TIMERS) store.clearTimers(kind);
  if (status === "failed") {
    store.setTimer("dead-letter", "send", now);
    if (hasOnFailure) store.setTimer("on-failure", `${run.version}:0`, now);
  }
  if (status !== "completed") store.setTimer("system-event", String(run.version), now);
  return true;
}

/**
 * The handler awaits only sleeps and waits: the run is `waiting` (a wait is
 * among them) or `sleeping`. It needs no lease (nothing runs); the timers of
 * its sleeps and waits, and the events it waits for, wake it.
 */
export function pauseRun(store: RunStore, status: "sleeping" | "waiting"): boolean {
  const run = store.run!;
  if (run.status !== "running") return false;
  run.status = status;
  run.version += 1;
  store.saveRun();
  store.clearTimers("lease");
  return true;
}

/** A sleep came due, or a wait ended, in a paused run: it runs again, with its lease. */
export function resumeRun(store: RunStore, now: number): boolean {
  const run = store.run!;
  if (run.status !== "sleeping" && run.status !== "waiting") return false;
  run.status = "running";
  run.version += 1;
  store.saveRun();
  store.setTimer("lease", "run", now + RUN_LEASE_MS);
  return true;
}

/** The handler threw and has retries left: it runs again at `at`. */
export function scheduleHandlerRetry(store: RunStore, at: number): void {
  store.setTimer("handler-retry", "run", at);
}

/** The handler's retry came due: its next attempt begins. */
export function retryHandler(store: RunStore): void {
  const run = store.run!;
  if (run.status !== "running") return;
  run.attempt += 1;
  store.saveRun();
}

/**
 * The live handler awaits only its own work (no step): it has until `at` to
 * settle or reach a step. Volatile: a new instance runs the handler again and watches it anew.
 */
export function watchHandlerIdle(store: RunStore, at: number): boolean {
  if (store.timer("handler-idle", "run")) return false;
  store.setTimer("handler-idle", "run", at, true);
  return true;
}

export function clearHandlerIdle(store: RunStore): void {
  store.clearTimer("handler-idle", "run");
}

/**
 * Ends a settlement: a gap in the settle sequence marks where a batch of
 * results ends, for catch-ups (sdk/execution.ts).
 */
export function endSettlement(store: RunStore): void {
  store.run!.settleSeq += 1;
  store.saveRun();
}

/**
 * Resets a failed run for a replay. From its failed step: completed steps
 * stay memoized; every other step is dropped, to start again with fresh
 * attempts. From the start: the whole journal is dropped. The earlier error
 * is kept in the run's replay history; the failure's timers go.
 */
export function resetForReplay(store: RunStore, from: ReplayRecord["from"], now: number, finishMs?: number): void {
  const run = store.run!;
  const drop = [...store.steps.values()].filter((s) => from === "start" || s.status !== "completed").map((s) => s.key);
  store.deleteSteps(drop);
  store.addReplay({ at: now, from, ...(run.error ? { previousError: run.error } : {}) });
  Object.assign(run, {
    status: "running",
    outputJson: null,
    error: null,
    attempt: 0,
    endedAt: null,
    version: run.version + 1,
    settleSeq: run.settleSeq + 1,
    stateBytes: store.countStateBytes(),
  });
  store.saveRun();
  for (const kind of ["dead-letter", "on-failure", "system-event"] as const) store.clearTimers(kind);
  store.setTimer("lease", "run", now + RUN_LEASE_MS);
  if (finishMs !== undefined) store.setTimer("run-timeout", "run", now + finishMs);
}

// ---- steps ------------------------------------------------------------------

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

/** A sleep the handler reached: it is running, in no executor, until its timer wakes it at `wakeAt`. */
export function startSleep(store: RunStore, s: StepState, wakeAt: number, now: number): void {
  s.status = "running";
  s.attempts = 1;
  s.startedAt ??= now;
  s.mode = "sleep";
  s.attemptStartedAt ??= now;
  s.wakeAt ??= wakeAt;
  store.putStep(s);
  store.setTimer("step-wake", s.key, s.wakeAt);
}

/**
 * A wait the handler reached: it is running, in no executor, until an event
 * resumes it or its timer times it out at `until`; a `wait-register` timer
 * puts it in the waits index and looks back on events since the trigger.
 */
export function startWait(store: RunStore, s: StepState, spec: WaitSpec, until: number, now: number): void {
  s.status = "running";
  s.attempts = 1;
  s.startedAt ??= now;
  s.attemptStartedAt ??= now;
  s.mode = "wait";
  s.wait = spec;
  s.wakeAt ??= until;
  store.putStep(s);
  store.setTimer("step-wake", s.key, s.wakeAt);
  store.setTimer("wait-register", s.key, now);
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

// ---- what follows a failure, and the listing ----------------------------------

/** The dead letter's send (`send`) or its check in D1 (`check`) is to be tried again at `at`. */
export function retryDeadLetter(store: RunStore, ref: "send" | "check", at: number): void {
  store.setTimer("dead-letter", ref, at);
}

/** onFailure threw: its try number `tries` for the failure numbered `version` comes at `at`. */
export function retryOnFailure(store: RunStore, version: number, tries: number, at: number): void {
  store.setTimer("on-failure", `${version}:${tries}`, at);
}

/** The system event of the ending numbered `version` is to be sent again at `at`. */
export function retrySystemEvent(store: RunStore, version: number, at: number): void {
  store.setTimer("system-event", String(version), at);
}

/** The run's listing row is (re)sent at `at` unless a send before then is confirmed. */
export function scheduleListingSync(store: RunStore, at: number): void {
  store.setTimer("listing-sync", "run", at);
}

/** The listing has the run's row as of its current version. */
export function listingSynced(store: RunStore): void {
  store.clearTimer("listing-sync", "run");
}

/** A due timer's handler is done: it goes, unless the handler set it again (same kind and ref, another time). */
export function timerHandled(store: RunStore, timer: Timer): void {
  store.clearHandledTimer(timer);
}
