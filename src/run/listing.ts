import type { Env } from "../env";
import type { ListingMessage } from "../messages/listing";
import { sendListing } from "../shared/queue-shards";
import type { RunState } from "./types";

/**
 * What a run object answers the sweeper about its listing row: it sent a newer
 * row, the listing is current, or it holds no run at all (its storage was
 * lost while D1 kept the row).
 */
export type ListingCheck = "resent" | "current" | "no-run";

/** The run's listing row, as this object knows it now. */
export const listingRow = (run: RunState): ListingMessage => ({
  v: 1,
  id: run.id,
  functionId: run.functionId,
  eventId: run.eventId,
  status: run.status,
  startedAt: run.startedAt,
  endedAt: run.endedAt,
  errorCode: run.error?.code ?? null,
  version: run.version,
});

/** Puts the run's listing row on its shard of the listing queue, whose consumer writes it to the listing with others. */
export const sendListingRow = (env: Env, run: RunState): Promise<void> => sendListing(env, [listingRow(run)]);
