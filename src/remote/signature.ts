/**
 * Inngest's request signing, as its SDKs verify it: `X-Inngest-Signature:
 * t=<unix seconds>&s=<hex HMAC-SHA256 of body + t>`, keyed with the signing
 * key without its `signkey-<env>-` prefix; the SDK's register call carries
 * `Authorization: Bearer <prefix + SHA-256 of the key's hex bytes>`. The
 * HMAC itself is sdk/signature.ts's, which `serve()` signs with too.
 */

import { hex, PREFIX, signatureHeader, signBody, verifySignature as verifyWithKeys } from "../../sdk/signature";

export { signatureHeader, signBody };

/** Whether `header` signs `body` with `signingKey`, within five minutes of now. */
export const verifySignature = (header: string | null, body: string, signingKey: string, nowMs = Date.now()): Promise<boolean> =>
  verifyWithKeys(header, body, [signingKey], nowMs);

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
