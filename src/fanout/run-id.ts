import { derivedUlid } from "../shared/ulid";

/**
 * A run's id, derived from the function, the event and when the event was
 * accepted: a redelivered message or a sweep of the same acceptance names the
 * same run, so creation is idempotent. Sortable by acceptance time.
 */
export const runIdFor = (functionId: string, eventId: string, acceptedAt: number): Promise<string> =>
  derivedUlid(acceptedAt, "run", functionId, eventId, String(acceptedAt));
