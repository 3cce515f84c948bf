import { valueAt, type WaitSpec, waitMatches } from "../../sdk/internal";
import { deleteWait, putWait } from "../d1/waits";
import type { Env } from "../env";
import { eventsSince } from "../events/store";
import type { RunDriver } from "./driver";
import type { RunStore } from "./store";
import { retryCancelRegister, retryWaitRegister } from "./transitions";
import { isTerminal } from "./types";

/** How many events of the awaited name a registering wait looks back on, oldest first. */
export const LOOK_BACK_EVENTS = 1000;
const REGISTER_RETRY_MS = 5_000;

export type WaitAnswer = "taken" | "refused" | "gone";

/** The event ids earlier waits of this run took: an event resumes at most one wait of a run. */
function takenIds(store: RunStore): Set<string> {
  const ids = new Set<string>();
  for (const s of store.steps.values()) {
    if (s.mode !== "wait" || s.status !== "completed" || s.outputJson === null) continue;
    const id = (JSON.parse(s.outputJson) as { id?: unknown } | null)?.id;
    if (typeof id === "string") ids.add(id);
  }
  return ids;
}

/**
 * Offers an event to the wait `key`: it is taken if it matches (name,
 * `match`, `if`), is not the trigger itself, and no earlier wait of the run
 * took it. `gone` says the wait is over (the row can go).
 */
export function offerEvent(store: RunStore, driver: RunDriver, key: string, eventJson: string): WaitAnswer {
  const s = store.steps.get(key);
  const run = store.run;
  if (!run || s?.mode !== "wait" || s.status !== "running" || !s.wait) return "gone";
  if (run.status !== "running" && run.status !== "waiting") return "gone";
  const candidate = JSON.parse(eventJson) as { id?: unknown; name?: unknown };
  const trigger = JSON.parse(driver.eventJson()) as { id: string };
  if (candidate.id === trigger.id || takenIds(store).has(String(candidate.id))) return "refused";
  if (!waitMatches(s.wait, trigger, candidate)) return "refused";
  return driver.endPause(key, eventJson) ? "taken" : "gone";
}

/**
 * Puts the wait in the waits index (found by its event's name and the
 * trigger's value at its `match` path), then looks back on the events of
 * that name accepted since the trigger, oldest first, and takes the first
 * that matches: an event sent between the trigger and the wait is not lost.
 * Indexing first and looking back second leaves no gap: an event stored
 * after the look-back began fans out after the row exists.
 */
export async function registerWait(env: Env, store: RunStore, driver: RunDriver, key: string): Promise<void> {
  const s = store.steps.get(key);
  const run = store.run!;
  if (s?.mode !== "wait" || s.status !== "running" || !s.wait) return;
  const trigger = JSON.parse(driver.eventJson());
  const matchValue = s.wait.match === undefined ? "" : JSON.stringify(valueAt(trigger, s.wait.match) ?? null);
  try {
    await putWait(env.DB, {
      runId: run.id,
      stepKey: key,
      name: s.wait.event,
      matchPath: s.wait.match ?? "",
      matchValue,
      expiresAt: s.wakeAt ?? Date.now(),
    });
    for (const eventJson of await eventsSince(env, s.wait.event, run.acceptedAt, LOOK_BACK_EVENTS)) {
      const answer = offerEvent(store, driver, key, eventJson);
      if (answer === "refused") continue;
      await deleteWait(env.DB, run.id, key);
      return;
    }
  } catch (e) {
    console.error(`stepflare: run ${run.id}: registering wait "${key}" failed, will retry:`, (e as Error).message);
    retryWaitRegister(store, key, Date.now() + REGISTER_RETRY_MS);
  }
}

/** A sleep woke, or a wait timed out (answering null): the step completes; a timed-out wait leaves the index. */
export async function timeOutPause(env: Env, store: RunStore, driver: RunDriver, key: string): Promise<void> {
  const mode = store.steps.get(key)?.mode;
  if (mode === "invoke") {
    driver.endInvoke(key, {
      ok: false,
      error: {
        name: "InvokeTimeoutError",
        code: "invoke_timeout",
        message: `the invoked run did not end within the timeout of step "${key}"`,
      },
    });
    return;
  }
  const wasWait = mode === "wait";
  driver.endPause(key);
  if (!wasWait) return;
  await deleteWait(env.DB, store.run!.id, key).catch((e: Error) =>
    console.error(`stepflare: run ${store.run!.id}: removing timed-out wait "${key}" failed; it expires anyway:`, e.message),
  );
}

/** A `cancelOn` entry's key in the waits index: `cancel:<index>`, never a step key (a step id has no ':'). */
export const CANCEL_KEY_PREFIX = "cancel:";
/** How long a `cancelOn` entry with no timeout stays in the index: as long as a run can sleep. */
const CANCEL_ON_MAX_MS = 366 * 24 * 60 * 60 * 1000;

const cancelSpecOf = (driver: RunDriver, key: string) => driver.fn().config.cancelOn?.[Number(key.slice(CANCEL_KEY_PREFIX.length))];

/** Offers an event to a `cancelOn` entry: one that matches (not the trigger itself) cancels the run. */
export function offerCancel(store: RunStore, driver: RunDriver, key: string, eventJson: string): WaitAnswer {
  const run = store.run;
  const spec = cancelSpecOf(driver, key);
  if (!run || !spec || isTerminal(run.status)) return "gone";
  const candidate = JSON.parse(eventJson) as { id?: unknown; name?: unknown };
  const trigger = JSON.parse(driver.eventJson()) as { id: string };
  if (candidate.id === trigger.id || !waitMatches(spec as WaitSpec, trigger, candidate)) return "refused";
  const cancelled = driver.cancel({
    name: "RunCancelledError",
    code: "run_cancelled",
    message: `cancelled by event "${String(candidate.name)}" (${String(candidate.id)}), a cancelOn of the function`,
  });
  return cancelled ? "taken" : "gone";
}

/** Registers the function's `cancelOn` entry numbered `index`, as a wait is, and looks back on the events since the trigger. */
export async function registerCancel(env: Env, store: RunStore, driver: RunDriver, index: string): Promise<void> {
  const run = store.run!;
  const key = `${CANCEL_KEY_PREFIX}${index}`;
  const spec = cancelSpecOf(driver, key);
  if (!spec || isTerminal(run.status)) return;
  const trigger = JSON.parse(driver.eventJson());
  try {
    await putWait(env.DB, {
      runId: run.id,
      stepKey: key,
      name: spec.event,
      matchPath: spec.match ?? "",
      matchValue: spec.match === undefined ? "" : JSON.stringify(valueAt(trigger, spec.match) ?? null),
      expiresAt: run.startedAt + (spec.timeout ?? CANCEL_ON_MAX_MS),
    });
    for (const eventJson of await eventsSince(env, spec.event, run.acceptedAt, LOOK_BACK_EVENTS)) {
      if (offerCancel(store, driver, key, eventJson) === "refused") continue;
      await deleteWait(env.DB, run.id, key);
      return;
    }
  } catch (e) {
    console.error(`stepflare: run ${run.id}: registering cancelOn ${index} failed, will retry:`, (e as Error).message);
    retryCancelRegister(store, index, Date.now() + REGISTER_RETRY_MS);
  }
}
