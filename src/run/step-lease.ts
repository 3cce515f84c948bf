import type { EngineConfig } from "../config";
import type { Env } from "../env";
import type { StepMessage } from "../messages/steps";
import { sendSteps } from "../shared/queue-shards";
import type { RunStore } from "./store";
import { extendStepLease } from "./transitions";
import { generationOf, type StepResult } from "./types";

/** What a lapsed step lease acts on: the run's store, the engine's limits, the queue, and the driver's way to commit a result. */
export interface LeaseContext {
  store: RunStore;
  config: EngineConfig;
  env: Env;
  apply(results: StepResult[]): void;
}

/**
 * A step's lease ran out. Inline, or claimed and past its deadline: the
 * attempt timed out. Claimed, before its deadline: its claimer stopped
 * renewing the claim (its invocation ended or was evicted), so the attempt
 * was interrupted. Either way the attempt counts, and the step is retried
 * while it has retries. Dispatched and never claimed: the message was
 * lost, so it is sent again without spending an attempt.
 */
export async function stepLeaseExpired({ store, config, env, apply }: LeaseContext, key: string, now: number): Promise<void> {
  const s = store.steps.get(key);
  const run = store.run!;
  if (s?.status !== "running" || (s.mode !== "inline" && s.mode !== "queue") || run.status !== "running") return;
  if (s.mode === "inline" || s.claimedAttempt === s.attempts) {
    const timedOut = s.mode === "inline" || s.deadlineAt === null || now >= s.deadlineAt;
    const error = timedOut
      ? {
          name: "StepTimeoutError",
          code: "step_timeout",
          message: `step "${s.id}" sent no result within ${config.limits.stepTimeoutMs} ms`,
        }
      : {
          name: "StepInterruptedError",
          code: "step_interrupted",
          message: `step "${s.id}" was interrupted: the steps consumer running it stopped renewing its claim`,
        };
    apply([{ key, attempt: s.attempts, ok: false, error, nonRetriable: false }]);
    return;
  }
  extendStepLease(store, key, now + config.limits.stepDispatchLeaseMs);
  const message: StepMessage = {
    v: 1,
    runId: run.id,
    planSeq: s.planSeq ?? 0,
    gen: generationOf(run),
    steps: [{ key, attempt: s.attempts }],
  };
  await sendSteps(env, [message]).catch((e) => console.error(`stepflare: run ${run.id}: re-dispatch failed:`, (e as Error).message));
}
