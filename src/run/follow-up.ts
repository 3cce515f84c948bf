import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { dedupeOf } from "../events/store";
import { prepareEvents, writeEvents } from "../ingest/accept";
import { HttpError } from "../shared/http-error";
import { callOnFailure, sendDeadLetter, storeDeadLetter } from "./after-failure";
import { retryDelayMs } from "./backoff";
import { deadLetterFor } from "./dead-letter";
import type { RunDriver } from "./driver";
import type { RunStore } from "./store";
import { retryDeadLetter, retryOnFailure, retrySystemEvent } from "./transitions";

/** A dead letter's send that failed is tried again this much later. */
const DEAD_LETTER_RETRY_MS = 5_000;
/**
 * How long after its send a dead letter is looked for in D1 (and stored from
 * here if the failures queue lost it): long enough for the queue's consumer,
 * so a burst of failures still reaches D1 in batches.
 */
export const DEAD_LETTER_CHECK_MS = 60_000;

/**
 * Sends the failure's dead letter (`send`), then, a while later, makes sure
 * D1 has it (`check`), storing it from here if the queue lost it; a step
 * that fails is tried again later, unless a replay came in meanwhile (a
 * replay stores the dead letter itself).
 */
export async function followDeadLetter(env: Env, store: RunStore, ref: string): Promise<void> {
  const run = store.run!;
  if (run.status !== "failed") return;
  const version = run.version;
  const letter = deadLetterFor(run, store.steps.values());
  const check = ref === "check";
  const done = check ? await storeDeadLetter(env, letter) : await sendDeadLetter(env, letter);
  if (run.status !== "failed" || run.version !== version) return;
  if (!done) retryDeadLetter(store, check ? "check" : "send", Date.now() + (check ? DEAD_LETTER_CHECK_MS : DEAD_LETTER_RETRY_MS));
  else if (!check) retryDeadLetter(store, "check", Date.now() + DEAD_LETTER_CHECK_MS);
}

/** Calls onFailure for the failure numbered `version` (ref `version:tries`); a throw is retried under the function's retries. */
export async function followOnFailure(env: Env, store: RunStore, driver: RunDriver, config: EngineConfig, ref: string): Promise<void> {
  const run = store.run!;
  const [version, tries] = ref.split(":").map(Number) as [number, number];
  if (run.status !== "failed" || run.version !== version) return;
  const fn = driver.fn();
  if (!(await callOnFailure(fn, run, driver.eventJson(), env)) && tries < fn.config.retries) {
    retryOnFailure(store, version, tries + 1, Date.now() + retryDelayMs(tries + 1, config.backoff));
  }
}

/** A system event that could not be stored is tried again this much later. */
const SYSTEM_EVENT_RETRY_MS = 5_000;

/**
 * Sends `stepflare/function.failed` or `stepflare/function.cancelled` for
 * the ending numbered `ref` (its version), with Inngest's fields, as an
 * event other functions can subscribe to. Its id is derived from the run and
 * the ending, so a resend is deduplicated.
 */
export async function followSystemEvent(env: Env, store: RunStore, driver: RunDriver, config: EngineConfig, ref: string): Promise<void> {
  const run = store.run!;
  const version = Number(ref);
  if (run.version !== version || (run.status !== "failed" && run.status !== "cancelled")) return;
  const trigger = JSON.parse(driver.eventJson()) as { name: string };
  // A run started by a system event sends none itself: a handler of function.failed that fails must not start itself again.
  if (trigger.name.startsWith("stepflare/")) return;
  const error = run.error ?? { name: "Error", message: `run ${run.status}` };
  const payload = {
    id: `${run.id}.${version}.${run.status}`,
    name: `stepflare/function.${run.status}`,
    data: {
      function_id: run.functionId,
      run_id: run.id,
      error: { name: error.name, message: error.message, ...(error.code ? { code: error.code } : {}) },
      event: trigger,
    },
  };
  try {
    const { after } = await writeEvents(env, [await prepareEvents([payload])], dedupeOf(config));
    await after;
  } catch (e) {
    if (e instanceof HttpError) {
      // Too large to store (the original event near its limit): it cannot go, now or later.
      console.error(`stepflare: run ${run.id}: ${payload.name} not sent:`, e.message);
      return;
    }
    console.error(`stepflare: run ${run.id}: sending ${payload.name} failed, will retry:`, (e as Error).message);
    retrySystemEvent(store, version, Date.now() + SYSTEM_EVENT_RETRY_MS);
  }
}
