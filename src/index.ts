export { requireApiKey } from "./api/auth";
export { type CreateEngineOptions, createEngine, type Engine } from "./engine";
export type { Env } from "./env";
export type { RunDetail } from "./run/detail";
