/**
 * Inngest's request signing, on the app's side: `X-Inngest-Signature:
 * t=<unix seconds>&s=<hex HMAC-SHA256 of body + t>`, keyed with the signing
 * key without its `signkey-<env>-` prefix. The engine signs its calls and
 * verifies the answers with these too (src/remote/signature.ts).
 */

export const PREFIX = /^signkey-\w+-/;
/** A signature older or newer than this is refused, as the engine and Inngest's SDKs refuse one. */
const MAX_SKEW_S = 5 * 60;

const encoder = new TextEncoder();

export const hex = (bytes: ArrayBuffer): string => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key of a signing key, imported once per key. */
function hmacKey(signingKey: string): Promise<CryptoKey> {
  const raw = signingKey.replace(PREFIX, "");
  let key = keys.get(raw);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(raw), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(raw, key);
  }
  return key;
}

/** The hex HMAC of `body` followed by the timestamp, as Inngest's SDKs compute it. */
export async function signBody(body: string, signingKey: string, ts: number): Promise<string> {
  return hex(await crypto.subtle.sign("HMAC", await hmacKey(signingKey), encoder.encode(`${body}${ts}`)));
}

/** The `X-Inngest-Signature` header for a body sent now. */
export async function signatureHeader(body: string, signingKey: string, nowMs = Date.now()): Promise<string> {
  const ts = Math.floor(nowMs / 1000);
  return `t=${ts}&s=${await signBody(body, signingKey, ts)}`;
}

/** Whether `header` signs `body` with one of `keys`, within five minutes of now. */
export async function verifySignature(header: string | null, body: string, keys: string[], nowMs = Date.now()): Promise<boolean> {
  if (!header) return false;
  const params = new URLSearchParams(header);
  const ts = Number(params.get("t"));
  const s = params.get("s") ?? "";
  if (!Number.isInteger(ts) || !/^[0-9a-f]{64}$/.test(s) || Math.abs(nowMs / 1000 - ts) > MAX_SKEW_S) return false;
  const given = new Uint8Array(s.match(/../g)!.map((b) => Number.parseInt(b, 16)));
  for (const key of keys) {
    if (await crypto.subtle.verify("HMAC", await hmacKey(key), given, encoder.encode(`${body}${ts}`))) return true;
  }
  return false;
}
