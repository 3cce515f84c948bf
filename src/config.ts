import type { z } from "zod";
import type { StepflareFunction } from "../sdk/internal";
import { Registry } from "./fanout/match";
import { serviceNames } from "./remote/bindings";
import { RemoteFunctions } from "./remote/registry";
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
  /**
   * Where an accepted event is made durable before ingest answers
   * (docs/scale.md): `"queue"` (the events queue alone), `"store"` (the event
   * store, then the queue), or `"auto"` (default): the queue for requests that came
   * through Cloudflare's edge, the event store for the rest, such as local dev, whose
   * queues live in memory.
   */
  ingest?: IngestPath | "auto";
  /**
   * Apps served by the `inngest` SDK (docs/remote-functions.md): the signing key they share with the engine.
   * The secret `INNGEST_SIGNING_KEY` (and `INNGEST_SIGNING_KEY_FALLBACK`) wins over this.
   */
  inngest?: { signingKey?: string; signingKeyFallback?: string };
  /**
   * Service bindings to other Workers of yours that serve functions with `serve()` from `stepflare`
   * (docs/service-bindings.md): their binding names, as in wrangler.toml's `[[services]]`.
   */
  services?: string[];
}

/** How ingest makes an event durable before it answers. */
export type IngestPath = "queue" | "store";

/** Everything the engine's handlers share, resolved once from the options. */
export interface EngineConfig {
  registry: Registry;
  schemas: Record<string, z.ZodType>;
  limits: Limits;
  backoff: Backoff;
  retention: Retention;
  ingest: IngestPath | "auto";
  /** Functions other apps serve, read from D1 for fan-out. */
  remote: RemoteFunctions;
  inngest: { signingKey?: string; signingKeyFallback?: string };
  /** The service bindings the engine may call functions through. */
  services: readonly string[];
}

export function resolveConfig(options: EngineOptions): EngineConfig {
  const registry = new Registry(options.functions);
  return {
    registry,
    remote: new RemoteFunctions(registry),
    inngest: { ...options.inngest },
    services: serviceNames(options.services),
    schemas: options.schemas ?? {},
    limits: limitsSchema.parse(options.limits ?? {}),
    backoff: backoffSchema.parse(options.backoff ?? {}),
    retention: retentionSchema.parse(options.retention ?? {}),
    ingest: ingestOption(options.ingest),
  };
}

function ingestOption(value: unknown): IngestPath | "auto" {
  if (value === undefined) return "auto";
  if (value === "queue" || value === "store" || value === "auto") return value;
  throw new TypeError(`createEngine: ingest must be "auto", "queue" or "store", not ${JSON.stringify(value)}`);
}
