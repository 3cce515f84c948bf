import { compileValue, type StepflareFunction, type ValueOf } from "../../sdk/internal";

/** The event-side flow keys of one function, compiled once per engine (the config is frozen, so they live here). */
interface CompiledKeys {
  rateLimit?: ValueOf;
  debounce?: ValueOf;
  batchEvents?: ValueOf;
  singleton?: ValueOf;
  idempotency?: ValueOf;
}

export type KeyedOption = keyof CompiledKeys;

const compiled = new WeakMap<StepflareFunction, CompiledKeys>();

function keysOf(fn: StepflareFunction): CompiledKeys {
  let keys = compiled.get(fn);
  if (keys) return keys;
  const c = fn.config;
  keys = {};
  if (c.rateLimit?.key) keys.rateLimit = compileValue(c.rateLimit.key, "rateLimit.key");
  if (c.debounce?.key) keys.debounce = compileValue(c.debounce.key, "debounce.key");
  if (c.batchEvents?.key) keys.batchEvents = compileValue(c.batchEvents.key, "batchEvents.key");
  if (c.singleton?.key) keys.singleton = compileValue(c.singleton.key, "singleton.key");
  if (c.idempotency) keys.idempotency = compileValue(c.idempotency, "idempotency");
  compiled.set(fn, keys);
  return keys;
}

/**
 * The value of one option's key for an event, as text: a string as it is,
 * any other value as JSON. No key, or one that does not evaluate (a missing
 * field), is `""`: every such event shares one bucket.
 */
export function flowKey(fn: StepflareFunction, option: KeyedOption, event: unknown): string {
  const key = keysOf(fn)[option];
  if (!key) return "";
  return keyText(key({ event }));
}

export function keyText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "bigint") return value.toString();
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return "";
  }
}
