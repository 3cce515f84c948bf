/** A run's listing row, as its object answered or sent it. */
export interface ListingRow {
  id: string;
  functionId: string;
  eventId: string;
  status: string;
  startedAt: number;
  endedAt: number | null;
  errorCode: string | null;
  version: number;
}

/** A listing row as the API reads it. */
export interface ListedRun {
  id: string;
  function_id: string;
  event_id: string;
  status: string;
  started_at: number;
  ended_at: number | null;
  error_code: string | null;
}

/**
 * The version of a held run's row: a debounced run that has no object yet.
 * Below a skipped row's (0) and any started run's, so either replaces it.
 */
export const HELD_VERSION = -1;

/** The error code of a run listed as running whose object holds no run: its storage was lost while the listing kept the row. */
export const RUN_MISSING = "run_missing";

/** The statuses of a run not ended. */
export const NOT_ENDED = ["running", "sleeping", "waiting", "queued"] as const;

/** How long rows of runs ended with each status are kept, as the newest end time to delete. */
export interface PruneBefore {
  completed: number;
  failed: number;
  cancelled: number;
}
