import { StepflareError } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import type { Env } from "../env";

/** A binding name as wrangler.toml writes it in `[[services]] binding = "..."`. */
export const BINDING_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** The `services` option, checked: binding names, each once. */
export function serviceNames(names: unknown): readonly string[] {
  if (names === undefined) return [];
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string" && BINDING_NAME.test(n))) {
    throw new TypeError('createEngine: services is a list of service binding names, such as ["BILLING"]');
  }
  return Object.freeze([...new Set(names as string[])]);
}

/**
 * The service binding named `binding`, read from this request's env. Only
 * a binding listed in the engine's `services` is called, so a stored target
 * can never reach another of the Worker's bindings.
 */
export function serviceBinding(env: Env, config: EngineConfig, binding: string): Fetcher {
  if (!config.services.includes(binding)) {
    throw new StepflareError(
      "service_not_configured",
      `${binding} is not one of the engine's services: list it in createEngine({ services: [${JSON.stringify(binding)}] })`,
    );
  }
  const value = (env as unknown as Record<string, unknown>)[binding] as Partial<Fetcher> | undefined;
  if (typeof value?.fetch !== "function") {
    throw new StepflareError(
      "service_binding_missing",
      `the engine's Worker has no service binding ${binding}: add [[services]] binding = ${JSON.stringify(binding)} to its wrangler.toml`,
    );
  }
  return value as Fetcher;
}
