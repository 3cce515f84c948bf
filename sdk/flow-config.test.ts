import { describe, expect, it } from "vitest";
import { parseCron } from "./cron";
import { defineFunction } from "./function";

const handler = () => "ok";
const define = (extra: Record<string, unknown>, triggers: unknown[] = [{ event: "a/b" }]) =>
  defineFunction({ id: "fn", triggers, ...extra } as Parameters<typeof defineFunction>[0], handler);
const refused = (extra: Record<string, unknown>, code: string, field: RegExp, triggers?: unknown[]) =>
  expect(() => define(extra, triggers)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(field) }));

describe("event-side flow control config", () => {
  it("takes Inngest's shapes, durations as ms or strings", () => {
    const fn = define(
      {
        rateLimit: { limit: 10, period: "1h", key: "event.data.accountId" },
        idempotency: "event.data.userId",
        batchEvents: { maxSize: 100, timeout: "5s", key: "event.data.tenant" },
      },
      [{ event: "a/b", if: "event.data.amount > 10" }, { cron: "TZ=Europe/Paris 0 9 * * 1-5" }],
    );
    expect(fn.config.rateLimit).toEqual({ limit: 10, period: 3_600_000, key: "event.data.accountId" });
    expect(fn.config.batchEvents?.timeout).toBe(5000);
    expect(define({ debounce: { period: 2000, timeout: "1m" }, singleton: undefined }).config.debounce).toEqual({
      period: 2000,
      timeout: 60_000,
    });
    expect(define({ singleton: { mode: "cancel" } }).config.singleton).toEqual({ mode: "cancel" });
  });

  it("refuses a bad key or filter (invalid_expression), cron (invalid_cron) or period (invalid_duration), naming the field", () => {
    refused({ rateLimit: { limit: 1, period: "1m", key: "event.data ==" } }, "invalid_expression", /"fn": rateLimit\.key: /);
    refused({ idempotency: "" }, "invalid_expression", /idempotency: /);
    refused({}, "invalid_expression", /triggers\.0\.if: /, [{ event: "a/b", if: "((" }]);
    refused({}, "invalid_cron", /triggers\.0\.cron: /, [{ cron: "61 * * * *" }]);
    refused({}, "invalid_cron", /unknown time zone/, [{ cron: "TZ=Mars/Olympus 0 9 * * *" }]);
    refused({}, "invalid_cron", /triggers\.0\.cron: /, [{ cron: "0 0 9 * * *" }]); // six fields: seconds are not Inngest's
    refused({ batchEvents: { maxSize: 10, timeout: "2m" } }, "invalid_duration", /batchEvents\.timeout: a timeout is 1 s to 60 s/);
    refused({ debounce: { period: "100ms" } }, "invalid_duration", /debounce\.period/);
  });

  it("refuses limits out of range and options that cannot go together (invalid_function)", () => {
    refused({ rateLimit: { limit: 0, period: "1m" } }, "invalid_function", /rateLimit\.limit/);
    refused({ batchEvents: { maxSize: 101, timeout: "1s" } }, "invalid_function", /batchEvents\.maxSize/);
    refused({ singleton: { mode: "replace" } }, "invalid_function", /singleton\.mode/);
    refused(
      { debounce: { period: "1s" }, batchEvents: { maxSize: 2, timeout: "1s" } },
      "invalid_function",
      /batchEvents: cannot be combined with debounce/,
    );
    refused({ debounce: { period: "1s" }, singleton: { mode: "skip" } }, "invalid_function", /singleton: cannot be combined with debounce/);
  });
});

describe("parseCron", () => {
  it("fires in the minutes its fields name, in UTC unless TZ= says", () => {
    const weekdays = parseCron("0 9 * * 1-5", "cron");
    expect(weekdays.firesAt(Date.UTC(2031, 0, 6, 9, 0))).toBe(true); // Monday
    expect(weekdays.firesAt(Date.UTC(2031, 0, 4, 9, 0))).toBe(false); // Saturday
    const paris = parseCron("TZ=Europe/Paris 0 9 * * 1-5", "cron");
    expect(paris.firesAt(Date.UTC(2031, 0, 6, 8, 0))).toBe(true); // 9:00 CET
    expect(paris.firesAt(Date.UTC(2031, 6, 7, 7, 0))).toBe(true); // 9:00 CEST
    expect(paris.firesAt(Date.UTC(2031, 0, 6, 9, 0))).toBe(false);
  });
});
