import { describe, expect, it } from "vitest";
import { callBody } from "./protocol";
import { canonicalJson, hashedSigningKey, signatureHeader, signBody, verifySignature } from "./signature";

// Reference values computed with the `inngest` SDK's own signDataWithKey and hashSigningKey (v4.24.0).
const KEY = `signkey-test-${"ab12".repeat(16)}`;
const BODY = { steps: {}, event: { name: "a/b", data: { z: 1, a: [1, "x"] } }, ctx: { run_id: "r", attempt: 0 } };

describe("Inngest request signing", () => {
  it("signs a body as the SDK does after parsing and canonicalizing it", async () => {
    expect(await signBody(canonicalJson(BODY), KEY, 1_700_000_000)).toBe(
      "58a86180e194f3f92cb05c53025adc6cd03cbaca321255bbff893aa166b8440c",
    );
    expect(await signBody('{"ok":true}', KEY, 1_700_000_000)).toBe("5eb0cb8ccda6e2965c6960d18abefe244967547bb7fdd2cd6f51eaf2a21c5096");
  });

  it("derives the register call's bearer token as the SDK does", async () => {
    expect(await hashedSigningKey(KEY)).toBe("signkey-test-e13afe31f1a441bea7a7c3d67cb29ccc78fda4f7a4e10fd55a6817c48f88819e");
    await expect(hashedSigningKey("signkey-test-not-hex")).rejects.toThrow(/hex/);
  });

  it("verifies its own header, and refuses another key, another body, an old timestamp and a malformed header", async () => {
    const now = 1_800_000_000_000;
    const header = await signatureHeader("body", KEY, now);
    expect(await verifySignature(header, "body", KEY, now)).toBe(true);
    expect(await verifySignature(header, "body", `signkey-test-${"cd34".repeat(16)}`, now)).toBe(false);
    expect(await verifySignature(header, "body!", KEY, now)).toBe(false);
    expect(await verifySignature(header, "body", KEY, now + 6 * 60_000)).toBe(false);
    expect(await verifySignature(null, "body", KEY, now)).toBe(false);
    expect(await verifySignature("t=1&s=zz", "body", KEY, now)).toBe(false);
  });

  it("canonical JSON sorts keys at every depth and drops undefined fields", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"e":2,"f":1}]},"b":1}');
    const text = canonicalJson(
      callBody({ event: {}, events: [], steps: new Map(), runId: "r", attempt: 0, maxAttempts: 1, disableImmediateExecution: true }),
    );
    expect(canonicalJson(JSON.parse(text))).toBe(text);
  });
});
