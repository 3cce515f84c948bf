import type { z } from "zod";
import type { StepflareFunction } from "../sdk/internal";
import { Registry } from "./fanout/match";
import { type Backoff, backoffSchema, type Limits, limitsSchema } from "./shared/limits";
import { type Retention, retentionSchema } from "./shared/retention";

export interface EngineOptions {
  functions: StepflareFunction[];
  /** zod schemas by event name; events with a schema are validated at ingest. Usually `app.schemas`. */
  schemas?: Record<string, z.ZodType>;
  limits?: Partial<z.input<typeof limitsSchema>>;
  backoff?: Partial<z.input<typeof backoffSchema>>;
  /** How long runs, events and dead letters are kept (docs/operations.md). */
  retention?: Partial<z.input<typeof retentionSchema>>;
}

/** Everything the engine's handlers share, resolved once from the options. */
export interface EngineConfig {
  registry: Registry;
  schemas: Record<string, z.ZodType>;
  limits: Limits;
  backoff: Backoff;
  retention: Retention;
}

export function resolveConfig(options: EngineOptions): EngineConfig {
  return {
    registry: new Registry(options.functions),
    schemas: options.schemas ?? {},
    limits: limitsSchema.parse(options.limits ?? {}),
    backoff: backoffSchema.parse(options.backoff ?? {}),
    retention: retentionSchema.parse(options.retention ?? {}),
  };
}
