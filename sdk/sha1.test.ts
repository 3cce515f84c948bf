import { describe, expect, it } from "vitest";
import { sha1Hex } from "./sha1";

const subtle = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");

describe("sha1Hex", () => {
  it("matches Web Crypto's SHA-1 across block boundaries and non-ASCII text", async () => {
    const inputs = ["", "abc", "step", "charge:1", "a".repeat(55), "a".repeat(56), "b".repeat(64), "c".repeat(200), "naïve ✓ 🚀"];
    for (const text of inputs) expect(sha1Hex(text), JSON.stringify(text)).toBe(await subtle(text));
  });
});
