import { derivedUlid } from "../shared/ulid";

/**
 * Inngest's clients send `x-inngest-event-id-seed: <ms>,<base64 entropy>` and
 * reuse it when they retry a send whose answer was lost. Ids derived from the
 * seed and the event's index are then the same on every attempt, so the
 * retry is deduplicated instead of starting every run twice.
 */
export interface IdSeed {
  ms: number;
  entropy: string;
}

const SEED = /^(\d{1,15}),([A-Za-z0-9+/=_-]{4,128})$/;

export function parseIdSeed(header: string | undefined | null): IdSeed | undefined {
  const m = header ? SEED.exec(header.trim()) : null;
  if (!m) return undefined;
  const ms = Number(m[1]);
  return Number.isSafeInteger(ms) ? { ms, entropy: m[2]! } : undefined;
}

/** The id of the event at `index` in a seeded request. */
export const seededEventId = (seed: IdSeed, index: number): Promise<string> => derivedUlid(seed.ms, "event", seed.entropy, String(index));
