import type { RunStore, Timer } from "../store";

/** The timers of what follows a run's ending, and of its listing row. */

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
