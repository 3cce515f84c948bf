import type { EngineConfig } from "../config";
import { pausedFunctions } from "../d1/pauses";
import type { Env } from "../env";
import { claimAcceptances, dedupeOf, storeEvents } from "../events/store";
import { admitRun } from "../fanout/admit";
import { runIdFor } from "../fanout/run-id";
import type { ListingRow } from "../listing/rows";
import { writeListing } from "../listing/store";
import type { StoredEvent } from "../messages/events";
import { isRemote } from "../remote/registry";
import { derivedUlid } from "../shared/ulid";

/** The event a cron trigger's run starts with, as in Inngest (`inngest/scheduled.timer`). */
export const SCHEDULED_EVENT = "stepflare/scheduled.timer";

const MINUTE_MS = 60_000;

/**
 * The Worker's scheduled handler (a Cron Trigger every minute): starts each
 * function whose cron fires in the scheduled minute, with an event of its
 * own, stored like any other. The event's and the run's ids derive from the
 * function, the cron and the minute, so a second delivery of the same
 * minute starts nothing more. Flow control applies as for an event.
 */
export async function runSchedules(scheduledTime: number, env: Env, config: EngineConfig): Promise<void> {
  const minute = Math.floor(scheduledTime / MINUTE_MS) * MINUTE_MS;
  // Remote functions' crons too; a failed read of them leaves the engine's own crons to fire.
  const remote = await config.remote.registry(env.DB).catch((e: Error) => {
    console.error("stepflare: reading the remote functions for the cron failed; this minute runs only the engine's own:", e.message);
    return undefined;
  });
  const due = [...config.registry.crons(), ...(remote?.crons() ?? [])].filter((c) => c.schedule.firesAt(minute));
  if (due.length === 0) return;
  const paused = await pausedFunctions(env.DB);
  const starts = await Promise.all(
    due.map(async ({ fn, cron }) => {
      const functionId = fn.config.id;
      const event: StoredEvent = {
        id: await derivedUlid(minute, "cron", functionId, cron),
        name: SCHEDULED_EVENT,
        data: { cron },
        ts: minute,
      };
      return { fn, event, runId: await runIdFor(functionId, event.id, minute) };
    }),
  );
  // Stored (dispatched: the engine starts the runs itself) and indexed by id first, so each run's event is
  // there for the API to show, whatever happens to the starts. A second delivery of the minute changes nothing.
  await storeEvents(
    env,
    starts.map((s) => ({ id: s.event.id, name: s.event.name, payload: JSON.stringify(s.event), acceptedAt: minute, dispatchedAt: minute })),
  );
  await claimAcceptances(
    env,
    starts.map((s): [string, number] => [s.event.id, minute]),
    dedupeOf(config),
  );
  const results = await Promise.allSettled(
    starts.map(({ fn, event, runId }) =>
      admitRun(
        env,
        fn,
        { runId, functionId: fn.config.id, event, acceptedAt: minute, ...(isRemote(fn) ? { remote: fn.remote } : {}) },
        paused.has(fn.config.id),
      ),
    ),
  );
  const listing = results.flatMap((r) => (r.status === "fulfilled" && r.value ? [r.value] : [])) as ListingRow[];
  if (listing.length > 0) await writeListing(env, listing);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) {
    // Cron Triggers are not retried: the error is logged, and the next minute's schedule is unaffected.
    throw new Error(`stepflare: ${failed.length} scheduled run(s) failed to start: ${(failed[0]!.reason as Error)?.message}`);
  }
}
