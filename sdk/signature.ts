/**
 * Inngest's request signing, on the app's side: `X-Inngest-Signature:
 * t=<unix seconds>&s=<hex HMAC-SHA256 of body + t>`, keyed with the signing
 * key without its `signkey-<env>-` prefix. The engine signs its calls the
 * same way (src/remote/signature.ts) and verifies the answers.
 */

const PREFIX = /^signkey-\w+-/;
/** A signature older or newer than this is refused, as the engine and Inngest's SDKs refuse one. */
const MAX_SKEW_S = 5 * 60;

const encoder = new TextEncoder();

const hex = (bytes: ArrayBuffer): string => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

const hmacKey = (signingKey: string): Promise<CryptoKey> =>
  crypto.subtle.importKey("raw", encoder.encode(signingKey.replace(PREFIX, "")), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);

/** The `X-Inngest-Signature` header for a body sent now. */
export async function signatureHeader(body: string, signingKey: string, nowMs = Date.now()): Promise<string> {
  const ts = Math.floor(nowMs / 1000);
  return `t=${ts}&s=${hex(await crypto.subtle.sign("HMAC", await hmacKey(signingKey), encoder.encode(`${body}${ts}`)))}`;
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
