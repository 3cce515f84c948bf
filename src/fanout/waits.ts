import { valueAt } from "../../sdk/internal";
import { deleteWait, matchPathsOf, waitsFor } from "../d1/waits";
import type { Env } from "../env";
import type { StoredEvent } from "../messages/events";

/**
 * Offers an event to the runs waiting for it: for each `match` path the
 * waits on its name use, only the waits whose trigger had the event's value
 * there, found by index (their number does not grow with the runs waiting
 * on other values). A wait that took the event, or is over, leaves the index.
 * `pathsByName` is the paths of a whole delivery's names, read once for it.
 */
export async function resumeWaits(env: Env, event: StoredEvent, now: number, pathsByName?: Promise<Map<string, string[]>>): Promise<void> {
  const paths = (await (pathsByName ?? matchPathsOf(env.DB, [event.name]))).get(event.name) ?? [];
  if (paths.length === 0) return;
  const eventJson = JSON.stringify(event);
  for (const path of paths) {
    const value = path === "" ? "" : valueAt(event, path);
    if (value === undefined) continue;
    const waits = await waitsFor(env.DB, event.name, path, path === "" ? "" : JSON.stringify(value), now);
    await Promise.all(
      waits.map(async ({ runId, stepKey }) => {
        const answer = await env.RUNS.get(env.RUNS.idFromName(runId)).offerEvent(stepKey, eventJson);
        if (answer !== "refused") await deleteWait(env.DB, runId, stepKey);
      }),
    );
  }
}
