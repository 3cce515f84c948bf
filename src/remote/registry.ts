import { z } from "zod";
import { type FunctionConfig, functionConfigSchema, type StepflareFunction } from "../../sdk/function";
import { StepflareError } from "../../sdk/internal";
import type { AnyHandler } from "../../sdk/types";
import { loadRemoteFunctions, type RemoteFunctionRow } from "../d1/remote";
import { Registry } from "../fanout/match";
import { type RemoteTarget, remoteTargetSchema } from "./target";

/** A function another app serves: its config for fan-out, and where to call it. */
export interface RemoteFunction extends StepflareFunction {
  readonly remote: RemoteTarget;
}

export const isRemote = (fn: StepflareFunction): fn is RemoteFunction => "remote" in fn && fn.remote !== undefined;

/** What a remote function's row holds: its name, its triggers in Stepflare's form, the options the engine applies, and its target. */
export const remoteDefinitionSchema = z.object({
  name: z.string().optional(),
  triggers: z.array(z.record(z.string(), z.unknown())),
  /** `cancelOn` and `timeouts`, in Stepflare's input form. */
  options: z.record(z.string(), z.unknown()).optional(),
  target: remoteTargetSchema,
});
export type RemoteDefinition = z.infer<typeof remoteDefinitionSchema>;

const noLocalHandler: AnyHandler = () => {
  throw new StepflareError("remote_function", "a remote function runs in its app, through its run's object");
};

/** A remote function from its definition; throws (with the config's code) when the config does not hold. */
export function remoteFunction(id: string, definition: RemoteDefinition, handler: AnyHandler = noLocalHandler): RemoteFunction {
  const parsed = functionConfigSchema.safeParse({
    id,
    ...(definition.name ? { name: definition.name.slice(0, 256) } : {}),
    triggers: definition.triggers,
    retries: definition.target.retries,
    ...definition.options,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const code = (issue as { params?: { code?: unknown } } | undefined)?.params?.code;
    throw Object.assign(new TypeError(`function ${JSON.stringify(id)}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`), {
      code: typeof code === "string" ? code : "invalid_function",
    });
  }
  return Object.freeze({ kind: "stepflare.function" as const, config: parsed.data, handler, remote: definition.target });
}

/** The function a run of a remote target executes: its retries, and the handler the run gives it. */
export function runnableRemote(functionId: string, target: RemoteTarget, handler: AnyHandler): StepflareFunction {
  // What a run applies itself: retries and the target's options. Its triggers stay with the registry; no onFailure.
  const config = {
    id: functionId,
    triggers: [],
    retries: target.retries,
    ...target.options,
  } as unknown as FunctionConfig;
  return Object.freeze({ kind: "stepflare.function" as const, config, handler });
}

/** How long a fan-out trusts the remote functions it read: a sync shows within this, or at once in the isolate that took it. */
const CACHE_MS = 5_000;

/**
 * The remote functions, read from D1 and indexed for fan-out like the
 * engine's own, cached for a few seconds per isolate. An id the engine
 * serves itself stays the engine's.
 */
export class RemoteFunctions {
  readonly #local: Registry;
  #cached: { at: number; registry: Promise<Registry> } | undefined;

  constructor(local: Registry) {
    this.#local = local;
  }

  registry(db: D1Database, now = Date.now()): Promise<Registry> {
    if (this.#cached && now - this.#cached.at < CACHE_MS) return this.#cached.registry;
    const registry = loadRemoteFunctions(db).then(
      (rows) => this.#build(rows),
      (e: Error) => {
        // An engine whose D1 lacks migration 0003 has no remote functions; its fan-out carries on.
        if (/no such table/.test(e.message)) return new Registry([]);
        this.#cached = undefined;
        throw e;
      },
    );
    this.#cached = { at: now, registry };
    return registry;
  }

  /** Drops the cache: the next fan-out in this isolate reads D1 again. */
  forget(): void {
    this.#cached = undefined;
  }

  #build(rows: RemoteFunctionRow[]): Registry {
    const functions: RemoteFunction[] = [];
    for (const row of rows) {
      if (this.#local.get(row.id)) continue;
      try {
        functions.push(remoteFunction(row.id, remoteDefinitionSchema.parse(JSON.parse(row.definition))));
      } catch (e) {
        console.error(`stepflare: remote function ${row.id} of app ${row.app_id} is unreadable; skipped:`, (e as Error).message);
      }
    }
    return new Registry(functions);
  }
}
