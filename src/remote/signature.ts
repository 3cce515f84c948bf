/**
 * Inngest's request signing, as its SDKs verify it: `X-Inngest-Signature:
 * t=<unix seconds>&s=<hex HMAC-SHA256 of body + t>`, keyed with the signing
 * key without its `signkey-<env>-` prefix; the SDK's register call carries
 * `Authorization: Bearer <prefix + SHA-256 of the key's hex bytes>`.
 */

const PREFIX = /^signkey-\w+-/;
/** A signature older or newer than this is refused, as the SDK refuses one. */
const MAX_SKEW_S = 5 * 60;

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

const hex = (bytes: ArrayBuffer): string => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

function hmacKey(signingKey: string): Promise<CryptoKey> {
  const raw = signingKey.replace(PREFIX, "");
  let key = keys.get(raw);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(raw), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(raw, key);
  }
  return key;
}

/** The hex HMAC of `body` followed by the timestamp, as the SDK computes it. */
export async function signBody(body: string, signingKey: string, ts: number): Promise<string> {
  return hex(await crypto.subtle.sign("HMAC", await hmacKey(signingKey), encoder.encode(`${body}${ts}`)));
}

/** The `X-Inngest-Signature` header for a request body sent now. */
export async function signatureHeader(body: string, signingKey: string, nowMs = Date.now()): Promise<string> {
  const ts = Math.floor(nowMs / 1000);
  return `t=${ts}&s=${await signBody(body, signingKey, ts)}`;
}

/** Whether `header` signs `body` with `signingKey`, within five minutes of now. Constant-time in the compared bytes. */
export async function verifySignature(header: string | null, body: string, signingKey: string, nowMs = Date.now()): Promise<boolean> {
  if (!header) return false;
  const params = new URLSearchParams(header);
  const ts = Number(params.get("t"));
  const s = params.get("s") ?? "";
  if (!Number.isInteger(ts) || !/^[0-9a-f]{64}$/.test(s) || Math.abs(nowMs / 1000 - ts) > MAX_SKEW_S) return false;
  const given = new Uint8Array(s.match(/../g)!.map((b) => Number.parseInt(b, 16)));
  return crypto.subtle.verify("HMAC", await hmacKey(signingKey), given, encoder.encode(`${body}${ts}`));
}

/** What the SDK sends as its register call's bearer token: the prefix, then SHA-256 of the key read as hex. */
export async function hashedSigningKey(signingKey: string): Promise<string> {
  const prefix = signingKey.match(PREFIX)?.[0] ?? "";
  const raw = signingKey.slice(prefix.length);
  if (!/^([0-9a-fA-F]{2})*$/.test(raw)) throw new TypeError("the Inngest signing key must be hex after its signkey-<env>- prefix");
  const bytes = new Uint8Array(raw.match(/../g)?.map((b) => Number.parseInt(b, 16)) ?? []);
  return `${prefix}${hex(await crypto.subtle.digest("SHA-256", bytes))}`;
}

/**
 * JSON with object keys sorted, as the SDK canonicalizes a parsed request
 * body before checking its signature (RFC 8785 for JSON-safe values).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}
