import type { FoundStep } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { sendFromStep } from "../ingest/send-from-step";

/** Runs one attempt's work for a found step (`attempt` counts from 1): the user's function, or the engine's part of a step tool. */
export type Perform = (f: FoundStep, attempt: number) => unknown;

/** How a run's steps are performed, in its object or in the steps consumer alike. */
export const performerFor =
  (env: Env, config: EngineConfig, runId: string): Perform =>
  (f, attempt) =>
    f.send ? sendFromStep(env, config, runId, f.key, f.send) : f.fn({ attempt: attempt - 1 });
