import { type InvokeSpec, type SerializedError, utf8Bytes, type WaitSpec } from "../../sdk/internal";

export type RunStatus = "queued" | "running" | "sleeping" | "waiting" | "completed" | "failed" | "cancelled";
export type StepStatus = "planned" | "running" | "retrying" | "completed" | "failed";

/**
 * The kinds of timer a run keeps in its timers table, behind its one alarm;
 * src/run/timers.ts handles each, src/run/README.md says who sets it.
 */
export type TimerKind =
  | "lease"
  | "handler-retry"
  | "handler-idle"
  | "step-retry"
  | "step-lease"
  | "step-wake"
  | "listing-sync"
  | "dead-letter"
  | "on-failure"
  | "run-timeout"
  | "system-event"
  | "wait-register"
  | "cancel-register"
  | "invoke-start"
  | "notify-parent"
  | "expire"
  | "admit"
  | "start-timeout"
  | "slot-release";

/**
 * A run's place under its function's flow control (concurrency, throttle);
 * absent for a function with neither. Stored in a row of its own.
 */
export interface RunFlow {
  /** The function has a concurrency limit: the run queues again each time it resumes. */
  concurrency: boolean;
  /** Bumped each time the run enters the queue: its queue places and slots carry it, so a late release or grant from an earlier stay is told apart. */
  ticket: number;
  /** While queued: since when, why (null until asked), and for a throttle, when it may start. */
  queuedAt: number | null;
  reason: "throttle" | "concurrency" | null;
  startAt: number | null;
  /** The run has passed its throttle (throttle applies to its first start only). */
  throttled: boolean;
  /** The concurrency limits (object names) asked under this ticket, and those whose slot the run holds. */
  asked: string[];
  held: string[];
}

/** Where an invoked run reports its ending. */
export interface ParentLink {
  runId: string;
  stepKey: string;
  gen: number;
}

export const isTerminal = (s: RunStatus): boolean => s === "completed" || s === "failed" || s === "cancelled";
export const isSettled = (s: StepStatus): boolean => s === "completed" || s === "failed";

export interface ReplayRecord {
  at: number;
  from: "failed-step" | "start";
  previousError?: SerializedError;
}

/** A run's error; a step's final failure names the step's id and which occurrence of it (its key) failed. */
export type RunError = SerializedError & { stepId?: string; stepKey?: string };

export interface RunState {
  id: string;
  functionId: string;
  eventId: string;
  status: RunStatus;
  outputJson: string | null;
  error: RunError | null;
  /** Zero-based attempt of the handler itself. */
  attempt: number;
  startedAt: number;
  endedAt: number | null;
  /** Bumped on every status change; orders listing updates and names each failure. */
  version: number;
  /** When the triggering event was accepted: a wait looks back on events accepted since. */
  acceptedAt: number;
  /** For a run started by step.invoke: the invoking run, its step, and its generation then. */
  parent: ParentLink | null;
  /** Bumped on every settled step; a dispatched step catches up against the steps settled up to its plan. */
  settleSeq: number;
  /** Bytes of every step's stored output and error, for the run state limit: counted on load, kept up to date in memory, not stored. */
  stateBytes: number;
  replays: ReplayRecord[];
  /** Its place under flow control; null for a function without concurrency or throttle. */
  flow: RunFlow | null;
}

export interface StepState {
  key: string;
  id: string;
  /** Order in which the handler first reached this step. */
  seq: number;
  status: StepStatus;
  /** Attempts started so far. */
  attempts: number;
  /** Retries allowed after the first attempt. */
  retries: number;
  outputJson: string | null;
  error: SerializedError | null;
  startedAt: number | null;
  endedAt: number | null;
  settleSeq: number | null;
  /** For a dispatched step: the run's settleSeq when it was planned. */
  planSeq: number | null;
  /** Where the attempt runs: in the object, on the steps queue; a sleep runs nowhere and wakes by its timer. */
  mode: "inline" | "queue" | "sleep" | "wait" | "invoke" | null;
  /** The attempt a steps consumer claimed (started); a lease that expires unclaimed is re-dispatched. */
  claimedAttempt: number | null;
  /** The claim token of the consumer invocation that claimed `claimedAttempt`. */
  claimToken: string | null;
  /** When the claimed attempt runs out of its step timeout, however often its claim is renewed. */
  deadlineAt: number | null;
  /** A sleep's wake time, as first reached. */
  wakeAt: number | null;
  /** When the latest attempt started. */
  attemptStartedAt: number | null;
  /** A waitForEvent's event, match and filter; its timeout is `wakeAt`. */
  wait: WaitSpec | null;
  /** An invoke's function, data and, once started, child run; its timeout is `wakeAt`. */
  invoke: InvokeSpec | null;
}

/**
 * What a step holds toward its run's state limit: the UTF-8 bytes of its
 * output and of its error, as stored. A step keeps one error, its latest
 * attempt's: a retry's replaces it, a completion drops it.
 */
export const storedBytes = (s: Pick<StepState, "outputJson" | "error">): number =>
  (s.outputJson === null ? 0 : utf8Bytes(s.outputJson)) + (s.error ? utf8Bytes(JSON.stringify(s.error)) : 0);

/** The run's state bytes, counted from its steps as stored. */
export function stateBytesOf(steps: Iterable<StepState>): number {
  let bytes = 0;
  for (const s of steps) bytes += storedBytes(s);
  return bytes;
}

/**
 * The run's generation: how many times it has been replayed. Step messages
 * and results carry it, so work still out from before a replay (which starts
 * step attempts from 1 again) never claims or settles the replayed attempts.
 */
export const generationOf = (run: RunState): number => run.replays.length;

/** A step's result as reported by whoever ran it; `gen` is the run's generation it ran in (absent: the current one). */
export type StepResult = (
  | { key: string; attempt: number; ok: true; outputJson: string | null }
  | { key: string; attempt: number; ok: false; error: SerializedError; nonRetriable: boolean; retryAfterMs?: number }
) & { gen?: number };
