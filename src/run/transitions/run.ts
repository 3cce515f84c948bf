import type { RunStore } from "../store";
import { isTerminal, type ParentLink, type ReplayRecord, type RunError, type RunState } from "../types";
import { leaveSlots, newRunFlow, requeueRun } from "./flow";

/**
 * The run's own transitions. Every change of a run's, a step's or a timer's state, by name. The driver
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
  "cancel-register",
  "invoke-start",
  "admit",
  "start-timeout",
] as const;

// ---- the run ----------------------------------------------------------------

/**
 * Creates the run with its event: running, its first turn with no lease yet
 * (see `endFirstTurn`); or, under flow control, queued, asking its limits at once.
 */
export function createRun(
  store: RunStore,
  init: {
    runId: string;
    functionId: string;
    eventId: string;
    acceptedAt?: number | undefined;
    finishMs?: number | undefined;
    /** How many `cancelOn` entries the function has: each is registered by a timer of its own. */
    cancelOn?: number | undefined;
    /** For a run started by step.invoke: where it reports its ending. */
    parent?: ParentLink | undefined;
    /** Under flow control: whether a concurrency limit applies, `timeouts.start`, and the slots the run starts holding. */
    flow?: { concurrency: boolean; startMs: number | undefined; held?: string[] | undefined } | undefined;
  },
  eventJson: string,
  now: number,
  /** A batch's events after the first, JSON each. */
  moreEvents: string[] = [],
): RunState {
  const run: RunState = {
    id: init.runId,
    functionId: init.functionId,
    eventId: init.eventId,
    status: init.flow ? "queued" : "running",
    outputJson: null,
    error: null,
    attempt: 0,
    startedAt: now,
    endedAt: null,
    version: 1,
    settleSeq: 0,
    acceptedAt: init.acceptedAt ?? now,
    parent: init.parent ?? null,
    stateBytes: 0,
    replays: [],
    flow: init.flow ? newRunFlow(init.flow.concurrency, now, init.flow.held) : null,
  };
  // A queued run asks its limits at once, in start(); its `admit` timer is set only if it stays queued (or see resumeUnasked).
  store.createRun(run, eventJson, moreEvents);
  if (init.flow?.startMs !== undefined) store.setTimer("start-timeout", "run", now + init.flow.startMs);
  // A queued run's finish timeout starts with its admission (admitRun).
  if (init.finishMs !== undefined && !init.flow) store.setTimer("run-timeout", "run", now + init.finishMs);
  for (let i = 0; i < (init.cancelOn ?? 0); i++) store.setTimer("cancel-register", String(i), now);
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

/** A queued run found with no `admit` timer (cut off while start() asked its limits) asks them again at once. */
export function resumeUnasked(store: RunStore, now: number): void {
  if (store.run?.status === "queued" && !store.hasTimer("admit")) store.setTimer("admit", "run", now);
}

/** The lease came due: a running run keeps one; an ended run lets it go. */
export function renewRunLease(store: RunStore, now: number): void {
  if (store.run?.status === "running") store.setTimer("lease", "run", now + RUN_LEASE_MS);
}

/**
 * Ends the run: completed, failed or cancelled. Every timer of a running run
 * goes; a failure sets its dead letter and onFailure as timers, and a
 * failure or a cancellation its system event, written with it, so each
 * happens once per ending even across an eviction. The run's storage
 * expires `retainMs` later.
 */
export function endRun(
  store: RunStore,
  status: "completed" | "failed" | "cancelled",
  result: { outputJson?: string | null; error?: RunError | null },
  now: number,
  hasOnFailure: boolean,
  retainMs: number,
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
  leaveSlots(store);
  if (status === "failed") {
    store.setTimer("dead-letter", "send", now);
    if (hasOnFailure) store.setTimer("on-failure", `${run.version}:0`, now);
  }
  if (status !== "completed") store.setTimer("system-event", String(run.version), now);
  if (run.parent) store.setTimer("notify-parent", String(run.version), now);
  store.setTimer("expire", "run", now + retainMs);
  return true;
}

/** The run is past its retention but a follow-up of its ending is not done: it is looked at again at `at`. */
export function postponeExpiry(store: RunStore, at: number): void {
  store.setTimer("expire", "run", at);
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
  leaveSlots(store);
  return true;
}

/**
 * A sleep came due, or a wait ended, in a paused run: it runs again, with its
 * lease; under a concurrency limit it queues for a slot first.
 */
export function resumeRun(store: RunStore, now: number): boolean {
  const run = store.run!;
  if (run.status !== "sleeping" && run.status !== "waiting") return false;
  run.version += 1;
  if (run.flow?.concurrency) requeueRun(store, now);
  else {
    run.status = "running";
    store.setTimer("lease", "run", now + RUN_LEASE_MS);
  }
  store.saveRun();
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
export function resetForReplay(store: RunStore, from: ReplayRecord["from"], now: number, finishMs?: number, cancelOn = 0): void {
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
  if (run.flow?.concurrency) requeueRun(store, now);
  store.saveRun();
  for (const kind of ["dead-letter", "on-failure", "system-event", "expire"] as const) store.clearTimers(kind);
  if (run.status === "running") store.setTimer("lease", "run", now + RUN_LEASE_MS);
  if (finishMs !== undefined) store.setTimer("run-timeout", "run", now + finishMs);
  for (let i = 0; i < cancelOn; i++) store.setTimer("cancel-register", String(i), now);
}

/** Registering a `cancelOn` entry failed: it is tried again at `at`. */
export function retryCancelRegister(store: RunStore, index: string, at: number): void {
  store.setTimer("cancel-register", index, at);
}

/** Telling the invoking run of this ending (numbered `version`) failed: it is tried again at `at`. */
export function retryNotifyParent(store: RunStore, version: number, at: number): void {
  store.setTimer("notify-parent", String(version), at);
}
