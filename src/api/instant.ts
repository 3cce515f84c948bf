import { z } from "zod";

const isoDateTime = z.iso.datetime({ offset: true });
const EPOCH_DIGITS = /^\d{1,16}$/;

export const INSTANT_MESSAGE =
  "expected epoch milliseconds (a non-negative integer) or an ISO 8601 date-time with Z or an offset, such as 2024-05-01T12:00:00Z";

/**
 * A time filter's value as epoch milliseconds, or undefined when it is not
 * one of exactly two forms: a non-negative integer of epoch milliseconds
 * (digits only in a query string, a JSON number in a body) or a strict ISO
 * 8601 date-time (a real calendar date, with `Z` or an offset). Anything
 * looser ("", "1.5", "2024-02-30T00:00:00Z", "foo 12", null, true) is refused
 * rather than read as some time.
 */
export function parseInstant(value: unknown, from: "query" | "body"): number | undefined {
  if (typeof value === "number") return from === "body" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  if (EPOCH_DIGITS.test(value)) {
    const ms = Number(value);
    return from === "query" && Number.isSafeInteger(ms) ? ms : undefined;
  }
  return isoDateTime.safeParse(value).success ? Date.parse(value) : undefined;
}

/** A zod schema for a time filter read from a query string or a JSON body, giving epoch milliseconds. */
export const instant = (from: "query" | "body") =>
  z
    .unknown()
    .transform((value, ctx) => {
      const ms = parseInstant(value, from);
      if (ms !== undefined) return ms;
      ctx.addIssue({ code: "custom", message: INSTANT_MESSAGE });
      return z.NEVER;
    })
    .meta({
      jsonSchema: {
        oneOf: [
          { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          { type: "string", format: "date-time" },
        ],
        description: `epoch milliseconds (${from === "query" ? "digits" : "a JSON number"}) or an ISO 8601 date-time with Z or an offset`,
      },
    });
