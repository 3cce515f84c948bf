export { createEngine, type CreateEngineOptions } from "./engine";
export type { Env } from "./env";
export type { RunDetail } from "./run/detail";
