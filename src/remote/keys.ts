import { StepflareError } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import { type Env, isDevMode } from "../env";
import { serviceBinding } from "./bindings";
import type { CallOptions } from "./call";

/** The signing keys in force: the secret's first, then the config's; the fallback after the primary. */
export function signingKeys(env: Env, config: EngineConfig): { primary?: string; fallback?: string } {
  const primary = env.INNGEST_SIGNING_KEY || config.inngest.signingKey || undefined;
  const fallback = env.INNGEST_SIGNING_KEY_FALLBACK || config.inngest.signingKeyFallback || undefined;
  return { ...(primary ? { primary } : {}), ...(fallback ? { fallback } : {}) };
}

/**
 * How the engine calls apps: signed with the primary key, or, only in dev
 * mode and with no key set, unsigned. Outside dev mode with no key it
 * refuses (`signing_key_missing`) before any call.
 */
export function callOptions(env: Env, config: EngineConfig): CallOptions {
  const { primary } = signingKeys(env, config);
  if (!primary && !isDevMode(env)) {
    throw new StepflareError(
      "signing_key_missing",
      "calling an app needs the Inngest signing key outside dev mode: set the secret INNGEST_SIGNING_KEY",
    );
  }
  return { signingKey: primary, timeoutMs: config.limits.stepTimeoutMs, service: (binding) => serviceBinding(env, config, binding) };
}
