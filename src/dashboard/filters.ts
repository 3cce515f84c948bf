import { z } from "zod";

/**
 * A time typed in a filter: as the API takes it (ISO with an offset, or epoch
 * ms), or a date and time with no offset (what a browser's datetime field
 * gives), read as UTC. Anything else goes to the API as typed, which names it.
 */
export function normalizeTime(value: string | undefined): string | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(v)) return `${v}:00Z`;
  if (/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?$/.test(v)) return `${v.replace(" ", "T")}Z`;
  return v;
}

const text = (max: number) => z.string().max(max).optional().catch(undefined);

/** The runs page's query: the API's filters, typed loosely (the API validates them) and its cursor. */
export const runsPageQuery = z.object({
  functionId: text(128),
  status: text(32),
  since: text(64),
  until: text(64),
  cursor: text(512),
});

export const eventsPageQuery = z.object({ q: text(256), cursor: text(512) });

export const deadLettersPageQuery = z.object({
  functionId: text(128),
  code: text(512),
  since: text(64),
  until: text(64),
  cursor: text(512),
});

/** Which page of a run's steps to show, 1 when absent or not a number. */
export const runPageQuery = z.object({
  steps: z.coerce.number().int().min(1).max(100_000).catch(1),
  replayed: text(16),
});

export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
