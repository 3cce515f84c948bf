import { DurableObject } from "cloudflare:workers";
import type { EngineConfig } from "../config";
import type { Env } from "../env";

/**
 * Flow control's state: one object per limit kind, function (or shared key)
 * and key value, named by `flowObjectName`, so different keys never wait on
 * each other and no single object carries every function. Each kind keeps its
 * own tables in the object's SQLite (src/flow/<kind>.ts); an object serves one kind.
 */
export class StepflareFlowObject extends DurableObject<Env> {
  protected readonly config: EngineConfig;

  constructor(ctx: DurableObjectState, env: Env, config: EngineConfig) {
    super(ctx, env);
    this.config = config;
  }
}

/** The kinds of flow-control object; the first part of each object's name. */
export type FlowKind = "concurrency" | "throttle" | "rate-limit" | "debounce" | "batch" | "singleton" | "idempotency";

/**
 * The name of the object holding one limit's state: its kind, its scope (a
 * function id, or `env` for a concurrency key shared across functions) and the key's value.
 */
export function flowObjectName(kind: FlowKind, scope: string, key: string): string {
  return `${kind}\u0000${scope}\u0000${key}`;
}
