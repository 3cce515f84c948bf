import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { runIdFor } from "../fanout/run-id";
import { writeListing } from "../listing/store";
import { isRemote } from "../remote/registry";
import type { RunDriver } from "./driver";
import type { RunStore } from "./store";
import { recordChild, retryInvokeStart, retryNotifyParent } from "./transitions";
import { generationOf, type RunError, type RunStatus } from "./types";

/** A step's invoke whose child could not be started, or told its parent nothing, tries again this much later. */
const INVOKE_RETRY_MS = 5_000;

/** How an invoked run ended, as it tells its parent. */
export interface ChildEnding {
  status: RunStatus;
  outputJson: string | null;
  error: RunError | null;
}

/**
 * Starts the child run of the invoke step `key`: a run of the invoked
 * function, its id derived from the parent run and the step (so a second
 * start changes nothing), its event `stepflare/function.invoked` with the
 * invoke's data, linked to the parent. Its listing row is written here, as
 * the fan-out writes a new run's.
 */
export async function startChild(env: Env, config: EngineConfig, store: RunStore, driver: RunDriver, key: string): Promise<void> {
  const s = store.steps.get(key);
  const run = store.run!;
  if (s?.mode !== "invoke" || s.status !== "running" || !s.invoke) return;
  const { functionId, data, user } = s.invoke;
  const startedAt = s.startedAt ?? Date.now();
  const eventId = `${run.id}.${key}`;
  try {
    // The engine's own function, or one an app serves (its target goes with the child, as the fan-out's does).
    const remote = config.registry.get(functionId) ? undefined : (await config.remote.registry(env.DB)).get(functionId);
    if (!config.registry.get(functionId) && !(remote && isRemote(remote))) {
      driver.endInvoke(key, {
        ok: false,
        error: { name: "InvokeFailedError", code: "invoke_failed", message: `no function "${functionId}" is registered with this engine` },
      });
      return;
    }
    const childId = await runIdFor(functionId, eventId, startedAt);
    const started = await env.RUNS.get(env.RUNS.idFromName(childId)).start({
      runId: childId,
      functionId,
      event: { id: eventId, name: "stepflare/function.invoked", data, ts: startedAt, ...(user ? { user } : {}) },
      acceptedAt: startedAt,
      parent: { runId: run.id, stepKey: key, gen: generationOf(run) },
      ...(remote && isRemote(remote) ? { remote: remote.remote } : {}),
    });
    const { status, endedAt, errorCode, version } = started;
    await writeListing(env, [{ id: childId, functionId, eventId, status, startedAt: started.startedAt, endedAt, errorCode, version }]);
    recordChild(store, s, childId);
  } catch (e) {
    console.error(`stepflare: run ${run.id}: starting the child of "${key}" failed, will retry:`, (e as Error).message);
    retryInvokeStart(store, key, Date.now() + INVOKE_RETRY_MS);
  }
}

/** Tells the invoking run how this run ended (`ref` is the ending's version); a failure to reach it is retried. */
export async function notifyParent(env: Env, store: RunStore, ref: string): Promise<void> {
  const run = store.run!;
  if (!run.parent || String(run.version) !== ref) return;
  try {
    await env.RUNS.get(env.RUNS.idFromName(run.parent.runId)).childEnded(run.parent.stepKey, run.parent.gen, {
      status: run.status,
      outputJson: run.outputJson,
      error: run.error,
    });
  } catch (e) {
    console.error(`stepflare: run ${run.id}: telling its parent ${run.parent.runId} failed, will retry:`, (e as Error).message);
    retryNotifyParent(store, run.version, Date.now() + INVOKE_RETRY_MS);
  }
}

/** The invoke step `key` learns how its child ended (in the run's generation `gen`): its output, or invoke_failed. */
export function childEnded(store: RunStore, driver: RunDriver, key: string, gen: number, ending: ChildEnding): void {
  const run = store.run;
  if (!run || generationOf(run) !== gen) return;
  if (ending.status === "completed") driver.endInvoke(key, { ok: true, outputJson: ending.outputJson });
  else {
    const reason = ending.error ? `${ending.error.name}: ${ending.error.message}` : ending.status;
    driver.endInvoke(key, {
      ok: false,
      error: { name: "InvokeFailedError", code: "invoke_failed", message: `the invoked run ${ending.status}: ${reason}` },
    });
  }
}
