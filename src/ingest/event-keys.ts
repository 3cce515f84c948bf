import { type Env, isDevMode } from "../env";
import { HttpError } from "../shared/http-error";

const encoder = new TextEncoder();

async function digest(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(s)));
}

/** Compares secrets without an early exit on the first differing byte. */
export async function secretEquals(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Accepts any key in dev mode; otherwise only the keys in EVENT_KEYS. The
 * answer is the same whatever the reason, and the key is never echoed.
 */
export async function checkEventKey(env: Env, key: string): Promise<void> {
  if (isDevMode(env)) return;
  const keys = (env.EVENT_KEYS ?? "").split(/[\s,]+/).filter(Boolean);
  let ok = false;
  for (const k of keys) if (await secretEquals(k, key)) ok = true;
  if (!ok) throw new HttpError(401, "unauthorized", "event key not accepted");
}
