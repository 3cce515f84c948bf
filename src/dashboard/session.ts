/**
 * The dashboard's session and CSRF tokens. Neither holds the API key: a
 * session is its issue time and an HMAC of it keyed by the key, so it proves
 * the key was given without carrying it, and rotating the key ends every
 * session. A CSRF token is an HMAC of the session, keyed the same way.
 */

export const SESSION_COOKIE = "stepflare_session";
/** A session lasts this long after the key was given. */
export const SESSION_MS = 12 * 60 * 60 * 1000;
// Dev mode has no key and no session; forms still carry a token derived from these.
const DEV_KEY = "stepflare-dev-mode";
const DEV_SESSION = "dev";

const encoder = new TextEncoder();

const base64url = (bytes: ArrayBuffer): string =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/=+$/, "")
    .replace(/\+/g, "-")
    .replace(/\//g, "_");

function fromBase64url(text: string): Uint8Array | undefined {
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
}

const hmacKey = (secret: string) =>
  crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);

async function sign(secret: string, purpose: string, value: string): Promise<string> {
  return base64url(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${purpose}\n${value}`)));
}

async function verify(secret: string, purpose: string, value: string, mac: string): Promise<boolean> {
  const bytes = fromBase64url(mac);
  if (!bytes) return false;
  return crypto.subtle.verify("HMAC", await hmacKey(secret), bytes, encoder.encode(`${purpose}\n${value}`));
}

/** A new session token for a key that was just checked. */
export async function issueSession(apiKey: string, now = Date.now()): Promise<string> {
  return `${now}.${await sign(apiKey, "stepflare-dashboard-session", String(now))}`;
}

/** Whether a session token was issued with this key and has not expired. */
export async function sessionValid(apiKey: string, token: string, now = Date.now()): Promise<boolean> {
  const match = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return false;
  const issued = Number(match[1]);
  if (issued > now + 60_000 || now - issued > SESSION_MS) return false;
  return verify(apiKey, "stepflare-dashboard-session", match[1]!, match[2]!);
}

/** The CSRF token every form of this session carries (dev mode: `apiKey` and `session` undefined). */
export const csrfToken = (apiKey: string | undefined, session: string | undefined): Promise<string> =>
  sign(apiKey ?? DEV_KEY, "stepflare-dashboard-csrf", session ?? DEV_SESSION);

export const csrfValid = (apiKey: string | undefined, session: string | undefined, token: string): Promise<boolean> =>
  verify(apiKey ?? DEV_KEY, "stepflare-dashboard-csrf", session ?? DEV_SESSION, token);

/**
 * Whether a state-changing request comes from a page of this origin: an
 * `Origin` naming another origin, or `Sec-Fetch-Site` saying cross-site or
 * same-site (another subdomain), is refused.
 */
export function sameOrigin(requestUrl: string, headers: Headers): boolean {
  const origin = headers.get("origin");
  if (origin !== null && origin !== new URL(requestUrl).origin) return false;
  const site = headers.get("sec-fetch-site");
  return site === null || site === "same-origin" || site === "none";
}
