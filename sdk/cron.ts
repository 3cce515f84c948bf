import { Cron } from "croner";
import { StepflareError } from "./errors";

/** A parsed cron trigger: its five fields and the time zone they are read in (UTC unless `TZ=` says). */
export interface CronSchedule {
  /** True when the schedule fires in the minute that starts at `minute` (epoch ms). */
  firesAt(minute: number): boolean;
}

const TZ_PREFIX = /^\s*(?:TZ|CRON_TZ)=(\S+)\s+(.*)$/;

/**
 * Parses a cron trigger as Inngest writes it: five fields (minute, hour,
 * day of month, month, day of week), optionally after `TZ=<IANA zone> `, as in
 * `"TZ=Europe/Paris 0 9 * * 1-5"`. Parsing is croner's; anything it refuses,
 * a seconds field, or an unknown zone throws `invalid_cron`.
 */
export function parseCron(text: unknown, what: string): CronSchedule {
  if (typeof text !== "string" || text.length > 256) throw new StepflareError("invalid_cron", `${what}: a cron is a string of five fields`);
  const tz = TZ_PREFIX.exec(text);
  const timezone = tz?.[1];
  const pattern = (tz?.[2] ?? text).trim();
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: timezone });
    } catch {
      throw new StepflareError("invalid_cron", `${what}: unknown time zone ${JSON.stringify(timezone)}`);
    }
  }
  let cron: Cron;
  try {
    cron = new Cron(pattern, { paused: true, mode: "5-part", ...(timezone ? { timezone } : { timezone: "UTC" }) });
  } catch (e) {
    throw new StepflareError("invalid_cron", `${what}: ${(e as Error).message}`);
  }
  return { firesAt: (minute) => cron.match(new Date(minute)) };
}
