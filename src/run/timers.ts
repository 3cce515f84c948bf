import type { RunDriver } from "./driver";
import type { RunStore } from "./store";
import { renewRunLease, replanStep, retryHandler, timerHandled } from "./transitions";
import type { TimerKind } from "./types";

/** What the timers' handlers act on: the run's store, its driver, and the object's effects outside the run. */
export interface TimerHost {
  readonly store: RunStore;
  readonly driver: RunDriver;
  /** Sends the failure's dead letter (`send`), or makes sure D1 has it (`check`). */
  deadLetter(ref: string): Promise<void>;
  /** Calls onFailure for the failure and try named by `ref` (`version:tries`). */
  onFailure(ref: string): Promise<void>;
  /** Sends the run's listing row again. */
  syncListing(): void;
  /** Sends the system event of the ending numbered `ref`. */
  systemEvent(ref: string): Promise<void>;
  /** A sleep woke, or a wait timed out. */
  timeOutPause(key: string): Promise<void>;
  /** Puts a wait in the waits index and looks back on events accepted since the trigger. */
  registerWait(key: string): Promise<void>;
  /** The same for the function's `cancelOn` entry numbered `index`. */
  registerCancel(index: string): Promise<void>;
  /** Starts the child run of the invoke step `key`. */
  startChild(key: string): Promise<void>;
  /** Tells the invoking run of the ending numbered `ref`. */
  notifyParent(ref: string): Promise<void>;
  /** The run is past its retention: its listing row and its object's storage go. */
  expire(now: number): Promise<void>;
  /** A queued run asks its flow-control limits again. */
  admit(): Promise<void>;
  /** Lets go of the slot or queue place named by `ref` (`ticket name`). */
  releaseSlot(ref: string): Promise<void>;
}

type TimerHandler = (host: TimerHost, ref: string, now: number) => void | Promise<void>;

/** One handler per kind of timer; src/run/README.md says who sets each. */
const handlers: Record<TimerKind, TimerHandler> = {
  lease: (h, _ref, now) => renewRunLease(h.store, now),
  "handler-retry": (h) => retryHandler(h.store),
  "handler-idle": (h) => h.driver.idleExpired(),
  "step-retry": (h, ref) => replanStep(h.store, ref),
  "step-lease": (h, ref, now) => h.driver.leaseExpired(ref, now),
  "step-wake": (h, ref) => h.timeOutPause(ref),
  "wait-register": (h, ref) => h.registerWait(ref),
  "cancel-register": (h, ref) => h.registerCancel(ref),
  "invoke-start": (h, ref) => h.startChild(ref),
  "notify-parent": (h, ref) => h.notifyParent(ref),
  "listing-sync": (h) => h.syncListing(),
  "dead-letter": (h, ref) => h.deadLetter(ref),
  "on-failure": (h, ref) => h.onFailure(ref),
  "run-timeout": (h) =>
    void h.driver.cancel({
      name: "RunTimedOutError",
      code: "run_timed_out",
      message: `the run did not finish within its timeouts.finish of ${h.driver.fn().config.timeouts?.finish} ms`,
    }),
  "system-event": (h, ref) => h.systemEvent(ref),
  expire: (h, _ref, now) => h.expire(now),
  admit: (h) => h.admit(),
  "start-timeout": (h) =>
    void h.driver.cancel({
      name: "RunStartTimedOutError",
      code: "run_start_timed_out",
      message: `the run was still queued after its timeouts.start of ${h.driver.fn().config.timeouts?.start} ms`,
    }),
  "slot-release": (h, ref) => h.releaseSlot(ref),
};

/**
 * Handles every timer due at `now`, earliest first. Each stays stored until
 * its handling is done, so an instance evicted while a handler awaits
 * (onFailure, a queue send) leaves it for the next alarm. Calls that came in
 * while an earlier handler awaited may have cleared or moved a timer (a
 * replay clears the failure's dead letter): only one still set as it was is handled.
 */
export async function fireDueTimers(host: TimerHost, now: number): Promise<void> {
  for (const timer of host.store.dueTimers(now)) {
    if (host.store.timer(timer.kind, timer.ref)?.dueAt !== timer.dueAt) continue;
    await handlers[timer.kind](host, timer.ref, now);
    // An expired run's storage is gone, its timers with it.
    if (!host.store.run) return;
    timerHandled(host.store, timer);
  }
}
