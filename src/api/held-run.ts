import { HELD_VERSION, type ListedRun } from "../listing/rows";

/** Why flow control skipped a run, by its listed code. */
const SKIPPED_BECAUSE: Record<string, string> = {
  function_paused: "the function was paused when its event came",
  idempotency_duplicate: "a run of the same idempotency key started within 24 hours",
  rate_limited: "the function's rateLimit was reached for this key",
  singleton_skipped: "a run of the same singleton key was going",
  debounced: "a later event of the same debounce key superseded this one",
};

/**
 * The detail of a run that has a listing row but no object: one flow control
 * skipped, or a run held by its debounce or its batch until it starts
 * (`queued.reason`: `debounce` or `batch`). Shaped as a run's
 * detail, with no steps; `skipped` or `queued` says why.
 */
export function heldRunDetail(row: ListedRun & { version: number }) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const base = { id: row.id, functionId: row.function_id, eventId: row.event_id, status: row.status };
  if (row.status === "skipped") {
    const code = row.error_code ?? "skipped";
    return {
      ...base,
      skipped: { reason: code, message: SKIPPED_BECAUSE[code] ?? "flow control skipped it" },
      attempt: 0,
      startedAt: iso(row.started_at),
      ...(row.ended_at !== null ? { endedAt: iso(row.ended_at) } : {}),
      steps: [],
    };
  }
  if (row.version === HELD_VERSION) {
    return {
      ...base,
      queued: { reason: row.error_code ?? "debounce", since: iso(row.started_at) },
      attempt: 0,
      startedAt: iso(row.started_at),
      steps: [],
    };
  }
  return null;
}
