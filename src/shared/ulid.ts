/** Crockford base32, as ULIDs use: sortable as plain strings. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The 10-character time prefix of a ULID for `ms`. */
export function ulidTime(ms: number): string {
  let out = "";
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** 16 characters of base32 from the first 10 bytes of `bytes`. */
export function base32Tail(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | (bytes[i] ?? 0);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** A new unique, time-sortable id. */
export function ulid(now: number = Date.now()): string {
  return ulidTime(now) + base32Tail(crypto.getRandomValues(new Uint8Array(10)));
}

/** A deterministic, time-sortable id: the same parts always give the same id. */
export async function derivedUlid(ms: number, ...parts: string[]): Promise<string> {
  const text = parts.map((p) => `${p.length}:${p}`).join("|");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return ulidTime(ms) + base32Tail(digest);
}
