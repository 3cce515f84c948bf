import ms from "ms";
import { StepflareError } from "./errors";

/** The longest a step may sleep: one year, as `ms` counts it (365.25 days). */
export const MAX_SLEEP_MS = ms("1y");

const PART = /(\d+(?:\.\d+)?)\s*([a-zA-Z]*)/g;
const WHOLE = /^\s*(?:\d+(?:\.\d+)?\s*[a-zA-Z]*\s*)+$/;

/**
 * A sleep's duration in milliseconds: a number of milliseconds, or a string
 * of one or more parts `ms` reads ("500ms", "30s", "5m", "2h", "7d", "1h30m").
 * Anything else, a negative time, or more than a year throws `invalid_duration`.
 */
export function durationMs(duration: unknown, what: string): number {
  let total: number | undefined;
  if (typeof duration === "number") total = duration;
  else if (typeof duration === "string" && WHOLE.test(duration)) {
    total = 0;
    for (const [, n, unit] of duration.matchAll(PART)) {
      const part = ms(`${n}${unit}` as ms.StringValue);
      if (typeof part !== "number" || Number.isNaN(part)) {
        total = undefined;
        break;
      }
      total += part;
    }
  }
  if (total === undefined || !Number.isFinite(total) || total < 0) {
    throw new StepflareError("invalid_duration", `${what}: a duration is milliseconds or a string such as "30s", "5m", "1h30m"`);
  }
  if (total > MAX_SLEEP_MS) throw new StepflareError("invalid_duration", `${what}: at most one year (${MAX_SLEEP_MS} ms)`);
  return Math.round(total);
}

/** A wake time given as a Date, an ISO 8601 string or epoch milliseconds; at most a year ahead of `now`. */
export function wakeTimeMs(when: unknown, now: number, what: string): number {
  const at =
    when instanceof Date ? when.getTime() : typeof when === "number" ? when : typeof when === "string" ? isoTime(when) : Number.NaN;
  if (!Number.isFinite(at)) {
    throw new StepflareError("invalid_duration", `${what}: a time is a Date, an ISO 8601 string or epoch milliseconds`);
  }
  if (at - now > MAX_SLEEP_MS) throw new StepflareError("invalid_duration", `${what}: at most one year ahead`);
  return Math.round(at);
}

// ISO 8601 with a date; Date.parse alone also takes forms like "March 7".
const isoTime = (s: string): number => (/^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : Number.NaN);
