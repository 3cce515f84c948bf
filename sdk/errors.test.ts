import { describe, expect, it } from "vitest";
import { isNonRetriable, MAX_RETRY_AFTER_MS, RetryAfterError, retryAfterMsOf, serializeError } from "./errors";

describe("RetryAfterError", () => {
  it("takes a delay up to 365 days ahead and refuses one further", () => {
    expect(new RetryAfterError("later", MAX_RETRY_AFTER_MS).retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    for (const bad of [MAX_RETRY_AFTER_MS + 1, new Date(8.64e15), Number.NaN, new Date(Number.NaN)]) {
      let thrown: unknown;
      try {
        new RetryAfterError("later", bad);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ name: "StepflareError", code: "invalid_retry_after" });
      expect(isNonRetriable(thrown)).toBe(true);
    }
  });
  it("is read back only with a delay in range; a forged one takes the usual backoff", () => {
    expect(retryAfterMsOf(new RetryAfterError("later", 5000))).toBe(5000);
    const forged = Object.assign(new Error("x"), { name: "RetryAfterError", retryAfterMs: 1e16 });
    expect(retryAfterMsOf(forged)).toBeUndefined();
    expect(retryAfterMsOf(Object.assign(new Error("x"), { name: "RetryAfterError", retryAfterMs: -1 }))).toBeUndefined();
  });
});

describe("serializeError", () => {
  it("clips an Error's name like its code, so a huge name cannot push a record past the message limits", () => {
    const e = new Error("m");
    e.name = "N".repeat(1_000_000);
    const out = serializeError(e);
    expect(out.name.length).toBeLessThan(300);
    expect(out.name.startsWith("N".repeat(256))).toBe(true);
  });
  it("never clips between the halves of a surrogate pair", () => {
    const out = serializeError(new Error(`${"a".repeat(4095)}😀 and more`));
    expect(out.message).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(out.message.startsWith(`${"a".repeat(4095)}…`)).toBe(true);
    expect(out.message.endsWith("[11 more characters]")).toBe(true);
  });
  it("keeps a numeric code as text", () => {
    expect(serializeError(Object.assign(new Error("unavailable"), { code: 503 }))).toMatchObject({ message: "unavailable", code: "503" });
  });
  it("keeps the name, message and code of an error-shaped object thrown as is", () => {
    expect(serializeError({ name: "ApiError", message: "quota", code: "E_QUOTA" })).toEqual({
      name: "ApiError",
      message: "quota",
      code: "E_QUOTA",
    });
    expect(serializeError({ reason: "x" })).toEqual({ name: "Error", message: '{"reason":"x"}' });
  });
});
