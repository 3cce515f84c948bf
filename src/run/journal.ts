import type { SerializedError } from "../../sdk/errors";
import type { MemoEntry } from "../../sdk/execution";
import { fromJson } from "../../sdk/json";
import type { StepDecision } from "./decide";
import type { ClaimRequest, ReplayContext } from "./rpc";
import type { RunStore } from "./store";
import { generationOf, isSettled, type ReplayRecord, type RunState, type StepState, stateBytesOf, storedBytes } from "./types";

/**
 * Journal changes that need no runtime: each takes the run's store and
 * writes through it. The Durable Object decides when; these say what.
 */

/** A step the handler reached for the first time. */
export function newStep(key: string, id: string, seq: number, retries: number): StepState {
  return {
    key,
    id,
    seq,
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
  };
}

/** The run's state bytes once `decision` is committed to `s`: the step's output or error replaces what it held. */
export function stateBytesAfter(run: RunState, s: StepState, decision: Exclude<StepDecision, { type: "ignore" }>): number {
  const after = decision.type === "complete" ? decision.bytes : storedBytes({ outputJson: s.outputJson, error: decision.error });
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
  return s ? storedBytes(s) : 0;
}

/**
 * Writes a settled or retrying step. Settling bumps the run's settle
 * sequence, which plans of dispatched steps are measured against.
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
  store.putStep(s);
  store.clearTimer("step-lease", s.key);
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
    if (s.attempts <= s.retries) {
      s.status = "planned";
    } else {
      run.settleSeq += 1;
      settled = true;
      const error: SerializedError = {
        name: "StepInterruptedError",
        code: "step_interrupted",
        message: `step "${s.id}" was interrupted on every attempt`,
      };
      run.stateBytes += storedBytes({ outputJson: s.outputJson, error }) - storedBytes(s);
      Object.assign(s, { status: "failed", endedAt: now, settleSeq: run.settleSeq, error });
    }
    store.putStep(s);
  }
  if (settled) {
    run.settleSeq += 1; // the gap that ends this settlement, as after every batch of results
    store.saveRun();
  }
}

/**
 * Resets a failed run for a replay. From its failed step: completed steps
 * stay memoized; every other step is dropped, to start again with fresh
 * attempts. From the start: the whole journal is dropped. The earlier error
 * is kept in the run's replay history.
 */
export function resetForReplay(store: RunStore, from: ReplayRecord["from"], now: number): void {
  const run = store.run!;
  const drop = [...store.steps.values()].filter((s) => from === "start" || s.status !== "completed").map((s) => s.key);
  store.deleteSteps(drop);
  const stateBytes = stateBytesOf(store.steps.values());
  store.addReplay({ at: now, from, ...(run.error ? { previousError: run.error } : {}) });
  Object.assign(run, {
    status: "running",
    outputJson: null,
    error: null,
    attempt: 0,
    endedAt: null,
    version: run.version + 1,
    settleSeq: run.settleSeq + 1,
    stateBytes,
  });
  store.saveRun();
  for (const kind of ["dead-letter", "on-failure"] as const) store.clearTimers(kind);
}

/** A new run's state, as `start()` stores it. */
export function newRun(runId: string, functionId: string, eventId: string, now: number): RunState {
  return {
    id: runId,
    functionId,
    eventId,
    status: "running",
    outputJson: null,
    error: null,
    attempt: 0,
    startedAt: now,
    endedAt: null,
    version: 1,
    settleSeq: 0,
    stateBytes: 0,
    replays: [],
  };
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
  s.mode = mode;
  if (mode === "queue") s.planSeq = store.run!.settleSeq;
  store.putStep(s);
  store.setTimer("step-lease", s.key, leaseUntil, mode === "inline");
}

/**
 * The memo a live execution starts from: the journal's settled steps, with
 * their settlement order. Steps settled later resolve through the execution's
 * pending steps, not through this.
 */
export function memoOf(store: RunStore): Map<string, MemoEntry> {
  const memo = new Map<string, MemoEntry>();
  for (const s of store.steps.values()) {
    const seq = s.settleSeq ?? undefined;
    if (s.status === "completed") memo.set(s.key, { status: "completed", output: fromJson(s.outputJson), seq });
    else if (s.status === "failed") memo.set(s.key, { status: "failed", error: s.error ?? { name: "Error", message: "step failed" }, seq });
  }
  return memo;
}

/** A dispatched step still waiting for `attempt` to be claimed: the only state in which a message for it may start it. */
export function awaitsClaim(s: StepState | undefined, attempt: number): s is StepState {
  return s?.status === "running" && s.mode === "queue" && s.attempts === attempt && s.claimedAttempt !== attempt;
}

/**
 * Claims the requested dispatched steps still waiting for this attempt,
 * extending their lease to the step timeout. An attempt is claimed once: a
 * second message for it (a re-dispatch after a slow delivery, a duplicate
 * delivery) is refused, so the step's function does not run twice at once.
 * The claim keeps the claimer's token, so the same claimer asking again (its
 * first answer was lost, so it has run nothing) is answered the same; no one
 * else holds that token. A claimer that dies is recovered by the lease it
 * set, as a timed-out attempt.
 */
export function claimDispatched(store: RunStore, requests: ClaimRequest[], leaseUntil: number, token?: string): string[] {
  const claimed: string[] = [];
  const gen = generationOf(store.run!);
  for (const { key, attempt, gen: requestGen } of requests) {
    const s = store.steps.get(key);
    if (requestGen !== gen) continue; // planned before a replay
    if (awaitsClaim(s, attempt)) {
      s.claimedAttempt = attempt;
      s.claimToken = token ?? null;
      store.putStep(s);
      store.setTimer("step-lease", key, leaseUntil);
      claimed.push(key);
    } else if (holdsClaim(s, attempt, token)) claimed.push(key);
  }
  return claimed;
}

/** This attempt was claimed with this token: the claimer is asking again. */
function holdsClaim(s: StepState | undefined, attempt: number, token: string | undefined): boolean {
  return s?.status === "running" && s.attempts === attempt && s.claimedAttempt === attempt && token !== undefined && s.claimToken === token;
}

/** The journal as it stood at `planSeq`: what a replay of dispatched steps planned then must see. */
export function memoAsOf(store: RunStore, planSeq: number): ReplayContext["memo"] {
  const memo: ReplayContext["memo"] = [];
  const encoder = new TextEncoder();
  for (const s of store.steps.values()) {
    if (!isSettled(s.status) || (s.settleSeq ?? Infinity) > planSeq) continue;
    const seq = s.settleSeq ?? undefined;
    memo.push(
      s.status === "completed"
        ? { key: s.key, status: "completed", value: s.outputJson === null ? null : encoder.encode(s.outputJson), seq }
        : { key: s.key, status: "failed", value: encoder.encode(JSON.stringify(s.error)), seq },
    );
  }
  return memo;
}
