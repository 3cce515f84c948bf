import type { IndexMessage } from "../listing/message";
import type { RunState } from "./types";

/**
 * What a run object answers the sweeper about its listing row: it sent a newer
 * row, the listing is current, or it holds no run at all (its storage was
 * lost while D1 kept the row).
 */
export type IndexCheck = "resent" | "current" | "no-run";

/** The run's listing row, as this object knows it now. */
export const indexRow = (run: RunState): IndexMessage => ({
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

/** Puts the run's listing row on the index queue, whose consumer writes it to D1 with others. */
export async function syncRunIndex(queue: Queue<IndexMessage>, run: RunState): Promise<void> {
  await queue.send(indexRow(run), { contentType: "json" });
}
